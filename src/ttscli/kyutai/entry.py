"""Kyutai TTS as the registry knows it: its fields and how to load it (no torch here)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttscli.engines.base import Engine
from ttscli.engines.entry import EngineEntry, VoiceListing
from ttscli.kyutai.fields import ATTRIBUTION, LOAD_FIELDS, request_fields
from ttscli.text.markup import require_text


def load_kyutai(**arguments: Any) -> Engine[Any]:
    from ttscli.kyutai.engine import KyutaiEngine
    from ttscli.text.lexicon import read_entries

    folder = arguments.pop("model_dir")
    lexicon = arguments.pop("lexicon")
    respellings = read_entries(Path(lexicon)) if lexicon else {}
    engine = KyutaiEngine.load(model_dir=Path(folder) if folder else None, **arguments)
    engine.use_respellings(respellings)
    return engine


def list_voices(arguments: Mapping[str, Any], online: bool) -> VoiceListing:
    from dataclasses import asdict

    from ttscli.kyutai.voices import format_listing, list_voices, suffix_from_cached_config

    model_dir = arguments.get("model_dir")
    suffix = suffix_from_cached_config(
        arguments.get("hf_repo"), Path(model_dir) if model_dir else None
    )
    listing = list_voices(arguments.get("voice_repo"), online=online, voice_suffix=suffix)
    return VoiceListing(format_listing(listing), asdict(listing))


KYUTAI_ENTRY = EngineEntry(
    name="kyutai",
    summary="Kyutai TTS 1.6B: streams words in and audio out (best on a GPU)",
    load_engine=load_kyutai,
    request_fields=request_fields,
    load_fields=LOAD_FIELDS,
    command="speak",
    reads_words=True,
    check_text=require_text,
    # Each request is a row of one model batch and costs every step.
    default_streams=4,
    attribution=ATTRIBUTION,
    list_voices=list_voices,
)
