"""The FastSpeech 2 engine as the registry knows it: its fields and limits, and how to load
it. Light on purpose (no torch): ``--help``, flag checks and server clients read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttscli.engines.base import Engine, OptionField
from ttscli.engines.entry import EngineEntry
from ttscli.fs2.kinds import ModelKind, Precision
from ttscli.fs2.limits import request_fields
from ttscli.text.markup import Markup

LOAD_FIELDS = (
    OptionField(
        "checkpoint",
        "string",
        None,
        "Checkpoint folder; default: the bundled voice.",
        optional=True,
    ),
    OptionField(
        "model", "string", ModelKind.auto.value,
        "fs2 (mel + vocoder), fs2s (waveform decoder), or auto: fs2s when the voice has one "
        "and no vocoder is named.",
        choices=tuple(kind.value for kind in ModelKind),
    ),
    OptionField("vocoder", "string", "auto", "auto, griffin-lim, or a HiFi-GAN file/folder."),
    OptionField("device", "string", "auto", "Where to run.", choices=("auto", "cpu", "cuda")),
    OptionField(
        "precision", "string", Precision.auto.value,
        "The vocoder's arithmetic: bfloat16, float32, or auto: bfloat16 for the FS2s "
        "waveform decoder on a CPU with Intel AMX (faster, as clear), else float32.",
        choices=tuple(p.value for p in Precision),
    ),
    OptionField(
        "lexicon", "string", None,
        "Pronunciation lexicon: WORD<TAB>ARPAbet or IPA, one a line (wins over the dictionary).",
        optional=True,
    ),
)  # fmt: skip


def load_fs2(
    checkpoint: str | None,
    model: str,
    vocoder: str,
    device: str,
    lexicon: str | None,
    precision: str = Precision.auto.value,
) -> Engine[Any]:
    from ttscli.fs2.engine import FS2Engine

    folder = Path(checkpoint) if checkpoint is not None else None
    words = Path(lexicon) if lexicon is not None else None
    return FS2Engine.load(
        checkpoint=folder,
        kind=model,
        vocoder=vocoder,
        device=device,
        lexicon=words,
        precision=precision,
    )


def check_speakable(text: str | Markup) -> object:
    """Fail before the model loads on text with nothing to say or bad inline phonemes.
    Plain text is read only up to its first sentence that speaks: a long text's later
    sentences wait for their turn, after the first is heard."""
    from ttscli.text.frontend import first_utterance, text_to_utterances

    if isinstance(text, Markup):
        return text_to_utterances(text)
    return first_utterance(text)


FS2_ENTRY = EngineEntry(
    name="fs2",
    summary="FastSpeech 2 / 2s: the bundled CPU voice, or a checkpoint folder",
    load_engine=load_fs2,
    request_fields=request_fields,
    load_fields=LOAD_FIELDS,
    line_load_names=("model",),
    command="fs2",
    check_text=check_speakable,
    # Requests take turns a sentence at a time, so more at once only shortens the wait.
    default_streams=16,
)
