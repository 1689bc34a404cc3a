"""``ttscli serve``: flags only; the server lives in ``ttscli.serve``."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from ttscli.cli import options as opt
from ttscli.engines.spec import EngineSpec, kyutai_spec
from ttscli.fs2.kinds import ModelKind

DEFAULT_STREAMS = {"fs2": 16, "speak": 4}
"""fs2 requests take turns a window at a time, so more of them at once only shortens the
wait for first audio; speak's are rows of one model batch, each costing every step."""


def serve_command(
    engine: Annotated[str, typer.Option(help="fs2 (the CPU voice) or speak (Kyutai).")] = "fs2",
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Bearer token every route but /health requires.")
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Allow a non-loopback --host without token.")
    ] = False,
    max_chars: Annotated[int, typer.Option(help="Longest text one request may send.")] = 20_000,
    max_streams: Annotated[
        int | None,
        typer.Option(
            help="Requests synthesised at once: fs2 takes turns a window at a time (default "
            "16), speak runs them as one batch (default 4)."
        ),
    ] = None,
    max_queued: Annotated[int, typer.Option(help="Requests that may wait; more get 503.")] = 32,
    cors: Annotated[str | None, typer.Option(help="Allow this browser origin (CORS).")] = None,
    checkpoint: opt.CheckpointOption = None,
    model: opt.ModelOption = ModelKind.fs2,
    vocoder: opt.VocoderOption = "auto",
    voice: Annotated[str | None, typer.Option(help="speak: the voice to serve.")] = None,
    n_q: Annotated[int | None, typer.Option("--n-q", help="speak: codebooks.")] = None,
    temp: Annotated[float, typer.Option(help="speak: sampling temperature.")] = 0.6,
    cfg_coef: Annotated[float, typer.Option(help="speak: guidance strength.")] = 2.0,
    seed: Annotated[int | None, typer.Option(help="speak: random seed.")] = None,
    hf_repo: opt.HfRepoOption = None,
    voice_repo: opt.VoiceRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    device: opt.DeviceOption = opt.DeviceChoice.auto,
) -> None:
    """Serve an engine over HTTP (OpenAI-style /v1/audio/speech) and WebSocket (/v1/stream)."""
    from ttscli.serve.config import ServeConfig
    from ttscli.serve.run import check_port_free, fs2_served, serve, speak_served
    from ttscli.util.errors import UserError

    config = ServeConfig(
        host=host,
        port=port,
        token=token or os.environ.get("TTSCLI_TOKEN") or None,
        insecure_no_auth=insecure_no_auth,
        max_chars=max_chars,
        max_streams=max_streams if max_streams is not None else DEFAULT_STREAMS.get(engine, 4),
        max_queued=max_queued,
        cors=cors,
    )
    config.check()
    check_port_free(host, port)
    if engine == "fs2":
        fs2 = {"checkpoint": checkpoint, "kind": model, "vocoder": vocoder, "device": device.value}
        served = fs2_served(EngineSpec("fs2", fs2).load(), checkpoint)
    elif engine == "speak":
        from ttscli.kyutai.weights import DEFAULT_VOICE

        spec = kyutai_spec(
            voice, hf_repo, voice_repo, model_dir, device.value, n_q, temp, cfg_coef, seed
        )
        kyutai: Any = spec.load()
        settings = {"n_q": kyutai.model.n_q, "temp": temp, "cfg_coef": cfg_coef, "seed": seed}
        served = speak_served(kyutai, voice or DEFAULT_VOICE, settings)
    else:
        raise UserError(f"--engine {engine}: fs2 or speak")
    serve(served, config, announce=lambda line: typer.echo(line, err=True))
