"""``POST /v1/audio/speech``: OpenAI's speech route. The audio streams as each piece is
made, as raw bytes in the chosen format or, with ``stream_format: "sse"``, as OpenAI's
server-sent events (``speech.audio.delta`` with base64 audio, then ``speech.audio.done``).

A client that hangs up mid-stream is normal: its job ends, its slot is freed, and the log
gets one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from ttscli.engines.base import Chunk
from ttscli.serve.encoders import (
    DEFAULT_FORMAT,
    FORMATS,
    Encoder,
    EncoderUnavailable,
    encoder_for,
)
from ttscli.serve.metrics import RequestRecord
from ttscli.serve.responses import error_response, read_json_object
from ttscli.serve.scheduler import DONE, Failed
from ttscli.serve.voices import RequestError

if TYPE_CHECKING:
    from ttscli.serve.app import Server

SAMPLE_RATE_HEADER = "X-Sample-Rate"
WARNINGS_HEADER = "X-TTSCLI-Warnings"
"""What the engine cannot honour of the request's SSML, joined by "; "."""
STREAM_FORMATS = ("audio", "sse")
ROUTE = "speech"

log = logging.getLogger("ttscli.serve")


async def speech(server: Server, request: web.Request) -> web.StreamResponse:
    fields = await read_json_object(request)
    text = server.check_text(fields.get("input"))
    response_format = fields.get("response_format") or DEFAULT_FORMAT
    if response_format not in FORMATS:
        raise RequestError(f"response_format: one of {', '.join(FORMATS)}")
    stream_format = fields.get("stream_format") or "audio"
    if stream_format not in STREAM_FORMATS:
        raise RequestError(f"stream_format: one of {', '.join(STREAM_FORMATS)}")
    options = server.served.options(fields)  # the voice too
    engine = server.served.engine
    try:
        encoder = encoder_for(response_format, engine.sample_rate)
    except EncoderUnavailable as exc:
        raise RequestError(str(exc)) from None
    spoken, warnings = server.served.spoken(text, options)
    job = server.submit(options, ROUTE)
    job.add_text(spoken)
    job.close_input()
    record = RequestRecord(ROUTE)
    body = SseBody(text) if stream_format == "sse" else AudioBody()
    response = web.StreamResponse(
        headers={
            "Content-Type": body.content_type(encoder),
            SAMPLE_RATE_HEADER: str(encoder.output_rate),
            "Cache-Control": "no-store",
            **({WARNINGS_HEADER: header_safe("; ".join(warnings))} if warnings else {}),
        }
    )
    response.enable_chunked_encoding()
    status: int | str = 200
    try:
        while True:
            item = await job.next_item()
            if isinstance(item, Failed):
                status = item.status
                if not response.prepared:
                    return error_response(item.status, item.message)
                await body.fail(request, response, item.message, server)
                log.warning("request failed mid-stream: %s", item.message)
                return response
            if item is DONE:
                break
            assert isinstance(item, Chunk)
            if not len(item.audio) and not response.prepared:
                continue  # words only (Kyutai's last chunk): nothing to send yet
            if not response.prepared:
                await response.prepare(request)
                await body.send(response, encoder.header(), server)
            record.heard(item.seconds, item.text_ready_at)
            if len(item.audio):
                await body.send(response, encoder.encode(item.audio), server)
        if not response.prepared:
            status = 400
            return error_response(400, "nothing to say: no words in the input")
        await body.send(response, encoder.finish(), server)
        await body.done(response, server)
        await response.write_eof()
        return response
    except (ConnectionResetError, asyncio.TimeoutError):
        status = "client_left"
        log.info(
            "client %s left after %.1f s of audio", request.remote or "?", record.audio_seconds
        )
        return response
    finally:
        job.cancel()
        server.metrics.ended(record, status, ok=status == 200)


class AudioBody:
    """The audio bytes themselves."""

    def content_type(self, encoder: Encoder) -> str:
        return encoder.content_type

    async def send(self, response: web.StreamResponse, data: bytes, server: Server) -> None:
        """Send, or give up on a client that has stopped reading: its slot goes to others."""
        if data:
            await asyncio.wait_for(response.write(data), server.config.client_timeout)

    async def done(self, response: web.StreamResponse, server: Server) -> None:
        return None

    async def fail(
        self, request: web.Request, response: web.StreamResponse, message: str, server: Server
    ) -> None:
        """Mid-stream, the only honest signal is to cut the body short."""
        response.force_close()
        if request.transport is not None:
            request.transport.close()


class SseBody(AudioBody):
    """OpenAI's server-sent events: a delta per piece of audio, then done with usage."""

    def __init__(self, text: str) -> None:
        self.words = len(text.split())
        self.pieces = 0

    def content_type(self, encoder: Encoder) -> str:
        return "text/event-stream"

    async def send(self, response: web.StreamResponse, data: bytes, server: Server) -> None:
        if data:
            self.pieces += 1
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
            await super().send(response, sse(event), server)

    async def done(self, response: web.StreamResponse, server: Server) -> None:
        usage = {
            "input_tokens": self.words,
            "output_tokens": self.pieces,
            "total_tokens": self.words + self.pieces,
        }
        await super().send(response, sse({"type": "speech.audio.done", "usage": usage}), server)

    async def fail(
        self, request: web.Request, response: web.StreamResponse, message: str, server: Server
    ) -> None:
        event = {"type": "error", "error": {"message": message}}
        await super().send(response, sse(event), server)
        await response.write_eof()


def sse(event: dict[str, object]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


def header_safe(text: str) -> str:
    """A header value: one line of printable ASCII, bounded."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:2000]
