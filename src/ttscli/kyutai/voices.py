"""List the voices a Kyutai TTS model can use, with the licence that comes with each.

Voices live in one hub repo, one folder per source corpus, and the licence is per folder: some
are non-commercial, which users must learn *before* they ship audio made with them.  Listing
works offline (the HF cache is scanned directly, no hub call) and never hangs online (the hub
is probed with a short timeout first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ttscli.kyutai.weights import (
    DEFAULT_TTS_REPO,
    DEFAULT_VOICE_REPO,
    HubRepo,
    HubSettings,
    call_with_timeout,
)

DEFAULT_VOICE_SUFFIX = ".1e68beda@240.safetensors"
"""How kyutai/tts-1.6b-en_fr names its embeddings (``model_id`` sig@epoch in its config.json)."""


@dataclass(frozen=True)
class Licence:
    name: str
    commercial: bool | None  # None: unknown, read the repo's README

    @property
    def summary(self) -> str:
        if self.commercial is None:
            return f"{self.name}: check the voice repo's README before use"
        if not self.commercial:
            return f"{self.name}: NON-COMMERCIAL use only"
        if self.name == "CC0":
            return "CC0: any use, no attribution needed"
        return f"{self.name}: commercial use allowed, attribution required"


FOLDER_LICENCES: dict[str, Licence] = {
    "expresso": Licence("CC-BY-NC 4.0", False),
    "ears": Licence("CC-BY-NC 4.0", False),
    "vctk": Licence("CC-BY 4.0", True),
    "cml-tts": Licence("CC-BY 4.0", True),
    "alba-mackenna": Licence("CC-BY 4.0", True),
    "voice-donations": Licence("CC0", True),
}
_UNKNOWN = Licence("licence unknown", None)


def folder_licence(folder: str) -> Licence:
    return FOLDER_LICENCES.get(folder, _UNKNOWN)


@dataclass(frozen=True)
class Voice:
    name: str  # what --voice takes, e.g. "vctk/p228_023.wav"
    cached: bool  # usable offline right now


@dataclass
class VoiceFolder:
    name: str
    licence: Licence
    voices: list[Voice] = field(default_factory=list)


@dataclass
class VoiceListing:
    repo: str
    suffix: str
    folders: list[VoiceFolder]
    online_error: str | None = None  # why the hub listing is missing, when it was wanted

    @property
    def count(self) -> int:
        return sum(len(f.voices) for f in self.folders)


def suffix_from_cached_config(hf_repo: str | None = None, model_dir: Path | None = None) -> str:
    """The voice suffix of the model the user would load, read from a local config.json only.

    Falls back to the default model's suffix: listing voices must not need the model.
    """
    config: Path | None
    if model_dir is not None:
        config = Path(model_dir) / "config.json"
    else:
        config = HubRepo(hf_repo or DEFAULT_TTS_REPO).cached("config.json")
    try:
        model_id = json.loads(config.read_text(encoding="utf-8"))["model_id"]  # type: ignore[union-attr]
        return f".{model_id['sig']}@{model_id['epoch']}.safetensors"
    except (AttributeError, OSError, ValueError, KeyError, TypeError):
        return DEFAULT_VOICE_SUFFIX


def cached_voice_names(repo_id: str, suffix: str, settings: HubSettings) -> set[str]:
    """Voice names with an embedding in any cached snapshot of the voice repo."""
    snapshots = settings.cache_dir / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    names: set[str] = set()
    if not snapshots.is_dir():
        return names
    for snapshot in snapshots.iterdir():
        for path in snapshot.rglob("*" + suffix):
            if path.is_file():
                names.add(path.relative_to(snapshot).as_posix().removesuffix(suffix))
    return names


def _remote_names(hub: HubRepo, suffix: str) -> tuple[set[str], str | None]:
    problem = hub.problem()
    if problem is not None:
        return set(), problem
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.settings.endpoint)
    try:
        files = call_with_timeout(
            lambda: api.list_repo_files(hub.repo_id), 6 * hub.settings.timeout_s
        )
    except (OSError, TimeoutError, ValueError) as exc:
        return set(), f"listing {hub.repo_id} failed ({type(exc).__name__}: {exc})"
    return {f.removesuffix(suffix) for f in files if f.endswith(suffix)}, None


def list_voices(
    voice_repo: str | None = None,
    online: bool = True,
    *,
    voice_suffix: str | None = None,
) -> VoiceListing:
    """Voices in the local cache and, when ``online``, on the hub, grouped by licence folder.

    With ``HF_HUB_OFFLINE=1`` the hub is not contacted and ``online_error`` says why.
    ``voice_suffix`` selects the embeddings of one model; by default that of the model whose
    config.json is cached.
    """
    repo_id = voice_repo or DEFAULT_VOICE_REPO
    suffix = voice_suffix or suffix_from_cached_config()
    hub = HubRepo(repo_id)
    cached = cached_voice_names(repo_id, suffix, hub.settings)
    remote: set[str] = set()
    error = None
    if online:
        remote, error = _remote_names(hub, suffix)  # says "offline mode" without a network call
    folders: dict[str, VoiceFolder] = {}
    for name in sorted(cached | remote):
        top = name.split("/", 1)[0] if "/" in name else ""
        folder = folders.setdefault(top, VoiceFolder(top, folder_licence(top)))
        folder.voices.append(Voice(name, name in cached))
    return VoiceListing(repo_id, suffix, list(folders.values()), error)


def format_listing(listing: VoiceListing) -> str:
    """Plain-text rendering: one header per folder with its licence, one voice per line."""
    sig = listing.suffix.removeprefix(".").removesuffix(".safetensors")
    lines = [f"{listing.repo}: {listing.count} voices for model {sig} (* = cached, works offline)"]
    if listing.online_error:
        lines.append(f"(hub not listed: {listing.online_error}; showing cached voices only)")
    for folder in listing.folders:
        lines.append(f"{folder.name or '(top level)'}/  [{folder.licence.summary}]")
        lines.extend(f"  {'*' if v.cached else ' '} {v.name}" for v in folder.voices)
    return "\n".join(lines)
