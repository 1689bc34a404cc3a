"""``--plot``: mel-spectrogram, pitch and energy of what was synthesised, as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ttscli.engines.base import Prosody
from ttscli.util.atomic import atomic_write
from ttscli.util.errors import UserError


def check_plot_path(path: Path) -> None:
    """Fail before synthesis, not after, when the plot cannot be written."""
    if path.suffix.lower() != ".png":
        raise UserError(f"--plot {path}: the plot is written as PNG; use a .png name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"--plot {path}: folder {folder} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'ttscli[plot]'") from None


def save_prosody_plot(path: Path, sentences: list[Prosody], title: str) -> None:
    """Sentences spoken in a row as one plot: three panels (mel, pitch, energy) sharing a
    time axis in seconds."""
    mel = np.concatenate([p.mel for p in sentences])
    pitch_hz = np.concatenate([p.pitch_hz for p in sentences])
    energy = np.concatenate([p.energy for p in sentences])
    frame_seconds = sentences[0].frame_seconds
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = np.arange(len(pitch_hz)) * frame_seconds
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    extent = (0.0, len(mel) * frame_seconds, 0.0, float(mel.shape[1]))
    axes[0].imshow(mel.T, origin="lower", aspect="auto", extent=extent, cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(title[:100])
    axes[1].plot(seconds, pitch_hz, color="tab:blue")
    axes[1].set_ylabel("F0 (Hz)")
    axes[2].plot(seconds, energy, color="tab:orange")
    axes[2].set_ylabel("energy")
    axes[2].set_xlabel("time (s)")
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    except OSError as exc:
        raise UserError(f"--plot {path}: cannot write ({exc.strerror})") from None
    finally:
        plt.close(fig)
