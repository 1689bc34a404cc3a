"""Playback through PortAudio (sounddevice), and the device list for ``ttscli devices``.

Playback uses blocking writes on an output stream: a write returns once PortAudio has
room, which gives natural back-pressure, and ``close`` waits until everything queued has
actually been played, so the last word is never cut off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from ttscli.util.errors import UserError
from ttscli.util.faults import IO_EXIT_CODE


def _sounddevice() -> Any:
    """Import sounddevice lazily: it needs the PortAudio library, which file output does not."""
    try:
        import sounddevice
    except OSError as exc:
        raise UserError(
            f"cannot use the sound card: PortAudio is not installed ({exc}); "
            "install libportaudio2 or use --out FILE"
        ) from None
    return sounddevice


@dataclass(frozen=True)
class OutputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool

    def describe(self) -> str:
        """One line of ``ttscli devices``; ``*`` marks the default."""
        mark = "*" if self.is_default else " "
        return (
            f"{mark} {self.index:3d}  {self.name}  ({self.host_api}, {self.channels} ch, "
            f"{self.default_samplerate:.0f} Hz)"
        )


def list_output_devices() -> list[OutputDevice]:
    sd = _sounddevice()
    try:
        default_out = sd.default.device[1]
        apis = sd.query_hostapis()
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise UserError(f"cannot list sound devices: {exc}") from None
    if default_out is None or default_out < 0:
        try:
            default_out = sd.query_devices(kind="output")["index"]
        except (sd.PortAudioError, ValueError):
            default_out = -1
    return [
        OutputDevice(
            index=d["index"],
            name=d["name"],
            host_api=apis[d["hostapi"]]["name"],
            channels=d["max_output_channels"],
            default_samplerate=d["default_samplerate"],
            is_default=d["index"] == default_out,
        )
        for d in devices
        if d["max_output_channels"] > 0
    ]


def find_output_device(device: str | None) -> int:
    """Index of the requested output device (a number or part of a name), or the
    default one; a UserError when there is none."""
    return _resolve_device(_sounddevice(), device)


def _resolve_device(sd: Any, device: str | None) -> int:
    wanted: int | str | None = None
    if device is not None:
        wanted = int(device) if device.strip().isdigit() else device
    try:
        info = sd.query_devices(wanted, kind="output")
    except (ValueError, sd.PortAudioError):
        if device is None:
            raise UserError(
                "no sound output device found; use --out FILE.wav or --out - instead"
            ) from None
        raise UserError(
            f"--output-device {device}: no such output device (see `ttscli devices`)"
        ) from None
    if info["max_output_channels"] < 1:
        raise UserError(f"--output-device {device}: {info['name']} has no output channels")
    return int(info["index"])


def _resample_linear(chunk: np.ndarray, ratio: float, phase: float) -> tuple[np.ndarray, float]:
    """Linear resampling keeping fractional position across chunks; only used when the
    device refuses the model's rate, where a small quality loss beats silence."""
    positions = np.arange(phase, len(chunk), 1.0 / ratio)
    out = np.interp(positions, np.arange(len(chunk)), chunk).astype(np.float32)
    next_phase = positions[-1] + 1.0 / ratio - len(chunk) if len(positions) else phase - len(chunk)
    return out, next_phase


class LibraryDiagnostics:
    """ALSA and PortAudio print their own diagnostics on the process's stderr (fd 2), several
    lines when a device fails, around the one line that says what happened. While a device
    is open, fd 2 points at a temporary file and Python's stderr at the real one; a normal
    close passes on what the libraries said, a failure drops it (its message names the
    error)."""

    KEPT_BYTES = 65536

    def __init__(self) -> None:
        self._saved: int | None = None
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return  # no stderr to stand in for: leave it as it is
        self._capture = tempfile.TemporaryFile()  # noqa: SIM115 (closed in end())
        self._python_stderr = sys.stderr
        os.dup2(self._capture.fileno(), 2)
        self._saved = saved
        sys.stderr = open(saved, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115

    def end(self, pass_on: bool) -> None:
        if self._saved is None:
            return
        saved, self._saved = self._saved, None
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = self._python_stderr
        os.dup2(saved, 2)
        os.close(saved)
        if pass_on:
            size = self._capture.seek(0, os.SEEK_END)
            self._capture.seek(max(0, size - self.KEPT_BYTES))
            said = self._capture.read()
            if said:
                os.write(2, said)
        self._capture.close()


class SoundCardSink:
    """Plays chunks on an output device as they are written."""

    def __init__(self, sample_rate: int, device: str | None = None) -> None:
        self._diagnostics = LibraryDiagnostics()
        try:
            self._open(sample_rate, device)
        except BaseException:
            self._diagnostics.end(pass_on=False)
            raise

    def _open(self, sample_rate: int, device: str | None) -> None:
        sd = _sounddevice()
        self._sd = sd
        index = _resolve_device(sd, device)
        self.device_name = sd.query_devices(index)["name"]
        rate = sample_rate
        try:
            sd.check_output_settings(device=index, samplerate=sample_rate, channels=1)
        except sd.PortAudioError:
            rate = int(sd.query_devices(index)["default_samplerate"])
        self._ratio = rate / sample_rate
        self._phase = 0.0
        self.underruns = 0
        try:
            self._stream = sd.OutputStream(
                samplerate=rate, channels=1, dtype="float32", device=index, latency="high"
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise UserError(f"cannot open sound device {self.device_name}: {exc}") from None
        self._started = False

    def write(self, chunk: np.ndarray) -> None:
        data = chunk.astype(np.float32, copy=False)
        if self._ratio != 1.0:
            data, self._phase = _resample_linear(data, self._ratio, self._phase)
        # PortAudio reports an underflow when it ran dry before this write; the very
        # first write necessarily finds an empty buffer, so it does not count.
        try:
            underflowed = self._stream.write(np.ascontiguousarray(data.reshape(-1, 1)))
        except self._sd.PortAudioError as exc:
            raise self._failed(exc) from None
        if underflowed and self._started:
            self.underruns += 1
        self._started = True

    def close(self) -> None:
        """Block until all written audio has been played, then release the device."""
        try:
            self._stream.stop()
            self._stream.close()
        except self._sd.PortAudioError as exc:
            raise self._failed(exc) from None
        self._diagnostics.end(pass_on=True)

    def abort(self) -> None:
        """Stop at once (Ctrl-C, or the device failed): drop what is still queued."""
        with contextlib.suppress(self._sd.PortAudioError):
            self._stream.abort()
        with contextlib.suppress(self._sd.PortAudioError):
            self._stream.close()
        self._diagnostics.end(pass_on=False)

    def _failed(self, exc: Exception) -> UserError:
        """The device failed or vanished mid-play: say so, and how to get the audio."""
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return UserError(
            f"the sound card {self.device_name} failed while playing ({reason[:200]}); "
            "stopped. Check the device, or write the audio to a file with --out FILE.wav",
            exit_code=IO_EXIT_CODE,
        )
