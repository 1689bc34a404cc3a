"""Load an engine once, wrap it for the server, and serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import socket
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


def serve(
    served: ServedEngine, config: ServeConfig, announce: Callable[[str], None] = print
) -> None:
    """Run until interrupted; ``announce`` gets the address once it is listening."""
    server = Server(served, config)
    engine: Engine[Any] = served.engine

    async def main() -> None:
        runner = web.AppRunner(server.app(), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=2.0)
        await site.start()
        announce(
            f"serving {engine.name} ({engine.describe()}) on http://{config.host}:{config.port}"
            f"{' (token required)' if config.token else ''}"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a server is stopped
        asyncio.run(main())
