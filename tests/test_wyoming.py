"""Home Assistant's Wyoming protocol, driven by the ``wyoming`` package's own client against
a real server process: describe, synthesize, and streaming synthesis, for both engines."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from tests.test_serve import RATE, RunningServer, free_port, start_server, stop_server

HANG = 120.0
"""A ceiling for a hang, never a speed target."""


class Wyoming:
    def __init__(self, server: RunningServer, port: int) -> None:
        self.server = server
        self.port = port

    async def exchange(self, events: list[Event], until: str) -> list[Event]:
        """Send ``events``, then read until an event of type ``until`` (or an error)."""
        async with AsyncTcpClient("127.0.0.1", self.port) as client:
            for event in events:
                await client.write_event(event)
            return await read_until(client, until)


async def read_until(client: AsyncTcpClient, until: str) -> list[Event]:
    received: list[Event] = []
    while True:
        event = await asyncio.wait_for(client.read_event(), HANG)
        assert event is not None, received
        received.append(event)
        if event.type in (until, "error"):
            return received


def audio_of(events: list[Event]) -> np.ndarray:
    chunks = [AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type)]
    return np.frombuffer(b"".join(chunks), dtype="<i2")


def start_with_wyoming(*args: str, env: dict[str, str] | None = None) -> Wyoming:
    port = free_port()
    server = start_server(*args, "--wyoming", f"tcp://127.0.0.1:{port}", env=env)
    return Wyoming(server, port)


@pytest.fixture(scope="module")
def fs2_wyoming(tiny_checkpoint: Path) -> Iterator[Wyoming]:
    running = start_with_wyoming(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu"
    )
    yield running
    stop_server(running.server)


def test_describe_answers_with_the_voice_and_streaming(fs2_wyoming: Wyoming) -> None:
    events = asyncio.run(fs2_wyoming.exchange([Describe().event()], "info"))
    info = Info.from_event(events[-1])
    program = info.tts[0]
    assert program.name == "ttscli" and program.installed
    assert program.supports_synthesize_streaming
    voice = program.voices[0]
    assert voice.name == "tiny" and voice.languages == ["en"]
    assert voice.attribution.name and voice.description


def test_synthesize_streams_audio_events(fs2_wyoming: Wyoming) -> None:
    text = "Hello world. How are you?"
    events = asyncio.run(fs2_wyoming.exchange([Synthesize(text=text).event()], "audio-stop"))
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (RATE, 2, 1)
    assert AudioStop.is_type(events[-1].type)
    expected = np.frombuffer(fs2_wyoming.server.speech(text, "pcm")[1], "<i2")
    np.testing.assert_array_equal(audio_of(events), expected)


def test_streaming_synthesis_speaks_each_sentence_as_it_completes(fs2_wyoming: Wyoming) -> None:
    async def conversation() -> tuple[list[Event], list[Event]]:
        async with AsyncTcpClient("127.0.0.1", fs2_wyoming.port) as client:
            await client.write_event(SynthesizeStart().event())
            # Home Assistant also sends a plain synthesize, for servers that cannot stream.
            await client.write_event(Synthesize(text="Ignored text here.").event())
            await client.write_event(SynthesizeChunk(text="Hello there. How").event())
            # The first sentence is complete: its audio comes before the text ends.
            early = await read_until(client, "audio-chunk")
            await client.write_event(SynthesizeChunk(text=" are you?").event())
            await client.write_event(SynthesizeStop().event())
            rest = await read_until(client, "synthesize-stopped")
            return early, rest

    early, rest = asyncio.run(conversation())
    assert [e.type for e in early] == ["audio-start", "audio-chunk"]
    assert [e.type for e in rest[-2:]] == ["audio-stop", "synthesize-stopped"]
    assert SynthesizeStopped.is_type(rest[-1].type)
    streamed = audio_of(early + rest)
    whole = fs2_wyoming.server.speech("Hello there. How are you?", "pcm")[1]
    np.testing.assert_array_equal(streamed, np.frombuffer(whole, "<i2"))


def test_a_wrong_voice_or_too_much_text_gets_an_error_event(fs2_wyoming: Wyoming) -> None:
    voice = SynthesizeVoice(name="somebody-else")
    events = asyncio.run(
        fs2_wyoming.exchange([Synthesize(text="Hi.", voice=voice).event()], "audio-stop")
    )
    assert Error.is_type(events[-1].type) and "voice" in Error.from_event(events[-1]).text
    events = asyncio.run(
        fs2_wyoming.exchange([Synthesize(text="x " * 15000).event()], "audio-stop")
    )
    assert Error.is_type(events[-1].type) and "limit" in Error.from_event(events[-1]).text
    assert fs2_wyoming.server.speech("Still serving.", "pcm")[0] == 200


def test_wyoming_alone_without_http(tiny_checkpoint: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ttscli", "serve", "--no-http", "--wyoming",
         f"tcp://127.0.0.1:{port}", "--checkpoint", str(tiny_checkpoint), "--vocoder",
         "griffin-lim"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + HANG
        while True:
            assert process.poll() is None
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        wyoming = Wyoming(RunningServer(0, process), port)
        events = asyncio.run(wyoming.exchange([Synthesize(text="Hello.").event()], "audio-stop"))
        assert AudioStop.is_type(events[-1].type) and len(audio_of(events)) > 0
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_kyutai_over_wyoming(tiny_kyutai) -> None:
    from tests.test_cli_speak import speak_env
    from ttscli.kyutai.synthetic import OTHER_VOICES

    running = start_with_wyoming(
        "--engine", "kyutai", "--hf-repo", tiny_kyutai.model_repo,
        "--voice-repo", tiny_kyutai.voice_repo, "--voice", tiny_kyutai.voice_name,
        "--device", "cpu", "--seed", "3", "--n-q", "8", "--temp", "0",
        env=speak_env(tiny_kyutai, dict(os.environ)),
    )  # fmt: skip
    try:
        info = Info.from_event(asyncio.run(running.exchange([Describe().event()], "info"))[-1])
        voices = info.tts[0].voices
        assert [v.name for v in voices] == [tiny_kyutai.voice_name, *sorted(OTHER_VOICES)]
        assert all(v.languages == ["en", "fr"] and v.installed for v in voices)

        async def streamed() -> list[Event]:
            async with AsyncTcpClient("127.0.0.1", running.port) as client:
                await client.write_event(SynthesizeStart().event())
                for piece in ("Hel", "lo wor", "ld, thank ", "you."):
                    await client.write_event(SynthesizeChunk(text=piece).event())
                await client.write_event(SynthesizeStop().event())
                return await read_until(client, "synthesize-stopped")

        events = asyncio.run(streamed())
        assert AudioStart.from_event(events[0]).rate == 24000
        assert len(audio_of(events)) > 0 and events[-2].type == "audio-stop"

        def said(voice: str | None) -> np.ndarray:
            asked = Synthesize(text="Hello world.", voice=SynthesizeVoice(name=voice))
            return audio_of(asyncio.run(running.exchange([asked.event()], "audio-stop")))

        # A request's own voice of the served repo, as over HTTP; greedy, so repeatable.
        served, other = said(None), said(OTHER_VOICES[0])
        assert np.array_equal(said(tiny_kyutai.voice_name), served)
        assert np.array_equal(said(OTHER_VOICES[0]), other)
        assert len(other) != len(served) or not np.array_equal(other, served)
        status, body = running.server.speech("Hello world.", voice=OTHER_VOICES[0])
        assert status == 200 and np.array_equal(np.frombuffer(body, dtype="<i2"), other)
        for refused in ("/etc/passwd", "../x.safetensors"):
            asked = Synthesize(text="Hi.", voice=SynthesizeVoice(name=refused))
            last = asyncio.run(running.exchange([asked.event()], "audio-stop"))[-1]
            assert Error.is_type(last.type) and "voice" in Error.from_event(last).text
    finally:
        stop_server(running.server)


def test_wyoming_refuses_other_machines_without_a_flag(tiny_checkpoint: Path) -> None:
    from tests.conftest import run_cli
    from tests.test_cli_fs2 import one_line_error

    result = run_cli("serve", "--wyoming", "tcp://0.0.0.0:10200", "--port", str(free_port()))
    one_line_error(result, "--wyoming", "loopback")
    one_line_error(run_cli("serve", "--no-http"), "--wyoming")
    one_line_error(run_cli("serve", "--wyoming", "udp://x:1"), "tcp://HOST:PORT")


def test_ssml_over_wyoming(fs2_wyoming: Wyoming) -> None:
    ssml = '<speak>Hello <break time="500ms"/>there.</speak>'
    events = asyncio.run(
        fs2_wyoming.exchange([Synthesize(text=ssml, text_format="ssml").event()], "audio-stop")
    )
    plain = np.frombuffer(fs2_wyoming.server.speech("Hello there.", "pcm")[1], "<i2")
    assert (len(audio_of(events)) - len(plain)) / RATE == pytest.approx(0.5, abs=0.02)

    async def streamed() -> list[Event]:
        async with AsyncTcpClient("127.0.0.1", fs2_wyoming.port) as client:
            await client.write_event(SynthesizeStart(text_format="ssml").event())
            for piece in (ssml[:10], ssml[10:25], ssml[25:]):
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(SynthesizeStop().event())
            return await read_until(client, "synthesize-stopped")

    np.testing.assert_array_equal(audio_of(asyncio.run(streamed())), audio_of(events))
