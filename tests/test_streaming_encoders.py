"""Encoding audio as it streams: the resampler has no seams between pieces, and each format
hands on bytes as pieces are encoded (all but FLAC, which comes whole)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from ttscli.audio.resample import StreamingResampler, resample
from ttscli.serve.encoders import FORMATS, PassOn, encoder_for


@pytest.mark.parametrize(("source", "target"), [(22050, 24000), (22050, 16000), (24000, 48000)])
def test_pieces_resampled_as_they_come_join_into_the_whole(source: int, target: int) -> None:
    audio = np.random.default_rng(0).standard_normal(source * 2).astype(np.float32)
    resampler = StreamingResampler(source, target)
    pieces, start = [], 0
    for size in (1, 7, 5000, 3, 20000, 2048, 333):
        pieces.append(resampler.push(audio[start : start + size]))
        start += size
    pieces += [resampler.push(audio[start:]), resampler.finish()]
    np.testing.assert_allclose(np.concatenate(pieces), resample(audio, source, target), atol=1e-6)


def test_pass_on_sends_each_byte_once_and_drops_rewrites_of_sent_bytes() -> None:
    sink = PassOn()
    sink.write(b"head")
    assert sink.take() == b"head"
    sink.write(b"body")
    sink.seek(0)
    sink.write(b"HEAD")  # a header rewritten after it was sent: cannot reach the client
    sink.seek(0, io.SEEK_END)
    sink.write(b"tail")
    assert sink.take() == b"bodytail"
    skipping = PassOn(skip_first_write=True)
    skipping.write(b"placeholder")
    skipping.write(b"frames")
    assert skipping.take() == b"frames"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_streams_except_flac(fmt: str) -> None:
    tone = (0.3 * np.sin(np.arange(22050 * 3) * 0.05)).astype(np.float32)
    encoder = encoder_for(fmt, 22050)
    pieces = [encoder.header()]
    sent_while_streaming = 0
    for start in range(0, len(tone), 4410):
        piece = encoder.encode(tone[start : start + 4410])
        sent_while_streaming += len(piece)
        pieces.append(piece)
    pieces.append(encoder.finish())
    body = b"".join(pieces)
    if fmt == "flac":
        assert sent_while_streaming == 0
        assert len(sf.read(io.BytesIO(body))[0]) == len(tone)
    else:
        assert sent_while_streaming > len(body) // 2, fmt
