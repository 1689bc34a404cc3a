"""Building blocks of FastSpeech 2: FFT blocks, variance predictor, length regulator."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ttscli.fs2.config import PostNetConfig, TransformerConfig


def sinusoid_positions(length: int, channels: int, device: torch.device) -> torch.Tensor:
    """Sinusoidal position table (length, channels), computed on the fly so that any
    utterance length works without a stored maximum."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(
        torch.arange(0, channels, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / channels)
    )
    table = torch.zeros(length, channels, device=device)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div[: channels // 2])
    return table


def padding_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """True where a position is padding, (batch, max_length)."""
    max_length = int(lengths.max()) if max_length is None else max_length
    steps = torch.arange(max_length, device=lengths.device)
    return steps[None, :] >= lengths[:, None]


def frame_mean(values: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """Each utterance's mean over its frames (dimension 1), padding left out and the frame
    dimension kept, for ``values`` of (batch, frames) or (batch, frames, channels): what a
    contour or a mel is widened around, the same alone as in a padded batch."""
    keep = (~frame_mask).to(values.dtype)
    if values.dim() == 3:
        keep = keep.unsqueeze(-1)
    return (values * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1)


class FFTBlock(nn.Module):
    """Feed-forward Transformer block: self-attention and a two-layer 1-D conv network,
    each with residual connection and layer norm (post-norm, as in the paper)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(
            config.hidden, config.heads, dropout=config.dropout, batch_first=True
        )
        self.attention_norm = nn.LayerNorm(config.hidden)
        k1, k2 = config.conv_kernels
        self.conv1 = nn.Conv1d(config.hidden, config.conv_filter, k1, padding=(k1 - 1) // 2)
        self.conv2 = nn.Conv1d(config.conv_filter, config.hidden, k2, padding=(k2 - 1) // 2)
        self.conv_norm = nn.LayerNorm(config.hidden)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``attention_mask`` is ``mask``, or None when nothing is padded (see FFTStack)."""
        keep = (~mask).unsqueeze(-1).to(x.dtype)
        x = self.attention_norm(x + self.dropout(self._attend(x, attention_mask))) * keep
        hidden = self.conv2(F.relu(self.conv1(x.transpose(1, 2)))).transpose(1, 2)
        return self.conv_norm(x + self.dropout(hidden)) * keep

    def _attend(self, x: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """``self.attention``'s own weights through ``scaled_dot_product_attention``, each
        padded row on its own frames.

        Why not call the module: given a padding mask, ``nn.MultiheadAttention`` builds the
        whole (batch, heads, frames, frames) score tensor and its softmax. Attending row by
        row over each row's own length needs no mask, so the fused kernel works in blocks
        and wastes nothing on padding (a padded batch of eight 9-second lines took 1.2 s
        instead of 1.6 s, with a peak 101 MB instead of 161 MB above the loaded voice), and
        a line comes out the same whichever mini-batch it lands in, as it does alone. The
        weights (``in_proj_*``, ``out_proj``) are the module's.
        """
        mha = self.attention
        batch, frames, hidden = x.shape
        heads = mha.num_heads
        dropout = mha.dropout if self.training else 0.0
        q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.reshape(y.shape[0], -1, heads, hidden // heads).transpose(1, 2)

        def attend(rows: slice, length: int) -> torch.Tensor:
            out = F.scaled_dot_product_attention(
                split(q[rows, :length]), split(k[rows, :length]), split(v[rows, :length]),
                dropout_p=dropout,
            )  # fmt: skip
            return out.transpose(1, 2).reshape(-1, length, hidden)

        if attention_mask is None:
            return mha.out_proj(attend(slice(None), frames))
        lengths = (~attention_mask).sum(dim=1).tolist()
        out = x.new_zeros(batch, frames, hidden)
        for row, length in enumerate(lengths):
            out[row, :length] = attend(slice(row, row + 1), int(length))[0]
        return mha.out_proj(out)


class FFTStack(nn.Module):
    """Positional encoding followed by ``layers`` FFT blocks."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(FFTBlock(config) for _ in range(config.layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + sinusoid_positions(x.shape[1], x.shape[2], x.device).to(x.dtype)[None]
        # A mask with nothing masked (one sentence, or a batch of equal lengths) sends the
        # attention through a masked softmax that costs a quarter of inference on the CPU.
        # Decided once per stack: on a GPU the test waits for the device.
        attention_mask = mask if bool(mask.any()) else None
        for block in self.blocks:
            x = block(x, mask, attention_mask)
        return x


class VariancePredictor(nn.Module):
    """Two conv layers (ReLU, layer norm, dropout) and a linear projection, as the
    paper specifies for the duration, pitch and energy predictors alike."""

    def __init__(
        self, hidden: int, filter_size: int, kernel: int, dropout: float, outputs: int = 1
    ) -> None:
        super().__init__()
        pad = (kernel - 1) // 2
        self.conv1 = nn.Conv1d(hidden, filter_size, kernel, padding=pad)
        self.norm1 = nn.LayerNorm(filter_size)
        self.conv2 = nn.Conv1d(filter_size, filter_size, kernel, padding=pad)
        self.norm2 = nn.LayerNorm(filter_size)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(filter_size, outputs)
        self.outputs = outputs

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Padding is zeroed before each conv, as a lone utterance's conv padding is: without
        # it, the layer norm's output at padded positions would leak into the last real ones
        # and an utterance would be spoken differently depending on its batch mates.
        keep = (~mask).unsqueeze(-1).to(x.dtype)
        h = F.relu(self.conv1((x * keep).transpose(1, 2))).transpose(1, 2)
        h = self.dropout(self.norm1(h)) * keep
        h = F.relu(self.conv2(h.transpose(1, 2))).transpose(1, 2)
        h = self.dropout(self.norm2(h))
        out = self.linear(h).masked_fill(mask.unsqueeze(-1), 0.0)
        return out.squeeze(-1) if self.outputs == 1 else out


def regulate_length(
    x: torch.Tensor,
    durations: torch.Tensor,
    max_frames: int | None = None,
    round_up: Callable[[int], int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat each phoneme's hidden state ``durations`` times (frames).

    Returns the expanded sequence (batch, frames, channels) and frame lengths. Without
    ``max_frames`` the sequence is as long as the longest row, rounded up by ``round_up``.
    """
    durations = durations.long().clamp(min=0)
    frame_lengths = durations.sum(dim=1)
    if max_frames is None:
        total = int(frame_lengths.max())
        total = round_up(total) if round_up is not None else total
    else:
        total = max_frames
    total = max(total, 1)
    # Index of the source phoneme for every output frame, via cumulative durations.
    ends = torch.cumsum(durations, dim=1)
    frames = torch.arange(total, device=x.device)
    index = torch.searchsorted(ends, frames.expand(x.shape[0], total).contiguous(), right=True)
    index = index.clamp(max=x.shape[1] - 1)
    expanded = torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[2]))
    valid = frames[None, :] < frame_lengths[:, None]
    return expanded * valid.unsqueeze(-1).to(x.dtype), frame_lengths


class PostNet(nn.Module):
    """Five 1-D convs with tanh predicting a residual on the mel (Tacotron 2)."""

    def __init__(self, n_mels: int, config: PostNetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(config.layers):
            c_in = n_mels if i == 0 else config.channels
            c_out = n_mels if i == config.layers - 1 else config.channels
            layers.append(
                nn.Sequential(
                    nn.Conv1d(c_in, c_out, config.kernel, padding=(config.kernel - 1) // 2),
                    nn.BatchNorm1d(c_out),
                )
            )
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = (~mask).unsqueeze(1).to(mel.dtype)  # zero padding between layers, see above
        h = mel.transpose(1, 2)
        for i, layer in enumerate(self.layers):
            h = layer(h * keep)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
            h = self.dropout(h)
        return mel + h.transpose(1, 2)
