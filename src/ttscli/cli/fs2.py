"""``ttscli fs2``: FastSpeech 2 / 2s, the bundled voice or a checkpoint folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ttscli.cli import options as opt
from ttscli.cli.report import cluster_settings
from ttscli.cli.runs import carry_out
from ttscli.engines import registry
from ttscli.engines.base import Chunk, RunStats
from ttscli.engines.spec import EngineSpec
from ttscli.run.plan import RunPlan, wants_batch
from ttscli.util.errors import UserError

ENGINE = "fs2"


def fs2_command(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin.")
    ] = None,
    in_file: opt.InFileOption = None,
    out: opt.OutOption = None,
    output_device: opt.OutputDeviceOption = None,
    model: opt.ModelOption = "auto",
    checkpoint: opt.CheckpointOption = None,
    vocoder: opt.VocoderOption = "auto",
    device: opt.DeviceOption = opt.DeviceChoice.auto,
    precision: opt.PrecisionOption = "auto",
    pitch: opt.PitchOption = 1.0,
    energy: opt.EnergyOption = 1.0,
    duration: opt.DurationOption = 1.0,
    ssml: opt.SsmlOption = False,
    lexicon: opt.LexiconOption = None,
    sentence_silence: opt.SentenceSilenceOption = 0.0,
    paragraph_silence: opt.ParagraphSilenceOption = 0.0,
    timestamps: opt.TimestampsOption = None,
    phonemes: Annotated[bool, typer.Option("--phonemes", help="Print the phonemes.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Save mel, pitch and energy as a PNG.")] = None,
    json_output: opt.JsonOption = False,
    batch_size: opt.BatchSizeOption = 8,
    audio_format: opt.FormatOption = opt.AudioFormat.wav,
    quiet: opt.QuietOption = False,
    server: opt.ServerOption = None,
    token: opt.TokenOption = None,
    cluster: opt.ClusterOption = None,
    cluster_address: opt.ClusterAddressOption = None,
    workers: opt.WorkersOption = 2,
    worker_cpus: opt.WorkerCpusOption = 1.0,
    worker_gpus: opt.WorkerGpusOption = 0.0,
    voice: Annotated[list[str] | None, typer.Option(hidden=True)] = None,
) -> None:
    """Speak with FastSpeech 2 / 2s (the bundled voice or --checkpoint DIR)."""
    from ttscli.cli.plot import check_plot_path, save_prosody_plot
    from ttscli.run.sources import STDIN_PAUSE_SECONDS, require_text
    from ttscli.run.timestamps import write_timestamps

    if voice:
        raise UserError(
            "--voice: fs2 speaks with its checkpoint's one voice (--checkpoint DIR); "
            "voices and dialogues are for ttscli speak"
        )
    entry = registry.get(ENGINE)
    asked = {
        "pitch": pitch,
        "energy": energy,
        "duration": duration,
        "sentence_silence": sentence_silence,
        "paragraph_silence": paragraph_silence,
    }
    fields = entry.check_request(asked)
    fields = {name: fields[name] for name in asked}
    if plot is not None:
        check_plot_path(plot)
        if wants_batch(in_file, out):
            raise UserError("--plot is for one utterance, not for batches")
    plan = RunPlan(
        text=text,
        in_file=in_file,
        out=out,
        output_device=output_device,
        batch_size=batch_size,
        json_output=json_output,
        check_text=require_text if server or entry.check_text is None else entry.check_text,
        pause_after=STDIN_PAUSE_SECONDS,
        audio_format=audio_format.value,
        cluster=cluster_settings(cluster, cluster_address, workers, worker_cpus, worker_gpus),
        ssml=ssml,
        timestamps=timestamps,
        line_fields=entry.request_fields(),
        line_load_fields=entry.line_load_fields(),
    )
    load = {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "model": model,
        "vocoder": vocoder,
        "device": device.value,
        "lexicon": None if lexicon is None else str(lexicon),
        "precision": precision,
    }
    phoneme_stream = sys.stderr if out == "-" else sys.stdout

    def show_phonemes(chunk: Chunk) -> None:
        if chunk.phonemes:  # the first chunk of each sentence
            print(" ".join(chunk.phonemes), file=phoneme_stream, flush=True)

    _, result = carry_out(
        plan,
        EngineSpec(ENGINE, load),
        fields,
        quiet=quiet,
        json_output=json_output,
        server=server,
        token=token,
        remote_fields={"model": model},
        keep_chunks=plot is not None,
        on_chunk=show_phonemes if phonemes else None,
    )
    if isinstance(result, RunStats) and timestamps is not None:
        write_timestamps(timestamps, result.words, result.marks)
    if plot is not None and isinstance(result, RunStats) and result.chunks:
        heads = [c for c in result.chunks if c.prosody is not None]
        save_prosody_plot(
            plot,
            [c.prosody for c in heads if c.prosody is not None],
            " | ".join(" ".join(c.phonemes) for c in heads),
        )
