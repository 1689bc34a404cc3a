"""Kyutai's fields and attribution, read without loading a model: the registry's entry
states them and the loaded engine enforces them."""

from __future__ import annotations

from ttscli.engines.base import SILENCE_FIELDS, OptionField
from ttscli.kyutai.options import PADDING_BETWEEN

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
"""Set when the model loads; a request may set its own (except ``n_q``)."""

PACING_FIELDS = (
    OptionField(
        "padding_bonus", "number", 0.0,
        "Added to the pad token's logit: positive speaks slower, negative faster.",
        -6.0, 6.0, why="beyond that the model stalls or swallows words",
    ),
    OptionField(
        "padding_between", "integer", PADDING_BETWEEN,
        "Pad steps forced after each word: more is slower and more articulated.", 0, 8,
    ),
)  # fmt: skip
"""Kyutai's pacing knobs, per request."""

VOICES_FIELD = OptionField(
    "voices", "strings", None,
    "The request's voice, or two for a dialogue (names in the voice repo); default: the "
    "voice it loaded.", 1, 2, optional=True, why="a dialogue has two speakers",
)  # fmt: skip

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
    return (*SAMPLING_FIELDS, speed, *SILENCE_FIELDS, *PACING_FIELDS, VOICES_FIELD)
