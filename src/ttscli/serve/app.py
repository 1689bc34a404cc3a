"""The HTTP server (aiohttp): routes, authentication, the checks against foreign web pages,
limits, and what every protocol shares (submitting a job, checking a text and a voice).

aiohttp because it serves streamed HTTP bodies and WebSockets from one small, well-kept
package that ``moshi`` already installs; FastAPI would add FastAPI, Starlette, pydantic and
uvicorn for the same two features. The speech route, the WebSocket and Wyoming each live in
a module of their own and take their jobs from the one ``Scheduler`` here, so limits and
turns are shared whichever protocol a client speaks.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web

from ttscli import __version__
from ttscli.engines.base import StepsManyStreams
from ttscli.serve.config import ServeConfig
from ttscli.serve.guard import refusal
from ttscli.serve.metrics import METRICS_CONTENT_TYPE, Metrics
from ttscli.serve.page import PAGE_HTML
from ttscli.serve.responses import Busy, busy_response, error_response
from ttscli.serve.scheduler import Job, Scheduler
from ttscli.serve.slot_driver import SlotDriver
from ttscli.serve.speech import speech
from ttscli.serve.stream import stream
from ttscli.serve.voices import RequestError, ServedEngine

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = ("/", "/health")
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Model names OpenAI clients send; each means the engine this server runs."""

log = logging.getLogger("ttscli.serve")


class Server:
    """One loaded engine behind every protocol; built once, kept warm."""

    def __init__(self, served: ServedEngine, config: ServeConfig) -> None:
        self.served = served
        self.config = config
        driver = None
        if isinstance(served.engine, StepsManyStreams):  # every request in one model batch
            driver = SlotDriver(served.engine, config.max_streams, served.engine.sample_rate)
        self.scheduler = Scheduler(config.max_streams, config.max_queued, driver)
        self.metrics = Metrics(lambda: self.scheduler.counts)
        self.started = int(time.time())

    # -- what every protocol shares --------------------------------------------------------
    def submit(self, options: Any, route: str) -> Job:
        """A new job on the engine, or ``Busy``."""
        job = Job(
            partial(self.served.engine.stream, options=options),
            asyncio.get_running_loop(),
            mode="fragments" if self.served.engine.reads_words else "passages",
            buffer=self.config.chunk_buffer,
            options=options,
        )
        if not self.scheduler.submit(job):
            self.metrics.refused_one(route)
            raise Busy()
        return job

    def check_text(self, value: object, field: str = "input") -> str:
        if not isinstance(value, str):
            raise RequestError(f"{field}: expected the text to speak, as a string")
        if not value.strip():
            raise RequestError(f"{field}: nothing to say, the text is empty")
        self.check_length(len(value))
        return value

    def check_length(self, characters: int) -> None:
        if characters > self.config.max_chars:
            raise RequestError(
                f"{characters} characters, more than this server's limit of "
                f"{self.config.max_chars}",
                status=413,
            )

    # -- app -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._cors, self._guard, self._auth],
            client_max_size=self.config.max_chars * 4 + 65536,
        )
        app.router.add_get("/", self.page)
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/voices", self.voices)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/stats", self.stats)
        app.router.add_get("/metrics", self.prometheus)
        app.router.add_post("/v1/audio/speech", partial(speech, self))
        app.router.add_get("/v1/stream", partial(stream, self))
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
        except Busy:
            return busy_response()
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "request body too large")

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = refusal(request, self.config)
        if refused is not None:
            status, reason = refused
            log.info("refused %s %s: %s", request.method, request.path, reason)
            return error_response(status, reason)
        return await handler(request)

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
                "version": __version__,
            }
        )

    async def voices(self, request: web.Request) -> web.Response:
        # Listing the others reads a cache folder: off the event loop.
        listing = await asyncio.get_running_loop().run_in_executor(None, self.served.listing)
        return web.json_response({"engine": self.served.name, "voices": listing})

    async def models(self, request: web.Request) -> web.Response:
        """OpenAI's model list: the engine, and the names OpenAI clients send for it."""
        names = (self.served.name, *OPENAI_MODELS)
        data = [
            {"id": name, "object": "model", "created": self.started, "owned_by": "ttscli"}
            for name in names
        ]
        return web.json_response({"object": "list", "data": data})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.metrics.as_json())

    async def prometheus(self, request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})
