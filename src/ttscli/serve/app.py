"""The HTTP and WebSocket server (aiohttp): routes, authentication, limits, counters.

aiohttp because it serves streamed HTTP bodies and WebSockets from one small, well-kept
package that ``moshi`` already installs, so ``ttscli serve`` adds no dependency; FastAPI
would add FastAPI, Starlette, pydantic and uvicorn for the same two features.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

from ttscli.audio.formats import to_pcm16
from ttscli.engines.base import Chunk, StepsManyStreams
from ttscli.serve.config import ServeConfig
from ttscli.serve.encoders import FORMATS, encoder_for
from ttscli.serve.page import PAGE_HTML
from ttscli.serve.scheduler import DONE, Failed, Job, Scheduler
from ttscli.serve.slot_driver import SlotDriver
from ttscli.serve.voices import RequestError, ServedEngine
from ttscli.text.feed import SentenceFeed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = ("/", "/health")
SAMPLE_RATE_HEADER = "X-Sample-Rate"


class Counters:
    """What the server has done, for ``GET /v1/stats``."""

    def __init__(self) -> None:
        self.served = 0
        self.failed = 0
        self.refused = 0
        self.first_audio: deque[float] = deque(maxlen=1000)

    def as_json(self, active: int, queued: int) -> dict[str, Any]:
        latencies = sorted(self.first_audio)

        def percentile(p: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 4)

        return {
            "served": self.served,
            "failed": self.failed,
            "refused": self.refused,
            "in_flight": active,
            "queued": queued,
            "first_audio_p50_seconds": percentile(0.5),
            "first_audio_p95_seconds": percentile(0.95),
            "first_audio_mean_seconds": (
                round(statistics.fmean(latencies), 4) if latencies else None
            ),
        }


class Server:
    """One loaded engine behind the routes; built once, kept warm."""

    def __init__(self, served: ServedEngine, config: ServeConfig) -> None:
        self.served = served
        self.config = config
        self.counters = Counters()
        driver = None
        if isinstance(served.engine, StepsManyStreams):  # every request in one model batch
            driver = SlotDriver(served.engine, config.max_streams, served.engine.sample_rate)
        self.scheduler = Scheduler(config.max_streams, config.max_queued, driver)

    # -- app -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._cors, self._auth],
            client_max_size=self.config.max_chars * 4 + 65536,
        )
        app.router.add_get("/", self.page)
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/voices", self.voices)
        app.router.add_get("/v1/stats", self.stats)
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_get("/v1/stream", self.stream)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _shutdown(self, app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.scheduler.stop)

    # -- middlewares -------------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except RequestError as exc:
            return error_response(exc.status, str(exc))
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "request body too large")

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.config.token
        if token and request.path not in PUBLIC_PATHS and request.method != "OPTIONS":
            given = request.headers.get("Authorization", "")
            offered = given[7:] if given.startswith("Bearer ") else request.query.get("token", "")
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return error_response(401, "missing or wrong token (Authorization: Bearer ...)")
        return await handler(request)

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = self.config.cors
        if origin is None:
            return await handler(request)
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    # -- small routes ------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE_HTML, content_type="text/html")

    async def health(self, request: web.Request) -> web.Response:
        engine = self.served.engine
        return web.json_response(
            {
                "ready": True,
                "engine": engine.name,
                "model": engine.describe(),
                "device": engine.facts().get("device", ""),
                "sample_rate": engine.sample_rate,
            }
        )

    async def voices(self, request: web.Request) -> web.Response:
        return web.json_response({"engine": self.served.name, "voices": [self.served.voice_info()]})

    async def stats(self, request: web.Request) -> web.Response:
        active, queued = self.scheduler.counts
        return web.json_response(self.counters.as_json(active, queued))

    # -- POST /v1/audio/speech -----------------------------------------------------------
    async def speech(self, request: web.Request) -> web.StreamResponse:
        fields = await read_json_object(request)
        text = self._text(fields.get("input"))
        response_format = fields.get("response_format", "wav")
        if response_format not in FORMATS:
            raise RequestError(f"response_format: one of {', '.join(FORMATS)}")
        self.served.check_voice(fields.get("voice"))
        options = self.served.options(fields)
        job = self._submit(options)
        job.add_text(text)
        job.close_input()
        engine = self.served.engine
        encoder = encoder_for(response_format, engine.sample_rate)
        response = web.StreamResponse(
            headers={
                "Content-Type": encoder.content_type,
                SAMPLE_RATE_HEADER: str(getattr(encoder, "output_rate", engine.sample_rate)),
                "Cache-Control": "no-store",
            }
        )
        response.enable_chunked_encoding()
        try:
            first = True
            while True:
                item = await job.next_item()
                if isinstance(item, Failed):
                    self.counters.failed += 1
                    if not response.prepared:
                        return error_response(item.status, item.message)
                    raise ConnectionResetError(item.message)  # mid-stream: cut it off
                if item is DONE:
                    break
                assert isinstance(item, Chunk)
                if not len(item.audio) and not response.prepared:
                    continue  # words only (Kyutai's last chunk): nothing to send yet
                if first and item.text_ready_at is not None:
                    self.counters.first_audio.append(time.perf_counter() - item.text_ready_at)
                if not response.prepared:
                    await response.prepare(request)
                    await self._write(response, encoder.header())
                first = False
                await self._write(response, encoder.encode(item.audio))
            if not response.prepared:
                self.counters.failed += 1
                return error_response(400, "nothing to say: no words in the input")
            await self._write(response, encoder.finish())
            await response.write_eof()
            self.counters.served += 1
            return response
        finally:
            job.cancel()

    async def _write(self, response: web.StreamResponse, data: bytes) -> None:
        """Send, or drop a client that has stopped reading: its slot goes to the others."""
        if data:
            await asyncio.wait_for(response.write(data), self.config.client_timeout)

    def _text(self, value: object) -> str:
        if not isinstance(value, str):
            raise RequestError("input: expected the text to speak, as a string")
        if not value.strip():
            raise RequestError("input: nothing to say, the text is empty")
        if len(value) > self.config.max_chars:
            raise RequestError(
                f"input: {len(value)} characters, more than this server's limit of "
                f"{self.config.max_chars}",
                status=413,
            )
        return value

    def _submit(self, options: Any) -> Job:
        job = Job(
            partial(self.served.engine.stream, options=options),
            asyncio.get_running_loop(),
            mode="fragments" if self.served.engine.reads_words else "passages",
            buffer=self.config.chunk_buffer,
        )
        if not self.scheduler.submit(job):
            self.counters.refused += 1
            raise web.HTTPServiceUnavailable(
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                text=json.dumps({"error": {"message": "busy: every slot is taken, retry"}}),
            )
        return job

    # -- WebSocket /v1/stream ------------------------------------------------------------
    async def stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            heartbeat=30, max_msg_size=self.config.max_chars * 4 + 4096, autoping=True
        )
        await ws.prepare(request)
        engine = self.served.engine
        await ws.send_json(
            {"type": "ready", "engine": engine.name, "sample_rate": engine.sample_rate}
        )
        session = StreamSession(self, ws)
        try:
            await session.run()
        finally:
            if session.job is not None:
                session.job.cancel()
            if not ws.closed:
                await ws.close()
        return ws


class StreamSession:
    """One WebSocket: text fragments in, audio frames and events out, at the same time."""

    def __init__(self, server: Server, ws: web.WebSocketResponse) -> None:
        self.server = server
        self.ws = ws
        self.job: Job | None = None
        self.feed = SentenceFeed()
        self.received = 0
        self.options: Any = None

    async def run(self) -> None:
        sender: asyncio.Task[None] | None = None
        try:
            while True:
                message = await self._receive()
                if message is None:
                    return
                kind = message.get("type")
                if kind == "start" and self.job is None:
                    fields = {k: v for k, v in message.items() if k != "type"}
                    self.server.served.check_voice(fields.get("voice"))
                    self.options = self.server.served.options(fields)
                    continue
                if kind == "text":
                    text = message.get("text")
                    if not isinstance(text, str):
                        raise RequestError("text: expected a string")
                    self.received += len(text)
                    if self.received > self.server.config.max_chars:
                        raise RequestError(
                            f"more than this server's limit of {self.server.config.max_chars} "
                            "characters",
                            status=413,
                        )
                    if self.job is None:
                        self.job = self.server._submit(self.options)
                        sender = asyncio.create_task(self._send(self.job))
                    self._add(text)
                    continue
                if kind == "end":
                    if self.job is None:
                        raise RequestError("end before any text: nothing to say")
                    if not self.server.served.engine.reads_words:
                        rest = self.feed.flush()
                        if rest:
                            self.job.add_text(rest)
                    self.job.close_input()
                    break
                raise RequestError(f"unknown message type {str(kind)[:40]!r}")
            if sender is not None:
                await sender
        except RequestError as exc:
            await self._error(str(exc))
        except web.HTTPServiceUnavailable:
            await self._error("busy: every slot is taken, retry")
        finally:
            if sender is not None and not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    def _add(self, text: str) -> None:
        assert self.job is not None
        if self.server.served.engine.reads_words:
            self.job.add_text(text)
            return
        for passage in self.feed.push(text):
            self.job.add_text(passage)

    async def _receive(self) -> dict[str, Any] | None:
        try:
            message = await self.ws.receive(timeout=self.server.config.idle_timeout)
        except TimeoutError:
            raise RequestError("no message for too long: closing") from None
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return None
        if message.type == WSMsgType.ERROR:
            return None
        if message.type != WSMsgType.TEXT:
            raise RequestError("expected JSON text messages, got binary data")
        try:
            data = json.loads(message.data)
        except json.JSONDecodeError:
            raise RequestError("not valid JSON") from None
        if not isinstance(data, dict):
            raise RequestError("expected a JSON object with a 'type'")
        return data

    async def _send(self, job: Job) -> None:
        heard = 0.0
        counters = self.server.counters
        first = True
        while True:
            item = await job.next_item()
            if isinstance(item, Failed):
                counters.failed += 1
                await self._error(item.message)
                return
            if item is DONE:
                if not heard:
                    counters.failed += 1
                    await self._error("nothing to say: no words in the input")
                    return
                counters.served += 1
                await self.ws.send_json({"type": "done", "seconds": round(heard, 3)})
                await self.ws.close()
                return
            assert isinstance(item, Chunk)
            if first and item.text_ready_at is not None and len(item.audio):
                counters.first_audio.append(time.perf_counter() - item.text_ready_at)
                first = False
            timeout = self.server.config.client_timeout
            if len(item.audio):
                await asyncio.wait_for(self.ws.send_bytes(to_pcm16(item.audio)), timeout)
            if item.text is not None:
                event = {"type": "sentence", "text": item.text, "start": round(heard, 3)}
                event["end"] = round(heard + (item.sentence_seconds or item.seconds), 3)
                await self.ws.send_json(event)
            for word in item.words:
                await self.ws.send_json(
                    {"type": "word", "text": word.text, "start": word.start, "end": word.end}
                )
            heard += item.seconds

    async def _error(self, message: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_json({"type": "error", "message": message})
                await self.ws.close()


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError("the body must be a JSON object")
    return data


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)
