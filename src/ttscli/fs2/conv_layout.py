"""Run a loaded voice's 1-D convolutions as channels-last 2-D ones, for CPU inference.

torch hands a ``Conv1d`` on a CPU to oneDNN in the (batch, channels, time) layout, and
oneDNN first copies the input into its own channel-blocked layout and the output back:
two passes over memory for every convolution, at the generator's sample-level rates as
costly as a good part of the arithmetic. A height-1 ``Conv2d`` whose weight is stored
channels-last is run by oneDNN's kernels for (batch, time, channels) data without those
copies, and hands back a tensor in that layout. Element-wise steps between convolutions
(activations, residual sums) keep the layout, so after the first convolution a whole stack
runs without a copy; the transformer blocks' (batch, time, channels) tensors are already
in it. The arithmetic is the same; only the order of float additions can differ.

Only for inference on the CPU: the replaced modules hold 4-D weights, so a module swapped
here is not one to train or save.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _ChannelsLast(nn.Module):
    """A 1-D convolution's weight as a height-1 channels-last 4-D tensor, its bias, and its
    geometry along time (height is 1, so the other axis is untouched)."""

    def __init__(self, conv: nn.Conv1d | nn.ConvTranspose1d) -> None:
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("only explicit zero padding is supported")
        weight = conv.weight.detach().unsqueeze(2)
        self.weight = nn.Parameter(
            weight.contiguous(memory_format=torch.channels_last), requires_grad=False
        )
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach(), False)
        self.stride = (1, conv.stride[0])
        self.padding = (0, conv.padding[0])
        self.dilation = (1, conv.dilation[0])
        self.groups = conv.groups


class ChannelsLastConv1d(_ChannelsLast):
    """A ``Conv1d``'s weights, applied as a height-1 channels-last ``Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, time) in any layout -> the same, laid out (batch, time, channels)."""
        out = F.conv2d(
            x.unsqueeze(2), self.weight, self.bias, self.stride, self.padding, self.dilation,
            self.groups,
        )  # fmt: skip
        return out.squeeze(2)


class ChannelsLastConvTranspose1d(_ChannelsLast):
    """A ``ConvTranspose1d``'s weights, applied as a height-1 channels-last one in 2-D."""

    def __init__(self, conv: nn.ConvTranspose1d) -> None:
        super().__init__(conv)
        self.output_padding = (0, conv.output_padding[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv_transpose2d(
            x.unsqueeze(2), self.weight, self.bias, self.stride, self.padding,
            self.output_padding, self.groups, self.dilation,
        )  # fmt: skip
        return out.squeeze(2)


def helps_on(device: torch.device) -> bool:
    """Whether the swap saves anything here: the copies it avoids are oneDNN's, on the CPU
    (a torch built without oneDNN runs its convolutions another way, not measured)."""
    return device.type == "cpu" and torch.backends.mkldnn.is_available()


def convs_channels_last(module: nn.Module) -> int:
    """Swap, in place, every 1-D convolution under ``module`` for its channels-last twin.

    Returns how many were swapped. Call it on a module that will only run inference on
    the CPU, after its weights are loaded and moved.
    """
    swapped = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv1d:
                setattr(parent, name, ChannelsLastConv1d(child))
            elif type(child) is nn.ConvTranspose1d:
                setattr(parent, name, ChannelsLastConvTranspose1d(child))
            else:
                continue
            swapped += 1
    return swapped
