"""`ttscli serve` as a real process on a loopback port, with real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from tests.test_cli_fs2 import ok, one_line_error

TOKEN = "test-token-123"
RATE = 22050
LONG_TEXT = " ".join(f"This is sentence number {n} of a long text." for n in range(300))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path | None = None
    """Where the server's stderr goes (a file: a pipe nobody reads would fill and block)."""
    token: str | None = TOKEN

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None else ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = TOKEN,
        raw=None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, dict(response.headers), payload

    def speech(self, text: str, fmt: str = "pcm", **fields: object) -> tuple[int, bytes]:
        status, _, payload = self.request(
            "POST",
            "/v1/audio/speech",
            {"input": text, "response_format": fmt, **fields},
            token=self.token,
        )
        return status, payload

    def stats(self) -> dict:
        return json.loads(self.request("GET", "/v1/stats", token=self.token)[2])

    def idle(self) -> bool:
        """True once nothing is in flight or queued; waits for jobs of clients that left
        (a ceiling for a leak, not a speed target)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["in_flight"] == 0 and stats["queued"] == 0:
                return True
            time.sleep(0.1)
        return False


def start_server(*args: str, env: dict[str, str] | None = None) -> RunningServer:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="ttscli-serve-")) / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ttscli", "serve", "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    server = RunningServer(port, process, log, TOKEN if TOKEN in args else None)
    deadline = time.monotonic() + 120  # a ceiling for a hang, not a speed target
    while time.monotonic() < deadline:
        assert process.poll() is None, server.stderr()
        try:
            if server.request("GET", "/health", token=None)[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    finally:
        server.process.kill()


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path) -> Iterator[RunningServer]:
    running = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu",
        "--token", TOKEN, "--max-chars", "20000", "--max-streams", "2", "--max-queued", "6",
    )  # fmt: skip
    yield running
    stop_server(running)


def pcm(payload: bytes) -> np.ndarray:
    return np.frombuffer(payload, dtype="<i2")


# --- HTTP ---------------------------------------------------------------------------------


def test_health_needs_no_token_and_names_the_engine(server: RunningServer) -> None:
    status, _, body = server.request("GET", "/health", token=None)
    health = json.loads(body)
    assert status == 200 and health["ready"] is True
    assert health["engine"] == "fs2" and health["sample_rate"] == RATE


def test_every_other_route_needs_the_token(server: RunningServer) -> None:
    for token in (None, "wrong"):
        assert server.request("GET", "/v1/voices", token=token)[0] == 401
        status, _, body = server.request("POST", "/v1/audio/speech", {"input": "Hi."}, token=token)
        assert status == 401 and b"token" in body
    status, _, body = server.request("GET", "/v1/voices")
    voices = json.loads(body)["voices"]  # one voice: fs2 requests cannot name another
    assert status == 200 and len(voices) == 1 and voices[0]["engine"] == "fs2"


def decode(payload: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """Samples and rate of a response body: soundfile where libsndfile reads the format,
    PyAV (FFmpeg) for AAC."""
    if fmt == "pcm":
        return pcm(payload), RATE
    if fmt == "aac":
        import av

        with av.open(io.BytesIO(payload)) as container:
            rate = container.streams.audio[0].rate
            frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
        return np.concatenate(frames), rate
    return sf.read(io.BytesIO(payload), dtype="int16")


# Encoders may add up to two frames of their own (MP3 1152 samples, AAC 1024 each).
LENGTH_TOLERANCE = {"mp3": 0.11, "aac": 0.11, "opus": 0.01, "flac": 0, "wav": 0, "pcm": 0}


def test_every_format_decodes_to_the_right_rate_and_length(server: RunningServer) -> None:
    status, raw = server.speech("Hello world. How are you?", "pcm")
    assert status == 200
    samples = len(pcm(raw))
    assert samples > RATE // 2
    for fmt, rate in (("wav", RATE), ("flac", RATE), ("opus", 24000), ("mp3", RATE),
                      ("aac", RATE)):  # fmt: skip
        status, payload = server.speech("Hello world. How are you?", fmt)
        assert status == 200, payload
        audio, decoded_rate = decode(payload, fmt)
        assert decoded_rate == rate, fmt
        expected = samples * rate / RATE
        tolerance = max(LENGTH_TOLERANCE[fmt], 0.01) * rate
        assert -0.01 * rate <= len(audio) - expected <= tolerance, (fmt, len(audio), expected)
        if fmt in ("wav", "flac"):
            np.testing.assert_array_equal(audio, pcm(raw))


def test_mp3_is_the_default_format_as_in_openais_api(server: RunningServer) -> None:
    status, headers, payload = server.request("POST", "/v1/audio/speech", {"input": "Hi there."})
    assert status == 200 and headers["Content-Type"] == "audio/mpeg"
    audio, rate = decode(payload, "mp3")
    assert rate == RATE and len(audio) > RATE // 4


def test_sse_sends_openais_events(server: RunningServer) -> None:
    import base64

    text = "Hello world. How are you?"
    body = {"input": text, "response_format": "pcm", "stream_format": "sse"}
    status, headers, payload = server.request("POST", "/v1/audio/speech", body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [
        json.loads(line[6:]) for line in payload.decode().split("\n") if line.startswith("data: ")
    ]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == 5
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert audio == server.speech("Hello world. How are you?", "pcm")[1]


def test_models_lists_the_engine_and_openais_names(server: RunningServer) -> None:
    status, _, body = server.request("GET", "/v1/models")
    listing = json.loads(body)
    ids = [m["id"] for m in listing["data"]]
    assert status == 200 and listing["object"] == "list" and ids[0] == "fs2"
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= set(ids)
    assert server.request("GET", "/v1/models", token=None)[0] == 401


def test_openais_own_fields_are_accepted_and_ours_are_checked(server: RunningServer) -> None:
    fields = {"model": "gpt-4o-mini-tts", "instructions": "Speak calmly.", "future_field": [1]}
    assert server.speech("Hello.", **fields)[0] == 200
    assert server.speech("Hello.", voice="marin")[0] == 200
    status, payload = server.speech("Hello.", energy="loud")
    assert status == 400 and b"energy" in payload


def test_prometheus_metrics_count_requests(server: RunningServer) -> None:
    assert server.request("GET", "/metrics", token=None)[0] == 401
    before = server.request("GET", "/metrics")[2].decode()
    assert server.speech("Counted.")[0] == 200
    status, headers, body = server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")

    def value(name: str, source: str) -> float:
        lines = [x for x in source.splitlines() if x.startswith(name)]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    served = 'ttscli_requests_total{route="speech",status="200"}'
    assert value(served, text) == value(served, before) + 1
    assert value("ttscli_first_audio_seconds_count", text) >= 1
    assert value("ttscli_audio_seconds_total", text) > value("ttscli_audio_seconds_total", before)
    for name in ("ttscli_requests_in_flight", "ttscli_requests_queued",
                 "ttscli_real_time_factor_bucket", "ttscli_refused_requests_total"):  # fmt: skip
        assert name in text, name


def test_pcm_names_its_rate_and_the_body_streams(server: RunningServer) -> None:
    """The first bytes arrive while the rest is still being made: the server's counters say
    the request is in flight after the client has read its first audio."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    body = json.dumps({"input": LONG_TEXT, "response_format": "pcm"})
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/audio/speech", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["X-Sample-Rate"] == str(RATE)
    assert response.headers["Transfer-Encoding"] == "chunked"
    first = response.read1(4096)
    assert first
    # The client has not read on: the engine cannot have finished the long text.
    assert server.stats()["in_flight"] >= 1
    connection.close()
    assert server.idle()


def test_bad_requests_get_4xx_and_the_server_keeps_serving(server: RunningServer) -> None:
    speech = "/v1/audio/speech"
    cases = [
        (None, b"{not json", 400),
        (None, b"[1, 2]", 400),
        ({"voice": "bundled"}, None, 400),  # no input
        ({"input": "   "}, None, 400),
        ({"input": 42}, None, 400),
        ({"input": "x" * 20001}, None, 413),
        ({"input": "Hi.", "voice": "../../etc/passwd"}, None, 400),
        ({"input": "Hi.", "response_format": "ogg_vorbis"}, None, 400),
        ({"input": "Hi.", "stream_format": "chunks"}, None, 400),
        ({"input": "Hi.", "pitch": "high"}, None, 400),
        ({"input": "Hi.", "speed": 0}, None, 400),
        ({"input": "Hi.", "duration": float("nan")}, None, 400),
        ({"input": "..."}, None, 400),
        ({"input": "{ZZ9} hi"}, None, 400),
    ]
    for body, raw, expected in cases:
        status, _, payload = server.request("POST", speech, body, raw=raw)
        assert status == expected, (body, raw, payload)
        assert json.loads(payload)["error"]["message"], payload
    assert server.speech("Still here.")[0] == 200


def test_openai_voice_names_and_speed_are_understood(server: RunningServer) -> None:
    normal = len(pcm(server.speech("Hello world.", voice="alloy")[1]))
    fast = len(pcm(server.speech("Hello world.", voice="alloy", speed=2.0)[1]))
    assert fast == pytest.approx(normal / 2, rel=0.15)


def test_sixteen_concurrent_clients_are_served_or_cleanly_refused(server: RunningServer) -> None:
    async def one(session: aiohttp.ClientSession, n: int) -> tuple[int, int]:
        async with session.post(
            f"{server.url}/v1/audio/speech",
            json={"input": f"Client number {n} says hello. And goodbye.", "response_format": "pcm"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            body = await response.read()
            if response.status == 503:
                assert response.headers["Retry-After"]
            return response.status, len(body)

    async def everyone() -> list[tuple[int, int]]:
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(one(session, n) for n in range(16)))

    results = asyncio.run(everyone())
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 503}
    # 2 running + 6 waiting fit; the rest may be refused, and at least those 8 are served
    assert statuses.count(200) >= 8
    assert all(size > 0 for status, size in results if status == 200)
    assert server.idle()


def test_a_client_that_hangs_up_disturbs_no_one_and_leaks_nothing(server: RunningServer) -> None:
    quitter = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    body = json.dumps({"input": LONG_TEXT, "response_format": "pcm"})
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    quitter.request("POST", "/v1/audio/speech", body=body, headers=headers)
    response = quitter.getresponse()
    assert response.read1(1024)
    quitter.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    quitter.close()
    status, payload = server.speech("Meanwhile, another client is served.")
    assert status == 200 and len(payload) > 0
    assert server.idle()


def test_hang_ups_resets_and_bad_frames_leave_one_line_each_and_no_traceback(
    server: RunningServer,
) -> None:
    body = json.dumps({"input": LONG_TEXT, "response_format": "pcm"}).encode()
    request = (
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    for reset in (False, True, False, True):
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(request)
            assert client.recv(4096)  # audio is flowing
            if reset:  # an abortive close: the server gets a TCP reset
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    asyncio.run(ws_session(server, [b"\x00\x01binary"]))
    asyncio.run(ws_session(server, ["not an object"]))
    assert server.idle()
    assert server.speech("Still serving.")[0] == 200
    log = server.stderr()
    assert "Traceback" not in log, log
    assert log.count("left after") >= 4, log
    assert '"POST /v1/audio/speech HTTP/1.1" 200' in log  # the access log


# --- WebSocket ----------------------------------------------------------------------------


async def ws_session(server: RunningServer, messages: list, token: str | None = TOKEN):
    """Send ``messages`` (dicts as JSON, bytes as binary), collect audio bytes and events."""
    query = f"?token={token}" if token else ""
    audio = bytearray()
    events = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{server.url}/v1/stream{query}") as ws,
    ):
        events.append(await ws.receive_json())
        for message in messages:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            elif isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_json(message)
        await read_to_close(ws, audio, events)
    return bytes(audio), events


async def read_to_close(ws, audio: bytearray, events: list) -> None:
    """Audio frames into ``audio`` and events into ``events`` until the server closes."""
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            audio += message.data
        elif message.type == aiohttp.WSMsgType.TEXT:
            events.append(json.loads(message.data))


def test_websocket_fragments_split_mid_word_sound_like_the_whole_text(
    server: RunningServer,
) -> None:
    text = "Hello there. How are you today? Fine"
    pieces = ["Hel", "lo th", "ere. H", "ow are y", "ou today", "? Fi", "ne"]
    messages = [{"type": "start", "pitch": 1.0}]
    messages += [{"type": "text", "text": p} for p in pieces] + [{"type": "end"}]
    audio, events = asyncio.run(ws_session(server, messages))
    assert events[0] == {"type": "ready", "engine": "fs2", "sample_rate": RATE}
    sentences = [e for e in events if e["type"] == "sentence"]
    assert [e["text"] for e in sentences] == ["Hello there.", "How are you today?", "Fine"]
    assert events[-1]["type"] == "done"
    assert audio == server.speech(text)[1]
    ends = [e["end"] for e in sentences]
    assert ends == sorted(ends) and ends[-1] == pytest.approx(len(audio) / 2 / RATE, abs=1e-3)


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([b"\x00\xffgarbage"], "binary"),
        ([{"type": "shout"}], "unknown message type"),
        ([{"type": "end"}], "nothing to say"),
        ([{"type": "text", "text": 5}], "string"),
        ([{"type": "start", "voice": "nobody"}], "voice"),
        ([{"type": "text", "text": "x" * 20001}], "limit"),
    ],
)
def test_websocket_bad_messages_get_an_error_event(
    server: RunningServer, messages: list, fragment: str
) -> None:
    _, events = asyncio.run(ws_session(server, messages))
    assert events[-1]["type"] == "error" and fragment in events[-1]["message"], events
    assert server.speech("Still serving.")[0] == 200


def test_websocket_without_token_is_refused(server: RunningServer) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        asyncio.run(ws_session(server, [], token=None))
    assert info.value.status == 401


# --- the CLI as a client, and starting a server wrong ---------------------------------------


def test_cli_client_writes_what_a_local_run_writes(
    server: RunningServer, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    remote, local = tmp_path / "remote.wav", tmp_path / "local.wav"
    env = dict(os.environ, TTSCLI_TOKEN=TOKEN)
    ok(run_cli("fs2", "Hello world. Again.", "--server", server.url, "--out", str(remote), env=env))
    local_args = ["--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim"]
    local_args += ["--device", "cpu", "--out", str(local)]
    ok(run_cli("fs2", "Hello world. Again.", *local_args))
    np.testing.assert_array_equal(sf.read(str(remote))[0], sf.read(str(local))[0])
    wrong = dict(os.environ, TTSCLI_TOKEN="nope")
    one_line_error(
        run_cli("fs2", "Hi.", "--server", server.url, "--out", str(remote), env=wrong), "401"
    )


def test_cli_client_does_not_import_torch(server: RunningServer, tmp_path: Path) -> None:
    code = (
        "import sys, runpy; sys.argv = ['ttscli', 'fs2', 'Hello.', '--server', "
        f"'{server.url}', '--token', '{TOKEN}', '--out', '{tmp_path / 'a.wav'}', '--quiet'];"
        "\ntry:\n    runpy.run_module('ttscli', run_name='__main__')\nexcept SystemExit:\n    pass"
        "\nprint('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.stdout.decode().strip().splitlines()[-1] == "False", result.stderr.decode()
    assert sf.info(str(tmp_path / "a.wav")).frames > 0


def test_starting_a_server_wrongly_is_a_one_line_error(server: RunningServer) -> None:
    one_line_error(run_cli("serve", "--host", "0.0.0.0", "--port", "9"), "--token")
    one_line_error(run_cli("serve", "--port", str(server.port)), "cannot listen")
    one_line_error(run_cli("serve", "--engine", "nope", "--port", str(free_port())), "--engine")


# --- speak (Kyutai) on the tiny checkpoint -------------------------------------------------


@pytest.fixture(scope="module")
def speak_server(tiny_kyutai) -> Iterator[RunningServer]:
    from tests.test_cli_speak import speak_env

    env_before = dict(os.environ)
    os.environ.update(speak_env(tiny_kyutai))
    try:
        running = start_server(
            "--engine", "speak", "--hf-repo", tiny_kyutai.model_repo,
            "--voice-repo", tiny_kyutai.voice_repo, "--voice", tiny_kyutai.voice_name,
            "--device", "cpu", "--seed", "3", "--n-q", "8",
        )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    yield running
    stop_server(running)


def test_speak_serves_http_and_words_over_the_websocket(speak_server: RunningServer) -> None:
    from ttscli.kyutai.synthetic import OTHER_VOICES

    status, _, body = speak_server.request("GET", "/v1/voices")
    voice, *others = json.loads(body)["voices"]
    assert status == 200 and voice["engine"] == "kyutai" and voice["licence"] == "CC-BY 4.0"
    assert voice["default"] and voice["fields"]
    # The voices a request may name: those of the voice repo this machine holds.
    assert [v["name"] for v in others] == sorted(OTHER_VOICES)
    assert all(v["engine"] == "kyutai" and "default" not in v for v in others)
    licences = {v["name"]: v["licence"] for v in others}
    assert licences["expresso/ex99-tiny_happy.wav"] != licences["voice-donations/tiny.wav"]
    status, payload = speak_server.speech("Hello world, this is Kyutai.")
    assert status == 200 and len(payload) > 24000  # more than half a second at 24 kHz
    assert speak_server.speech("Hi.", seed=99)[0] == 400  # fixed when the server started
    pieces = ["Hel", "lo wor", "ld, thank ", "you."]
    messages = [{"type": "text", "text": p} for p in pieces] + [{"type": "end"}]
    audio, events = asyncio.run(ws_session(speak_server, messages))
    assert events[0]["sample_rate"] == 24000
    words = [e["text"] for e in events if e["type"] == "word"]
    assert words == ["Hello", "world,", "thank", "you."]
    assert events[-1]["type"] == "done" and len(audio) > 0


def test_speak_serves_ssml_marks_volume_and_silences_from_its_slots(
    speak_server: RunningServer,
) -> None:
    """Kyutai's slots follow markup as its stream does: marks at word starts, a span's
    volume, and the request's sentence silence as a break the model reads."""
    document = ('<speak>One two <mark name="m"/><prosody volume="+6dB">three four.'
                "</prosody> Five six.</speak>")  # fmt: skip
    messages = [{"type": "start", "ssml": True}, {"type": "text", "text": document},
                {"type": "end"}]  # fmt: skip
    _, events = asyncio.run(ws_session(speak_server, messages))
    words = {e["text"]: e for e in events if e["type"] == "word"}
    marks = [e for e in events if e["type"] == "mark"]
    assert [m["name"] for m in marks] == ["m"]
    assert marks[0]["time"] == words["three"]["start"]
    assert not [e for e in events if e["type"] == "warning"]
    plain = speak_server.speech("One two three four. Five six.")[1]
    spaced = speak_server.speech("One two three four. Five six.", sentence_silence=1.0)[1]
    assert len(spaced) > len(plain)


def test_speak_streams_two_clients_at_once_in_one_batched_loop(
    speak_server: RunningServer,
) -> None:
    """Both requests stream before either ends: they are slots of one batched model loop,
    not a queue."""

    async def both() -> list[tuple[int, int, float, float]]:
        async with aiohttp.ClientSession() as session:

            async def one(text: str) -> tuple[int, int, float, float]:
                async with session.post(
                    f"{speak_server.url}/v1/audio/speech",
                    json={"input": text, "response_format": "pcm"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as response:
                    size, first = 0, float("inf")
                    async for piece in response.content.iter_any():
                        if piece and size == 0:
                            first = time.monotonic()
                        size += len(piece)
                    return response.status, size, first, time.monotonic()

            return await asyncio.gather(
                one("One two three four five six seven eight nine ten."),
                one("Eleven twelve thirteen fourteen fifteen sixteen seventeen."),
            )

    results = asyncio.run(both())
    assert all(status == 200 and size > 0 for status, size, _, _ in results), results
    firsts, ends = [r[2] for r in results], [r[3] for r in results]
    assert max(firsts) < min(ends), results


# --- SSML through the protocols ---------------------------------------------------------------

SSML = '<speak>Hello <break time="500ms"/>there. <voice name="x">Again.</voice></speak>'


def test_ssml_input_is_spoken_and_its_warnings_are_a_header(server: RunningServer) -> None:
    status, headers, body = server.request(
        "POST", "/v1/audio/speech", {"input": SSML, "response_format": "pcm"}
    )
    assert status == 200 and "voice" in headers["X-TTSCLI-Warnings"]
    plain = server.speech("Hello there. Again.", "pcm")[1]
    assert (len(body) - len(plain)) / 2 / RATE == pytest.approx(0.5, abs=0.02)
    status, _, body = server.request("POST", "/v1/audio/speech", {"input": "<speak><b></speak>"})
    assert status == 400 and b"SSML" in body


def test_ssml_over_the_websocket_split_mid_tag(server: RunningServer) -> None:
    pieces = [SSML[:9], SSML[9:20], SSML[20:]]
    messages = [{"type": "start", "ssml": True}]
    messages += [{"type": "text", "text": p} for p in pieces] + [{"type": "end"}]
    audio, events = asyncio.run(ws_session(server, messages))
    warnings = [e for e in events if e["type"] == "warning"]
    assert warnings and "voice" in warnings[0]["message"]
    assert events[-1]["type"] == "done"
    status, _, body = server.request(
        "POST", "/v1/audio/speech", {"input": SSML, "response_format": "pcm"}
    )
    assert status == 200 and audio == body


def start_greedy_kyutai(tiny_kyutai) -> RunningServer:
    """A Kyutai server with greedy sampling: the same request gives the same audio every
    time, whichever route it comes by."""
    from tests.test_cli_speak import speak_env

    return start_server(
        "--engine", "kyutai", "--hf-repo", tiny_kyutai.model_repo,
        "--voice-repo", tiny_kyutai.voice_repo, "--voice", tiny_kyutai.voice_name,
        "--device", "cpu", "--temp", "0", "--n-q", "8", env=speak_env(tiny_kyutai),
    )  # fmt: skip


@pytest.fixture(scope="module")
def greedy_speak_server(tiny_kyutai) -> Iterator[RunningServer]:
    running = start_greedy_kyutai(tiny_kyutai)
    yield running
    stop_server(running)


def test_speak_serves_other_voices_and_dialogues_but_reads_no_path(
    greedy_speak_server: RunningServer, tiny_kyutai
) -> None:
    """A request names its voice (OpenAI's ``voice``, or ``voices``), or two for a
    dialogue whose turns arrive labelled over the WebSocket; a path is refused."""
    from ttscli.kyutai.synthetic import OTHER_VOICES

    speak_server = greedy_speak_server

    text = "Hello world, this is Kyutai."
    _, served = speak_server.speech(text)
    status, other = speak_server.speech(text, voice=OTHER_VOICES[0])
    assert status == 200 and other != served
    assert speak_server.speech(text, voices=[OTHER_VOICES[0]]) == (200, other)
    for path in (str(tiny_kyutai.voice_file), "../../etc/passwd", "hf://org/repo/x"):
        status, body = speak_server.speech(text, voice=path)
        assert status == 400 and b"not a file path" in body
    assert speak_server.speech(text, voices=["a", "b", "c"])[0] == 400
    pair = [tiny_kyutai.voice_name, OTHER_VOICES[0]]
    pieces = ["[S1] Hel", "lo there. [S", "2] Hi, how", " are you?"]
    messages = [{"type": "start", "voices": pair}]
    messages += [{"type": "text", "text": p} for p in pieces] + [{"type": "end"}]
    audio, events = asyncio.run(ws_session(speak_server, messages))
    words = [(e["text"], e.get("speaker")) for e in events if e["type"] == "word"]
    assert words == [("Hello", 1), ("there.", 1), ("Hi,", 2), ("how", 2), ("are", 2),
                     ("you?", 2)]  # fmt: skip
    status, whole = speak_server.speech("".join(pieces), voices=pair)
    assert status == 200 and whole == audio


def test_a_stream_outlasting_the_heartbeat_after_end_is_not_cut(tiny_checkpoint: Path) -> None:
    """After ``end`` the server still reads the socket, so the client's answers to its pings
    are seen: a long text whose audio takes longer to make than the heartbeat allows a
    silent peer (``--heartbeat 1``: answer within half a second) arrives whole, and sounds
    as the same text over HTTP."""
    running = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu",
        "--token", TOKEN, "--heartbeat", "1",
    )  # fmt: skip
    try:
        text = " ".join(f"This is sentence number {n} of a long text." for n in range(1, 121))
        messages = [{"type": "start"}, {"type": "text", "text": text}, {"type": "end"}]
        audio, events = asyncio.run(ws_session(running, messages))
        kinds = [event["type"] for event in events]
        assert kinds[-1] == "done", (kinds[-3:], running.stderr()[-500:])
        assert kinds.count("sentence") == 120
        status, whole = running.speech(text)
        assert status == 200 and len(audio) == len(whole)
    finally:
        stop_server(running)


def test_ssml_over_the_websocket_is_heard_before_the_document_ends(
    server: RunningServer,
) -> None:
    """SSML streams like text: a sentence whose markup has closed is spoken while the rest of
    the document is still on its way, and the whole sounds as the same document over HTTP."""
    head = "<speak>Hello there. <break time='300ms'/>This is the "
    tail = "second sentence, <emphasis>stressed</emphasis>. And a third.</speak>"

    async def session() -> tuple[bytes, list[dict]]:
        audio = bytearray()
        events: list[dict] = []
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(f"{server.url}/v1/stream?token={TOKEN}") as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "start", "ssml": True})
            await ws.send_json({"type": "text", "text": head})
            while not audio:  # the first sentence, before the document's end is sent
                message = await ws.receive(timeout=120)  # a ceiling for a hang
                if message.type == aiohttp.WSMsgType.BINARY:
                    audio += message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    events.append(json.loads(message.data))
                else:
                    raise AssertionError(f"closed before any audio: {events}")
            await ws.send_json({"type": "text", "text": tail})
            await ws.send_json({"type": "end"})
            await read_to_close(ws, audio, events)
        return bytes(audio), events

    audio, events = asyncio.run(session())
    assert events[-1]["type"] == "done", events[-3:]
    status, _, whole = server.request(
        "POST", "/v1/audio/speech", {"input": head + tail, "response_format": "pcm"}
    )
    assert status == 200 and audio == whole
