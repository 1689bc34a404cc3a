"""Load an engine once, wrap it for the server, and serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ttscli.engines.base import Engine
from ttscli.serve.app import Server
from ttscli.serve.config import ServeConfig
from ttscli.serve.voices import ServedEngine
from ttscli.util.errors import UserError


def check_port_free(host: str, port: int) -> None:
    """Fail in one line before loading a model when the address is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'
"""One line per request in the usual form: client, request line, status, size, time."""


def configure_logging(level: str) -> None:
    """One line per event on stderr: ``--log-level`` chooses how many."""
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiohttp reports a peer that vanished mid-request at length; the server logs one line.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)


def serve(
    served: ServedEngine, config: ServeConfig, announce: Callable[[str], None] = print
) -> None:
    """Run until interrupted; ``announce`` gets each address once it is listening."""
    configure_logging(config.log_level)
    server = Server(served, config)
    engine: Engine[Any] = served.engine

    async def main() -> None:
        runner: web.AppRunner | None = None
        wyoming = None
        try:
            if config.http:
                runner = web.AppRunner(
                    server.app(),
                    handle_signals=False,
                    access_log=logging.getLogger("ttscli.access"),
                    access_log_format=ACCESS_LOG_FORMAT,
                )
                await runner.setup()
                site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=2.0)
                await site.start()
                announce(
                    f"serving {engine.name} ({engine.describe()}) on "
                    f"http://{config.host}:{config.port}"
                    f"{' (token required)' if config.token else ''}"
                )
            if config.wyoming is not None:
                from ttscli.serve.wyoming import start_wyoming

                wyoming = await start_wyoming(server, config.wyoming)
                announce(f"serving {engine.name} to Wyoming clients on {config.wyoming}")
            await asyncio.Event().wait()
        finally:
            if wyoming is not None:
                await wyoming.stop()
            if runner is not None:
                await runner.cleanup()
            else:
                await asyncio.get_running_loop().run_in_executor(None, server.scheduler.stop)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a server is stopped
        asyncio.run(main())
