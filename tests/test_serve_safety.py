"""A server without a token (the loopback default) refuses what a foreign web page can make
a browser send: a WebSocket from another Origin, a cross-site text/plain POST, and a
request under a name that is not the server's (DNS rebinding)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.test_serve import RunningServer, start_server, stop_server


@pytest.fixture(scope="module")
def open_server(tiny_checkpoint: Path) -> Iterator[RunningServer]:
    running = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--device", "cpu",
        "--allowed-host", "tts.home.arpa", "--cors", "http://app.example:5173",
    )  # fmt: skip
    yield running
    stop_server(running)


SPEECH = {"input": "Hello.", "response_format": "pcm"}


def post(server: RunningServer, headers: dict[str, str], raw: bytes | None = None) -> int:
    body = raw if raw is not None else json.dumps(SPEECH).encode()
    return server.request("POST", "/v1/audio/speech", raw=body, token=None, headers=headers)[0]


def test_a_cross_site_text_plain_post_is_refused(open_server: RunningServer) -> None:
    assert post(open_server, {"Content-Type": "text/plain"}) == 415
    assert post(open_server, {"Content-Type": "application/x-www-form-urlencoded"}) == 415
    assert post(open_server, {"Content-Type": "application/json"}) == 200


def test_a_foreign_host_name_is_refused(open_server: RunningServer) -> None:
    for name in ("evil.example", "evil.example:8000", "127.0.0.1.nip.io"):
        status = open_server.request("GET", "/v1/voices", token=None, headers={"Host": name})[0]
        assert status == 421, name
        assert post(open_server, {"Host": name}) == 421
    for name in (f"localhost:{open_server.port}", f"127.0.0.1:{open_server.port}",
                 "tts.home.arpa:8000", "[::1]:8000"):  # fmt: skip
        status = open_server.request("GET", "/v1/voices", token=None, headers={"Host": name})[0]
        assert status == 200, name


def test_a_page_of_another_origin_is_refused(open_server: RunningServer) -> None:
    own = f"http://127.0.0.1:{open_server.port}"
    assert post(open_server, {"Origin": "https://evil.example"}) == 403
    assert post(open_server, {"Origin": "null"}) == 403
    assert post(open_server, {"Origin": own}) == 200
    assert post(open_server, {"Origin": "http://app.example:5173"}) == 200  # --cors


async def handshake(server: RunningServer, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(f"{server.url}/v1/stream", headers=headers) as ws:
                ready = await ws.receive_json()
                assert ready["type"] == "ready"
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_a_websocket_from_another_origin_is_refused(open_server: RunningServer) -> None:
    own = f"http://127.0.0.1:{open_server.port}"
    assert asyncio.run(handshake(open_server, "https://evil.example")) == 403
    assert asyncio.run(handshake(open_server, own)) == 101
    assert asyncio.run(handshake(open_server, None)) == 101  # not a browser


def test_with_a_token_the_token_is_the_protection(tiny_checkpoint: Path) -> None:
    server = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--token", "t0k",
    )  # fmt: skip
    try:
        headers = {"Host": "tts.lan", "Authorization": "Bearer t0k"}
        assert post(server, headers) == 200
        assert post(server, {"Host": "tts.lan"}) == 401
    finally:
        stop_server(server)


def test_aac_without_pyav_names_the_extra_and_log_level_quiets_the_access_log(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A server whose Python cannot import PyAV (a stand-in package that fails to import,
    first on the path) answers aac with a 400 that names the extra."""
    import os

    blocker = tmp_path / "no_av" / "av"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('PyAV is not installed')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker.parent), env.get("PYTHONPATH")]))
    server = start_server(
        "--checkpoint", str(tiny_checkpoint), "--vocoder", "griffin-lim", "--log-level",
        "warning", env=env,
    )  # fmt: skip
    try:
        status, payload = server.speech("Hello.", "aac")
        assert status == 400 and b"ttscli[aac]" in payload
        assert server.speech("Hello.", "mp3")[0] == 200
        assert "/v1/audio/speech" not in server.stderr()  # no access-log lines at warning
    finally:
        stop_server(server)
