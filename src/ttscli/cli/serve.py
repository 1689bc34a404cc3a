"""``ttscli serve``: flags only; the server lives in ``ttscli.serve``."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from ttscli.cli import options as opt
from ttscli.cli.engine_flags import load_arguments, parse_engine_options


def serve_command(
    engine: Annotated[
        str,
        typer.Option(help="The engine to serve: fs2 (the CPU voice) or kyutai (also: speak)."),
    ] = "fs2",
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Bearer token every route but / and /health requires.")
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Allow a non-loopback --host without token.")
    ] = False,
    max_chars: Annotated[int, typer.Option(help="Longest text one request may send.")] = 20_000,
    max_streams: Annotated[
        int | None,
        typer.Option(
            help="Requests synthesised at once: fs2 takes turns a sentence at a time (default "
            "16), kyutai runs them as one batch (default 4)."
        ),
    ] = None,
    max_queued: Annotated[int, typer.Option(help="Requests that may wait; more get 503.")] = 32,
    cors: Annotated[str | None, typer.Option(help="Allow this browser origin (CORS).")] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another name clients may reach the server by (Host header; repeatable).",
        ),
    ] = None,
    wyoming: Annotated[
        str | None,
        typer.Option(
            help="Also serve Home Assistant's Wyoming protocol at tcp://HOST:PORT "
            "(e.g. tcp://127.0.0.1:10200)."
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http/--no-http", help="Serve HTTP (turn off for Wyoming only).")
    ] = True,
    log_level: Annotated[
        str, typer.Option(help="debug, info (one line per request), warning or error.")
    ] = "info",
    heartbeat: Annotated[
        float,
        typer.Option(
            help="Seconds between pings to a WebSocket client; one silent for half of it "
            "is dropped."
        ),
    ] = 30.0,
    checkpoint: opt.CheckpointOption = None,
    model: opt.ModelOption = "auto",
    vocoder: opt.VocoderOption = "auto",
    voice: Annotated[str | None, typer.Option(help="kyutai: the voice to serve.")] = None,
    n_q: Annotated[int | None, typer.Option("--n-q", help="kyutai: codebooks.")] = None,
    temp: Annotated[float, typer.Option(help="kyutai: sampling temperature.")] = 0.6,
    cfg_coef: Annotated[float, typer.Option(help="kyutai: guidance strength.")] = 2.0,
    seed: Annotated[int | None, typer.Option(help="kyutai: random seed.")] = None,
    hf_repo: opt.HfRepoOption = None,
    voice_repo: opt.VoiceRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    engine_option: opt.EngineOptionOption = None,
) -> None:
    """Serve an engine over HTTP (OpenAI-style /v1/audio/speech) and WebSocket (/v1/stream)."""
    from ttscli.engines import registry
    from ttscli.engines.spec import EngineSpec
    from ttscli.serve.config import ServeConfig, wyoming_address
    from ttscli.serve.run import check_port_free, serve
    from ttscli.serve.voices import ServedEngine
    from ttscli.util.errors import UserError

    try:
        entry = registry.get(engine)
    except UserError as exc:
        raise UserError(f"--engine {engine}: {exc}") from None
    flags: dict[str, tuple[Any, Any]] = {
        "checkpoint": (checkpoint, None),
        "model": (model, "auto"),
        "vocoder": (vocoder, "auto"),
        "voice": (voice, None),
        "n_q": (n_q, None),
        "temp": (temp, 0.6),
        "cfg_coef": (cfg_coef, 2.0),
        "seed": (seed, None),
        "hf_repo": (hf_repo, None),
        "voice_repo": (voice_repo, None),
        "model_dir": (model_dir, None),
        "device": (device.value, "auto"),
    }
    arguments = load_arguments(entry, flags, parse_engine_options(engine_option))
    config = ServeConfig(
        host=host,
        port=port,
        token=token or os.environ.get("TTSCLI_TOKEN") or None,
        insecure_no_auth=insecure_no_auth,
        max_chars=max_chars,
        max_streams=max_streams if max_streams is not None else entry.default_streams,
        max_queued=max_queued,
        cors=cors,
        allowed_hosts=tuple(allowed_host or ()),
        http=http,
        wyoming=wyoming,
        log_level=log_level.lower(),
        heartbeat=heartbeat,
    )
    config.check()
    if http:
        check_port_free(host, port)
    if wyoming is not None:
        check_port_free(*wyoming_address(wyoming))
    loaded = EngineSpec(entry.name, arguments).load()
    serve(ServedEngine(loaded), config, announce=lambda line: typer.echo(line, err=True))
