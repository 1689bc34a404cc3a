"""Audio as the bytes of a response, in the formats the OpenAI speech API names.

``pcm`` and ``wav`` stream: each chunk is encoded as it comes (a WAV header that says
"length unknown" goes first, as streaming servers write it). ``flac`` and ``opus`` are
containers whose encoders want the whole signal, so they are encoded at the end; Opus
only runs at 48/24/16/12/8 kHz, so other rates are resampled to 24 kHz first.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from ttscli.audio.formats import to_pcm16
from ttscli.audio.resample import resample

FORMATS = ("wav", "pcm", "flac", "opus")
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
_UNKNOWN = 0xFFFFFFFF


class Encoder:
    """Bytes for the start, each chunk, and the end of one response."""

    streams = True

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    @property
    def content_type(self) -> str:
        raise NotImplementedError

    def header(self) -> bytes:
        return b""

    def encode(self, audio: np.ndarray) -> bytes:
        return to_pcm16(audio)

    def finish(self) -> bytes:
        return b""


class PcmEncoder(Encoder):
    @property
    def content_type(self) -> str:
        return "audio/pcm"


class WavEncoder(Encoder):
    @property
    def content_type(self) -> str:
        return "audio/wav"

    def header(self) -> bytes:
        """16-bit mono PCM with RIFF and data sizes set to 'unknown' (0xFFFFFFFF)."""
        rate = self.sample_rate
        fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
        return (
            b"RIFF" + struct.pack("<I", _UNKNOWN) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", _UNKNOWN)
        )  # fmt: skip


class WholeFileEncoder(Encoder):
    """Collects the audio and encodes it in one go at the end."""

    streams = False
    container = "FLAC"
    subtype = "PCM_16"

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._chunks: list[np.ndarray] = []

    @property
    def content_type(self) -> str:
        return "audio/flac"

    def encode(self, audio: np.ndarray) -> bytes:
        self._chunks.append(np.asarray(audio, dtype=np.float32))
        return b""

    def finish(self) -> bytes:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        rate = self.output_rate
        if rate != self.sample_rate:
            audio = resample(audio, self.sample_rate, rate)
        buffer = io.BytesIO()
        with sf.SoundFile(
            buffer, "w", samplerate=rate, channels=1, format=self.container, subtype=self.subtype
        ) as out:
            # The same 16-bit samples as pcm and wav carry, not libsndfile's own rounding.
            out.write(np.frombuffer(to_pcm16(audio), dtype="<i2"))
        return buffer.getvalue()

    @property
    def output_rate(self) -> int:
        return self.sample_rate


class OpusEncoder(WholeFileEncoder):
    container = "OGG"
    subtype = "OPUS"

    @property
    def content_type(self) -> str:
        return "audio/ogg"

    @property
    def output_rate(self) -> int:
        return self.sample_rate if self.sample_rate in OPUS_RATES else 24000


def encoder_for(name: str, sample_rate: int) -> Encoder:
    kinds: dict[str, type[Encoder]] = {
        "pcm": PcmEncoder,
        "wav": WavEncoder,
        "flac": WholeFileEncoder,
        "opus": OpusEncoder,
    }
    return kinds[name](sample_rate)
