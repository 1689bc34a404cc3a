"""Audio as the bytes of a response, in every format the OpenAI speech API names.

All but ``flac`` stream: each chunk is encoded as it comes and its bytes go out at once.
``pcm`` is raw; ``wav`` starts with a header that says "length unknown", as streaming
servers write it. ``mp3`` and ``opus`` are written by libsndfile into a file that hands on
its bytes as soon as they are written (Ogg in pages of about a second). libsndfile starts
an MP3 with an empty information frame that it fills in at the end; a stream cannot go
back for it, and a reader that finds it empty misreads the length, so it is left out and
the frames are of constant bitrate, whose length a reader can tell from the bytes alone.
``aac`` (ADTS frames) is encoded by PyAV, an optional extra. ``flac`` comes whole at the
end: a FLAC stream of unknown length is valid, but libsndfile (soundfile) cannot read one,
so the header carries the exact length instead. Formats that cannot take the engine's rate
(Opus) are resampled as the audio streams.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np
import soundfile as sf

from ttscli.audio.formats import to_pcm16
from ttscli.audio.resample import StreamingResampler

FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
"""OpenAI's names, in OpenAI's order; ``mp3`` is the default as in OpenAI's API."""
DEFAULT_FORMAT = "mp3"
AAC_HINT = "response_format aac needs PyAV on the server: pip install 'ttscli[aac]'"
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_UNKNOWN = 0xFFFFFFFF


class EncoderUnavailable(Exception):
    """The format needs a package this server does not have."""


class Encoder:
    """Bytes for the start, each chunk, and the end of one response."""

    content_type = "application/octet-stream"

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    @property
    def output_rate(self) -> int:
        return self.sample_rate

    def header(self) -> bytes:
        return b""

    def encode(self, audio: np.ndarray) -> bytes:
        return to_pcm16(audio)

    def finish(self) -> bytes:
        return b""


class PcmEncoder(Encoder):
    content_type = "audio/pcm"


class WavEncoder(Encoder):
    content_type = "audio/wav"

    def header(self) -> bytes:
        """16-bit mono PCM with RIFF and data sizes set to 'unknown' (0xFFFFFFFF)."""
        rate = self.sample_rate
        fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
        return (
            b"RIFF" + struct.pack("<I", _UNKNOWN) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", _UNKNOWN)
        )  # fmt: skip


class PassOn(io.RawIOBase):
    """A write-only file whose bytes are taken as soon as they are written. A write at or
    past the end of what was taken is kept for the next ``take``; a rewrite of bytes already
    taken (a header updated at close) cannot be sent any more and is dropped."""

    def __init__(self, skip_first_write: bool = False) -> None:
        super().__init__()
        self.skip_first_write = skip_first_write
        self.position = 0
        self.taken = 0
        self.size = 0
        self.pending = bytearray()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        anchor = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = anchor + offset
        return self.position

    def read(self, size: int = -1) -> bytes:
        return b""  # the encoders here never read back what they wrote

    def readinto(self, buffer: Any) -> int:
        return 0

    def write(self, data: Any) -> int:
        data = bytes(data)
        start, end = self.position, self.position + len(data)
        if self.skip_first_write:
            self.skip_first_write = False
            self.taken = self.position = self.size = end  # as if sent already
            return len(data)
        if end > self.taken:
            keep = data[max(0, self.taken - start) :]
            offset = max(start, self.taken) - self.taken
            if len(self.pending) < offset + len(keep):
                self.pending.extend(b"\0" * (offset + len(keep) - len(self.pending)))
            self.pending[offset : offset + len(keep)] = keep
        self.position = end
        self.size = max(self.size, end)
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.pending)
        self.taken += len(data)
        self.pending.clear()
        return data


class ResamplingEncoder(Encoder):
    """An encoder whose format wants another rate: chunks are resampled as they come."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        rate = self.output_rate
        self._resampler = StreamingResampler(sample_rate, rate) if rate != sample_rate else None

    def _at_rate(self, audio: np.ndarray) -> np.ndarray:
        if self._resampler is None:
            return np.asarray(audio, dtype=np.float32)
        return self._resampler.push(audio)

    def _rest(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._resampler.finish()


class SoundFileEncoder(ResamplingEncoder):
    """A container libsndfile writes (MP3, Ogg Opus), streamed through ``PassOn``."""

    container = "OGG"
    subtype = "OPUS"
    rates: tuple[int, ...] = ()
    skip_first_write = False
    settings: dict[str, Any] = {}  # noqa: RUF012 (read only)

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._sink = PassOn(self.skip_first_write)
        self._file = sf.SoundFile(
            self._sink,
            "w",
            samplerate=self.output_rate,
            channels=1,
            format=self.container,
            subtype=self.subtype,
            **self.settings,
        )

    @property
    def output_rate(self) -> int:
        if not self.rates or self.sample_rate in self.rates:
            return self.sample_rate
        return 24000

    def header(self) -> bytes:
        return self._sink.take()

    def encode(self, audio: np.ndarray) -> bytes:
        # The same 16-bit samples as pcm and wav carry, not libsndfile's own rounding.
        self._file.write(np.frombuffer(to_pcm16(self._at_rate(audio)), dtype="<i2"))
        return self._sink.take()

    def finish(self) -> bytes:
        rest = self._at_rate(np.zeros(0, np.float32))
        tail = self._rest()
        self._file.write(np.frombuffer(to_pcm16(np.concatenate([rest, tail])), dtype="<i2"))
        self._file.close()
        return self._sink.take()


class FlacEncoder(Encoder):
    """The whole signal, encoded at the end (see the module docstring)."""

    content_type = "audio/flac"

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._chunks: list[np.ndarray] = []

    def encode(self, audio: np.ndarray) -> bytes:
        self._chunks.append(np.frombuffer(to_pcm16(audio), dtype="<i2"))
        return b""

    def finish(self) -> bytes:
        buffer = io.BytesIO()
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, "<i2")
        sf.write(buffer, samples, self.sample_rate, format="FLAC", subtype="PCM_16")
        return buffer.getvalue()


class Mp3Encoder(SoundFileEncoder):
    content_type = "audio/mpeg"
    container = "MP3"
    subtype = "MPEG_LAYER_III"
    rates = MP3_RATES
    skip_first_write = True  # the empty information frame (see the module docstring)
    # A constant bitrate: without the information frame, a reader can only tell the length
    # of the stream from its size, which is right for constant-rate frames alone.
    settings = {"bitrate_mode": "CONSTANT", "compression_level": 0.5}  # noqa: RUF012


class OpusEncoder(SoundFileEncoder):
    content_type = "audio/ogg"
    container = "OGG"
    subtype = "OPUS"
    rates = OPUS_RATES


class AacEncoder(ResamplingEncoder):
    """AAC in ADTS frames (what OpenAI sends for ``aac``), encoded by PyAV (FFmpeg)."""

    content_type = "audio/aac"

    def __init__(self, sample_rate: int) -> None:
        try:
            import av
        except ImportError:
            raise EncoderUnavailable(AAC_HINT) from None
        super().__init__(sample_rate)
        self._av = av
        self._sink = PassOn()
        self._container = av.open(self._sink, mode="w", format="adts")
        self._stream = self._container.add_stream("aac", rate=self.output_rate, layout="mono")

    def encode(self, audio: np.ndarray) -> bytes:
        return self._mux(self._at_rate(audio))

    def finish(self) -> bytes:
        data = self._mux(self._rest())
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return data + self._sink.take()

    def _mux(self, audio: np.ndarray) -> bytes:
        if len(audio):
            pcm = np.frombuffer(to_pcm16(audio), dtype="<i2")[None, :]
            frame = self._av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = self.output_rate
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()


ENCODERS: dict[str, type[Encoder]] = {
    "mp3": Mp3Encoder,
    "opus": OpusEncoder,
    "aac": AacEncoder,
    "flac": FlacEncoder,
    "wav": WavEncoder,
    "pcm": PcmEncoder,
}


def encoder_for(name: str, sample_rate: int) -> Encoder:
    """The encoder of one response; ``EncoderUnavailable`` when its package is missing."""
    return ENCODERS[name](sample_rate)
