"""``ttscli fs2|speak --server URL``: ask a running server and play or write what it streams.

The standard library's HTTP client and the sinks are all this needs: no torch, no model, so
a short phrase costs a process start and a request, not a model load.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any

import numpy as np

from ttscli.audio.sinks import Sink
from ttscli.engines.base import RunStats
from ttscli.util.errors import UserError

READ_SIZE = 8192
SAMPLE_RATE_HEADER = "X-Sample-Rate"


def speak_via_server(
    url: str,
    fields: dict[str, Any],
    open_sink: Any,
    token: str | None = None,
    timeout: float = 300.0,
) -> RunStats:
    """POST the request, stream the PCM answer into the sink ``open_sink(rate)`` makes."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UserError(f"--server {url}: expected http://HOST:PORT")
    connection_type = (
        http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parsed.hostname, parsed.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({**fields, "response_format": "pcm"}).encode()
    path = parsed.path.rstrip("/") + "/v1/audio/speech"
    started = time.perf_counter()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
    except OSError as exc:
        raise UserError(f"--server {url}: cannot connect ({exc.strerror or exc})") from None
    if response.status != 200:
        raise UserError(f"--server {url}: {response.status} {_error_message(response)}")
    rate = int(response.headers.get(SAMPLE_RATE_HEADER, "0"))
    if rate <= 0:
        raise UserError(f"--server {url}: the answer names no sample rate")
    stats = RunStats()
    sink: Sink = open_sink(rate)
    carry = b""
    try:
        while data := response.read1(READ_SIZE):
            if stats.first_audio_seconds is None:
                stats.first_audio_seconds = time.perf_counter() - started
            data = carry + data
            usable = len(data) - len(data) % 2
            carry = data[usable:]
            # Exact: a file written from these floats holds the very samples sent.
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
            sink.write(samples)
            stats.audio_seconds += len(samples) / rate
    except BaseException:
        sink.abort()
        raise
    finally:
        connection.close()
    sink.close()
    stats.wall_seconds = stats.compute_seconds = time.perf_counter() - started
    stats.underruns = sink.underruns
    return stats


def _error_message(response: http.client.HTTPResponse) -> str:
    raw = response.read(4096)
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace").strip()[:200] or response.reason
