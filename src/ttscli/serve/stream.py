"""``/v1/stream``: a WebSocket that takes text as it is written and sends audio as it is
made, with sentence and word events, at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ttscli.audio.formats import to_pcm16
from ttscli.engines.base import Chunk, markup_for
from ttscli.serve.metrics import RequestRecord
from ttscli.serve.responses import Busy
from ttscli.serve.scheduler import DONE, Failed, Job
from ttscli.serve.voices import RequestError
from ttscli.text.feed import SentenceFeed
from ttscli.text.markup import Markup
from ttscli.text.ssml import SsmlReader, looks_like_ssml
from ttscli.util.errors import UserError

if TYPE_CHECKING:
    from ttscli.serve.app import Server

ROUTE = "stream"
log = logging.getLogger("ttscli.serve")


async def stream(server: Server, request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(
        heartbeat=server.config.heartbeat,
        max_msg_size=server.config.max_chars * 4 + 4096,
        autoping=True,
    )
    await ws.prepare(request)
    engine = server.served.engine
    await ws.send_json({"type": "ready", "engine": engine.name, "sample_rate": engine.sample_rate})
    session = StreamSession(server, ws, request.remote or "?")
    try:
        await session.run()
    finally:
        if session.job is not None:
            session.job.cancel()
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
    return ws


class StreamSession:
    """One WebSocket: text fragments in, audio frames and events out, at the same time."""

    def __init__(self, server: Server, ws: web.WebSocketResponse, peer: str) -> None:
        self.server = server
        self.ws = ws
        self.peer = peer
        self.job: Job | None = None
        self.feed = SentenceFeed()
        self.received = 0
        self.options: Any = None
        self.record = RequestRecord(ROUTE)
        self.outcome = "client_left"
        self.ssml = False
        self.reader: SsmlReader | None = None
        """An SSML document's reader: its sentences are spoken as they close."""
        self.told: set[str] = set()
        self.sender: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            while True:
                message = await self._receive()
                if message is None:
                    return
                kind = message.get("type")
                if kind == "start" and self.job is None:
                    fields = {k: v for k, v in message.items() if k not in ("type", "ssml")}
                    self.options = self.server.served.options(fields)  # the voice too
                    self.ssml = message.get("ssml") is True
                    continue
                if kind == "text":
                    text = message.get("text")
                    if not isinstance(text, str):
                        raise RequestError("text: expected a string")
                    self.received += len(text)
                    self.server.check_length(self.received)
                    first = self.job is None and self.reader is None
                    if first and (self.ssml or looks_like_ssml(text)):
                        self.reader = SsmlReader()
                    if self.reader is not None:  # SSML: each sentence once its markup closes
                        await self._speak_markup(self._read_ssml(self.reader, text))
                        continue
                    self._job()
                    self._add(text)
                    continue
                if kind == "end":
                    if self.reader is not None:
                        await self._speak_markup(self._read_ssml(self.reader, None))
                    if self.job is None:
                        raise RequestError("end before any text: nothing to say")
                    if not self.server.served.engine.reads_words:
                        rest = self.feed.flush()
                        if rest:
                            self.job.add_text(rest)
                    self.job.close_input()
                    break
                raise RequestError(f"unknown message type {str(kind)[:40]!r}")
            if self.sender is not None:
                await self._until_sent(self.sender)
        except RequestError as exc:
            self.outcome = "error"
            await self._error(str(exc))
        except Busy:
            self.outcome = "503"
            await self._error("busy: every slot is taken, retry")
        except (ConnectionResetError, asyncio.TimeoutError):
            pass  # the client left: logged below
        finally:
            if self.sender is not None and not self.sender.done():
                self.sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.sender
            if self.outcome == "client_left" and self.job is not None:
                log.info(
                    "client %s left the stream after %.1f s of audio",
                    self.peer,
                    self.record.audio_seconds,
                )
            if self.outcome != "503":
                self.server.metrics.ended(self.record, self.outcome, ok=self.outcome == "ok")

    async def _until_sent(self, sender: asyncio.Task[None]) -> None:
        """Wait for the audio to be sent, reading the socket all the while: aiohttp takes
        the client's answers to the heartbeat's pings only as it reads, so a stream whose
        audio outlasted the heartbeat after ``end`` would be cut, and a client that closes
        is noticed at once (the rest of its audio is not made)."""
        reader = asyncio.create_task(self._read_after_end())
        try:
            await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not sender.done():  # the client closed first
                sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender  # what it raised is handled as before
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _read_after_end(self) -> None:
        """Read (and ignore) what a client sends after ``end`` until it closes."""
        while True:
            message = await self.ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if message.type == WSMsgType.ERROR:
                return

    def _job(self) -> Job:
        """The request's job, submitted (and its audio sent) when its first text comes."""
        if self.job is None:
            self.job = self.server.submit(self.options, ROUTE)
            self.sender = asyncio.create_task(self._send(self.job))
        return self.job

    @staticmethod
    def _read_ssml(reader: SsmlReader, text: str | None) -> list[Markup]:
        """The pieces ``text`` completes, or (None: the end) the rest of the document."""
        try:
            return reader.feed(text) if text is not None else reader.close()
        except UserError as exc:
            raise RequestError(str(exc)) from None

    async def _speak_markup(self, pieces: list[Markup]) -> None:
        """SSML's pieces to the engine as they complete; what the engine cannot honour of
        each goes to the client (once) as a ``warning`` event before its audio."""
        for piece in pieces:
            spoken, warnings = markup_for(self.server.served.engine, piece, self.options)
            for warning in warnings:
                if warning not in self.told:
                    self.told.add(warning)
                    await self.ws.send_json({"type": "warning", "message": warning})
            self._job().add_text(spoken)

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
        except asyncio.TimeoutError:
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
        try:
            while True:
                item = await job.next_item()
                if isinstance(item, Failed):
                    self.outcome = "error"
                    await self._error(item.message)
                    return
                if item is DONE:
                    if not heard:
                        self.outcome = "error"
                        await self._error("nothing to say: no words in the input")
                        return
                    self.outcome = "ok"
                    await self.ws.send_json({"type": "done", "seconds": round(heard, 3)})
                    await self.ws.close()
                    return
                assert isinstance(item, Chunk)
                self.record.heard(item.seconds, item.text_ready_at)
                timeout = self.server.config.client_timeout
                if len(item.audio):
                    await asyncio.wait_for(self.ws.send_bytes(to_pcm16(item.audio)), timeout)
                if item.text is not None:
                    event = {"type": "sentence", "text": item.text, "start": round(heard, 3)}
                    event["end"] = round(heard + (item.sentence_seconds or item.seconds), 3)
                    await self.ws.send_json(event)
                # An engine times words from the start of its stream; passages are streams
                # of their own, placed where this one had got to.
                shift = heard - item.stream_seconds if item.stream_seconds is not None else 0.0
                for word in item.words:
                    start, end = round(word.start + shift, 3), round(word.end + shift, 3)
                    event = {"type": "word", "text": word.text, "start": start, "end": end}
                    if word.speaker is not None:
                        event["speaker"] = word.speaker  # a dialogue's turn
                    await self.ws.send_json(event)
                for mark in item.marks:
                    at = round(mark.start + shift, 3)
                    await self.ws.send_json({"type": "mark", "name": mark.text, "time": at})
                heard += item.seconds
        except (ConnectionResetError, asyncio.TimeoutError, RuntimeError):
            self.outcome = "client_left"  # closing transport, or a client that stopped reading

    async def _error(self, message: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_json({"type": "error", "message": message})
                await self.ws.close()
