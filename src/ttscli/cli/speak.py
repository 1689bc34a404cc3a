"""``ttscli speak``: Kyutai TTS, streaming words in and audio out."""

from __future__ import annotations

from typing import Annotated

import typer

from ttscli.cli import options as opt
from ttscli.cli.report import cluster_settings
from ttscli.cli.runs import carry_out
from ttscli.engines import registry
from ttscli.engines.base import RunStats
from ttscli.engines.spec import EngineSpec
from ttscli.run.plan import RunPlan

ENGINE = "kyutai"


def speak_command(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin as it arrives.")
    ] = None,
    voice: Annotated[
        list[str] | None,
        typer.Option(
            help="Voice: a path in the voice repo or a local .safetensors embedding. Give "
            "two for a dialogue: turns labelled [S1] and [S2], or one turn a line."
        ),
    ] = None,
    in_file: opt.InFileOption = None,
    out: opt.OutOption = None,
    output_device: opt.OutputDeviceOption = None,
    read_all: Annotated[
        bool,
        typer.Option(
            "--read-all", help="Read all of stdin before speaking (default: speak as it arrives)."
        ),
    ] = False,
    n_q: Annotated[
        int | None,
        typer.Option("--n-q", help="Codebooks to generate (fewer = faster); default: all."),
    ] = None,
    temp: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.6,
    cfg_coef: Annotated[float, typer.Option(help="Classifier-free guidance strength.")] = 2.0,
    seed: Annotated[int | None, typer.Option(help="Random seed for repeatable output.")] = None,
    padding_bonus: Annotated[
        float,
        typer.Option(help="Added to the pad token's logit: positive speaks slower (-6 to 6)."),
    ] = 0.0,
    padding_between: Annotated[
        int, typer.Option(help="Pad steps forced after each word: more is slower (0 to 8).")
    ] = 1,
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    timestamps: opt.TimestampsOption = None,
    ssml: opt.SsmlOption = False,
    lexicon: opt.LexiconOption = None,
    sentence_silence: opt.SentenceSilenceOption = 0.0,
    paragraph_silence: opt.ParagraphSilenceOption = 0.0,
    hf_repo: opt.HfRepoOption = None,
    voice_repo: opt.VoiceRepoOption = None,
    model_dir: opt.ModelDirOption = None,
    batch_size: opt.BatchSizeOption = 8,
    audio_format: opt.FormatOption = opt.AudioFormat.wav,
    json_output: opt.JsonOption = False,
    quiet: opt.QuietOption = False,
    server: opt.ServerOption = None,
    token: opt.TokenOption = None,
    cluster: opt.ClusterOption = None,
    cluster_address: opt.ClusterAddressOption = None,
    workers: opt.WorkersOption = 2,
    worker_cpus: opt.WorkerCpusOption = 1.0,
    worker_gpus: opt.WorkerGpusOption = 0.0,
) -> None:
    """Speak with Kyutai TTS 1.6B, streaming to the sound card as audio is generated."""
    from ttscli.run.sources import require_text
    from ttscli.run.timestamps import write_timestamps
    from ttscli.text.dialogue import parse_dialogue
    from ttscli.util.errors import UserError

    voices = voice or []
    if len(voices) > 2:
        raise UserError(f"--voice given {len(voices)} times: one voice, or two for a dialogue")
    entry = registry.get(ENGINE)
    load = {
        "voice": voices[0] if voices else None,
        "hf_repo": hf_repo,
        "voice_repo": voice_repo,
        "model_dir": None if model_dir is None else str(model_dir),
        "device": device.value,
        "n_q": n_q,
        "temp": temp,
        "cfg_coef": cfg_coef,
        "seed": seed,
        "lexicon": None if lexicon is None else str(lexicon),
    }
    entry.check_load(load)
    asked = {
        "sentence_silence": sentence_silence,
        "paragraph_silence": paragraph_silence,
        "padding_bonus": padding_bonus,
        "padding_between": padding_between,
        "voices": voices if len(voices) == 2 else None,
    }
    fields = entry.check_request(asked)
    fields = {k: fields[k] for k in asked if fields[k] is not None}

    def check_text(text: object) -> object:
        if len(voices) == 2 and isinstance(text, str):
            return parse_dialogue(text)
        return require_text(text)

    plan = RunPlan(
        text=text,
        in_file=in_file,
        out=out,
        output_device=output_device,
        batch_size=batch_size,
        json_output=json_output,
        check_text=check_text,
        read_all=read_all,
        audio_format=audio_format.value,
        cluster=cluster_settings(cluster, cluster_address, workers, worker_cpus, worker_gpus),
        ssml=ssml,
        timestamps=timestamps,
        line_fields=entry.request_fields(),
    )
    _, result = carry_out(
        plan,
        EngineSpec(ENGINE, load),
        fields,
        quiet=quiet,
        json_output=json_output,
        server=server,
        token=token,
        remote_fields={"voice": voices[0] if voices else None, "n_q": n_q, "seed": seed},
        loading="loading Kyutai TTS...",
    )
    if isinstance(result, RunStats) and timestamps is not None:
        write_timestamps(timestamps, result.words, result.marks)
