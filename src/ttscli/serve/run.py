"""Load an engine once, wrap it for the server, and serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ttscli.engines.base import Engine
from ttscli.serve.app import Server
from ttscli.serve.config import ServeConfig
from ttscli.serve.voices import ServedEngine
from ttscli.util.errors import UserError


def fs2_served(engine: Any, checkpoint: Path | None) -> ServedEngine:
    """The FastSpeech 2 voice, named after its folder, with its model card's first lines."""
    from ttscli.fs2.engine import ASSETS_DIR

    folder = checkpoint if checkpoint is not None else ASSETS_DIR
    name = "bundled" if checkpoint is None else folder.name
    card = folder / "MODEL_CARD.md"
    summary = ""
    if card.is_file():
        paragraphs = [p.strip() for p in card.read_text(encoding="utf-8").split("\n\n")]
        summary = next((p for p in paragraphs if p and not p.startswith("#")), "")[:600]
    info = {"name": name, "engine": "fs2", "model": engine.describe(), "model_card": summary}
    return ServedEngine(engine, "fs2", name, info, {})


def speak_served(engine: Any, voice: str, settings: dict[str, Any]) -> ServedEngine:
    from ttscli.kyutai.voices import folder_licence

    licence = folder_licence(voice.split("/", 1)[0])
    info = {
        "name": voice,
        "engine": "speak",
        "licence": licence.name,
        "commercial_use": licence.commercial,
    }
    return ServedEngine(engine, "speak", voice, info, settings)


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
    engine: Engine = served.engine

    async def main() -> None:
        runner = web.AppRunner(server.app(), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=2.0)
        await site.start()
        announce(
            f"serving {served.kind} ({engine.describe()}) on http://{config.host}:{config.port}"
            f"{' (token required)' if config.token else ''}"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a server is stopped
        asyncio.run(main())
