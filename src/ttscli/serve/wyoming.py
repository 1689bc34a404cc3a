"""Home Assistant's Wyoming protocol over TCP (``ttscli serve --wyoming tcp://HOST:PORT``).

``describe`` is answered with ``info`` (the served voice, its languages, attribution and
licence). ``synthesize`` streams ``audio-start``, ``audio-chunk``s and ``audio-stop``.
Streaming synthesis (``synthesize-start``, ``synthesize-chunk``s, ``synthesize-stop``,
announced in ``info``) speaks each sentence as soon as it is complete, as the WebSocket does,
and ends with ``audio-stop`` and ``synthesize-stopped``. Home Assistant also sends a plain
``synthesize`` on a streaming connection, for servers that cannot stream; it is ignored
there, as Wyoming servers do. Jobs come from the same scheduler as HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from ttscli import __version__
from ttscli.audio.formats import to_pcm16
from ttscli.engines.base import Chunk, VoiceInfo
from ttscli.serve.config import wyoming_address
from ttscli.serve.metrics import RequestRecord
from ttscli.serve.responses import Busy
from ttscli.serve.scheduler import DONE, Failed, Job
from ttscli.serve.voices import RequestError
from ttscli.text.feed import SentenceFeed

if TYPE_CHECKING:
    from ttscli.serve.app import Server

ROUTE = "wyoming"
PROJECT_URL = "https://pypi.org/project/ttscli/"
SAMPLE_WIDTH = 2  # 16-bit PCM

log = logging.getLogger("ttscli.serve")


def wyoming_voice(voice: VoiceInfo, engine_description: str) -> TtsVoice:
    credit = voice.attribution or voice.licence or "ttscli"
    licence = f"; licence {voice.licence}" if voice.licence else ""
    return TtsVoice(
        name=voice.name,
        attribution=Attribution(name=credit, url=PROJECT_URL),
        installed=True,
        description=engine_description + licence,
        version=__version__,
        languages=list(voice.languages),
    )


def wyoming_info(server: Server) -> Info:
    """What ``describe`` answers: one program, its voices (the served one first, then those
    a request may name), streaming announced."""
    engine = server.served.engine
    voices = [server.served.voice, *server.served.offered_voices()]
    program = TtsProgram(
        name="ttscli",
        attribution=Attribution(name="ttscli", url=PROJECT_URL),
        installed=True,
        description=f"ttscli {engine.name}: {engine.describe()}",
        version=__version__,
        voices=[wyoming_voice(voice, engine.describe()) for voice in voices],
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


class WyomingHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(self, server: Server, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.streaming = False
        """This connection used streaming synthesis: plain ``synthesize`` is ignored."""
        self.job: Job | None = None
        self.feed = SentenceFeed()
        self.received = 0
        self.sender: asyncio.Task[None] | None = None
        self.document: str | None = None
        """An SSML document arriving in chunks (``text_format: ssml``)."""
        self.options: Any = server.served.options({})
        """The options of the request in progress (its voice)."""

    def _spoken(self, text: str, ssml: bool) -> Any:
        """Text or SSML's markup for the engine; what it cannot honour is logged (Wyoming
        has no event for warnings)."""
        spoken, warnings = self.server.served.spoken(text, self.options, ssml)
        for warning in warnings:
            log.info("Wyoming request: %s", warning)
        return spoken

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._handle(event)
        except RequestError as exc:
            await self._error(str(exc), "bad_request")
        except Busy:
            await self._error("busy: every slot is taken, retry", "busy")
        return True

    async def _handle(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            # The voices on offer are read from a cache folder: off the event loop.
            loop = asyncio.get_running_loop()
            info = await loop.run_in_executor(None, wyoming_info, self.server)
            await self.write_event(info.event())
        elif Synthesize.is_type(event.type):
            if not self.streaming:
                synthesize = Synthesize.from_event(event)
                self.options = self._options(synthesize.voice)
                text = self.server.check_text(synthesize.text, "text")
                job = self._start()
                job.add_text(self._spoken(text, synthesize.text_format == "ssml"))
                job.close_input()
                await self._finish_sending()
        elif SynthesizeStart.is_type(event.type):
            self.streaming = True
            start = SynthesizeStart.from_event(event)
            self.options = self._options(start.voice)
            self.document = "" if start.text_format == "ssml" else None
            if self.document is None:
                self._start()
        elif SynthesizeChunk.is_type(event.type):
            text = SynthesizeChunk.from_event(event).text
            self.received += len(text)
            self.server.check_length(self.received)
            if self.document is not None:  # SSML: spoken once the document is whole
                self.document += text
            else:
                self._add(self.job or self._start(), text)
        elif SynthesizeStop.is_type(event.type):
            if self.document is not None and self.document.strip():
                self._start().add_text(self._spoken(self.document, True))
                self.document = None
            if self.job is not None:
                if not self.server.served.engine.reads_words:
                    rest = self.feed.flush()
                    if rest.strip():
                        self.job.add_text(rest)
                self.job.close_input()
                await self._finish_sending()
            await self.write_event(SynthesizeStopped().event())
        return True

    def _options(self, voice: Any) -> Any:
        """The request's options: the served voice, or the one it names (a Kyutai server
        speaks any voice of its voice repo; a name it cannot speak is an error event)."""
        named = voice.name if voice is not None and voice.name else None
        return self.server.served.options({"voice": named})

    def _start(self) -> Job:
        self.job = self.server.submit(self.options, ROUTE)
        self.feed = SentenceFeed()
        self.received = 0
        self.sender = asyncio.create_task(self._send(self.job))
        return self.job

    def _add(self, job: Job, text: str) -> None:
        if self.server.served.engine.reads_words:
            job.add_text(text)
            return
        for passage in self.feed.push(text):
            job.add_text(passage)

    async def _finish_sending(self) -> None:
        if self.sender is not None:
            await self.sender
        self.sender = None
        self.job = None

    async def _send(self, job: Job) -> None:
        """Audio events as the job makes audio; ``audio-stop`` once it is done."""
        rate = self.server.served.engine.sample_rate
        record = RequestRecord(ROUTE)
        started = False
        outcome = "client_left"
        try:
            while True:
                item = await job.next_item()
                if isinstance(item, Failed):
                    outcome = "error"
                    await self._error(item.message, "synthesis_failed")
                    return
                if item is DONE:
                    if not started:
                        await self.write_event(AudioStart(rate, SAMPLE_WIDTH, 1).event())
                    await self.write_event(AudioStop().event())
                    outcome = "ok"
                    return
                assert isinstance(item, Chunk)
                record.heard(item.seconds, item.text_ready_at)
                if not len(item.audio):
                    continue
                if not started:
                    await self.write_event(AudioStart(rate, SAMPLE_WIDTH, 1).event())
                    started = True
                chunk = AudioChunk(rate, SAMPLE_WIDTH, 1, to_pcm16(item.audio))
                await asyncio.wait_for(
                    self.write_event(chunk.event()), self.server.config.client_timeout
                )
        except (ConnectionResetError, asyncio.TimeoutError, BrokenPipeError):
            log.info("Wyoming client left after %.1f s of audio", record.audio_seconds)
        finally:
            job.cancel()
            self.server.metrics.ended(record, outcome, ok=outcome == "ok")

    async def _error(self, text: str, code: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self.write_event(Error(text=text, code=code).event())

    async def disconnect(self) -> None:
        if self.job is not None:
            self.job.cancel()
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender


async def start_wyoming(server: Server, uri: str) -> AsyncTcpServer:
    """Listen at ``uri`` (``tcp://HOST:PORT``) until the returned server is stopped."""
    host, port = wyoming_address(uri)
    wyoming = AsyncTcpServer(host, port)

    def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> WyomingHandler:
        return WyomingHandler(server, reader, writer)

    await wyoming.start(handler)
    return wyoming
