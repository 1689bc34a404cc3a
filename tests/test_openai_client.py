"""The server as OpenAI's official Python client sees it: every format, streaming, SSE,
the model list, and OpenAI's own fields."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.test_serve import (
    LENGTH_TOLERANCE,
    LONG_TEXT,
    RATE,
    TOKEN,
    RunningServer,
    decode,
    pcm,
    start_server,
    stop_server,
)

openai = pytest.importorskip("openai")

TEXT = "Hello world. How are you today?"
RATES = {"mp3": RATE, "opus": 24000, "aac": RATE, "flac": RATE, "wav": RATE, "pcm": RATE}


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path) -> Iterator[RunningServer]:
    running = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu",
        "--token", TOKEN,
    )  # fmt: skip
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(server: RunningServer):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0)


def test_every_format_decodes_to_the_right_rate_and_length(client, server) -> None:
    reference = len(pcm(server.speech(TEXT, "pcm")[1]))
    for fmt, rate in RATES.items():
        response = client.audio.speech.create(
            model="tts-1", voice="alloy", input=TEXT, response_format=fmt
        )
        audio, decoded_rate = decode(response.read(), fmt)
        assert decoded_rate == rate, fmt
        expected = reference * rate / RATE
        extra = max(LENGTH_TOLERANCE[fmt], 0.01) * rate
        assert -0.01 * rate <= len(audio) - expected <= extra, (fmt, len(audio), expected)


def test_the_default_format_is_mp3(client) -> None:
    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice="nova", input=TEXT)
    assert response.response.headers["content-type"] == "audio/mpeg"
    assert decode(response.read(), "mp3")[1] == RATE


def test_streaming_gives_bytes_before_the_request_ends(client, server) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=LONG_TEXT, response_format="pcm"
    ) as response:
        first = next(response.iter_bytes(4096))
        assert first
        # The client has not read on: the engine cannot have finished the long text.
        assert server.stats()["in_flight"] >= 1
    assert server.idle()


def test_sse_events_parse(client, server) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input=TEXT, response_format="pcm",
        stream_format="sse",
    ) as response:  # fmt: skip
        events = [
            json.loads(line.removeprefix("data: "))
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["total_tokens"] == (
        events[-1]["usage"]["input_tokens"] + events[-1]["usage"]["output_tokens"]
    )
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    np.testing.assert_array_equal(pcm(audio), pcm(server.speech(TEXT, "pcm")[1]))


def test_models_and_openais_fields(client) -> None:
    ids = [model.id for model in client.models.list()]
    assert "fs2" in ids and "tts-1" in ids
    response = client.audio.speech.create(
        model="tts-1-hd", voice="coral", input=TEXT, response_format="wav",
        instructions="Speak in a cheerful tone.", speed=1.0, extra_body={"future_field": 1},
    )  # fmt: skip
    assert len(decode(response.read(), "wav")[0]) > 0
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input=TEXT, extra_body={"pitch": "high"}
        )
    assert "pitch" in str(refused.value)
