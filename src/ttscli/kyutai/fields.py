"""Kyutai's fields and attribution, read without loading a model: the registry's entry
states them and the loaded engine enforces them."""

from __future__ import annotations

from ttscli.engines.base import SILENCE_FIELDS, OptionField

ATTRIBUTION = (
    "Kyutai TTS 1.6B weights (kyutai/tts-1.6b-en_fr) by Kyutai, licensed CC-BY 4.0; "
    "voices in kyutai/tts-voices carry their own licences (see `ttscli voices`)."
)

SAMPLING_FIELDS = (
    OptionField(
        "n_q",
        "integer",
        None,
        "Codebooks to generate (fewer = faster); default: all.",
        optional=True,
    ),
    OptionField("temp", "number", 0.6, "Sampling temperature."),
    OptionField("cfg_coef", "number", 2.0, "Classifier-free guidance strength."),
    OptionField("seed", "integer", None, "Random seed for repeatable output.", optional=True),
)
"""Set when the model loads; a request may repeat them but not change them."""

LOAD_FIELDS = (
    OptionField(
        "voice",
        "string",
        None,
        "A path in the voice repo or a local .safetensors embedding.",
        optional=True,
    ),
    OptionField("hf_repo", "string", None, "Model repository on the HF hub.", optional=True),
    OptionField("voice_repo", "string", None, "Voice repository on the HF hub.", optional=True),
    OptionField(
        "model_dir", "string", None, "Local folder with the model files (no hub).", optional=True
    ),
    OptionField("device", "string", "auto", "Where to run.", choices=("auto", "cpu", "cuda")),
    OptionField(
        "lexicon", "string", None,
        "Respellings: WORD<TAB>how to write it so that it is said right, one a line.",
        optional=True,
    ),
    *SAMPLING_FIELDS,
)  # fmt: skip


def request_fields() -> tuple[OptionField, ...]:
    speed = OptionField(
        "speed", "number", 1.0, "Kyutai speaks at its own pace: only 1.0.", 1.0, 1.0
    )
    return (*SAMPLING_FIELDS, speed, *SILENCE_FIELDS)
