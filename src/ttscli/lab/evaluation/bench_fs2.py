"""Where `ttscli fs2`'s synthesis time goes, stage by stage, beside the teacher and espeak-ng.

`scripts/evaluate.py` gives each system's end-to-end real-time factor (RTF); this script
splits ours into its stages on the same sentences, so that speed work starts where the time
is: text front-end (normaliser + g2p), acoustic model, vocoder adapter, waveform generator.
Then it times, in the same run and on the same sentences, the end-to-end engine (`fs2` and,
when the checkpoint has one, `fs2s`), the Piper teacher and espeak-ng, and prints each one's
RTF and its ratio to the teacher's. Each of them first runs once over all the sentences
untimed, then is timed on a second pass: torch and onnxruntime prepare kernels per input
shape, and a first pass would charge that to whichever system happened to run first. (The
front-end stage alone is timed on the first pass: it caches each word's pronunciation, and
new text brings new words.)

Last, the engine's own batch path (`ttscli fs2 --in`) at several mini-batch sizes, as audio
seconds per wall-clock second, and its first audio (`stream`'s first chunk, median of a
few runs): the figures a GPU is for.

Examples:
    .venv/bin/python scripts/bench_fs2.py --limit 20
    python scripts/bench_fs2.py --device cuda --no-references   # on a GPU machine
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ttscli.fs2.engine import FS2Engine

from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.model import Controls
from ttscli.fs2.shape_buckets import padded_length
from ttscli.fs2.vocoders import NeuralVocoder
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.lab.evaluation.devices import device_name, synchronize
from ttscli.lab.evaluation.evaluate import (
    EspeakSystem,
    FS2System,
    System,
    TeacherSystem,
    machine_description,
    read_sentences,
)
from ttscli.text.frontend import text_to_utterances

FIRST_AUDIO_TEXT = "Hello world, this is a latency test of the bundled voice."


def stage_times(engine: FS2Engine, sentences: Sequence[str]) -> tuple[dict[str, float], float]:
    """Seconds spent in each stage of the mel route over all sentences, and audio seconds."""
    import torch

    vocoder = engine.vocoder
    if not isinstance(vocoder, NeuralVocoder) or not isinstance(vocoder.module, LatentVocoder):
        raise SystemExit("error: this breakdown needs a latent (adapter + generator) vocoder")
    latent = vocoder.module
    spent = dict.fromkeys(("front-end", "acoustic model", "vocoder adapter", "generator"), 0.0)
    audio_seconds = 0.0
    with torch.inference_mode():
        for i, text in enumerate([*sentences, *sentences]):
            timed = i >= len(sentences)
            begin = time.perf_counter()
            utterances = [u.phonemes for u in text_to_utterances(text)]
            if not timed:  # the front-end caches words: its first pass is the honest one
                spent["front-end"] += time.perf_counter() - begin
            for phonemes in utterances:
                synchronize(engine.device)
                start = time.perf_counter()
                acoustic = engine.run_acoustic([phonemes], Controls())
                synchronize(engine.device)
                middle = time.perf_counter()
                # as long as the engine's vocoder pass (padded frames are masked here)
                frames = padded_length(int(acoustic.output.frame_lengths[0]))
                mel, log_f0 = acoustic.mel[:, :frames].transpose(1, 2), acoustic.log_f0
                mel = mel.to(engine.vocoder_dtype)
                log_f0 = None if log_f0 is None else log_f0[:, :frames]
                hidden = latent.latent(mel, log_f0)
                synchronize(engine.device)
                after_adapter = time.perf_counter()
                latent.decoder(hidden, log_f0)  # a harmonic source reads F0
                synchronize(engine.device)
                end = time.perf_counter()
                if timed:
                    spent["acoustic model"] += middle - start
                    spent["vocoder adapter"] += after_adapter - middle
                    spent["generator"] += end - after_adapter
                    audio_seconds += int(acoustic.output.frame_lengths[0]) * engine.frame_seconds
    return spent, audio_seconds


def end_to_end_rtf(system: System, sentences: Sequence[str]) -> float:
    for text in sentences:  # the untimed pass
        system.render(text)
    compute = audio = 0.0
    for text in sentences:
        rendered = system.render(text)
        compute += rendered.compute_seconds
        audio += len(rendered.audio) / rendered.sample_rate
    return compute / audio


def batch_throughput(
    engine: FS2Engine, sentences: Sequence[str], batch: int
) -> tuple[float, float]:
    """Audio seconds per wall-clock second through ``synthesize_batch`` in mini-batches of
    ``batch`` lines (the sentences repeated to fill at least one), and peak GPU memory in
    GB (0 on the CPU). The lines are prepared (front-end) inside the clock, as `--in` does;
    a first untimed pass lets torch pick its kernels for these shapes."""
    import torch

    count = max(len(sentences), batch)
    count += -count % batch  # whole mini-batches only
    lines = [sentences[i % len(sentences)] for i in range(count)]

    def one_pass() -> float:
        audio = 0.0
        for start in range(0, count, batch):
            prepared = [engine.prepare_line(text) for text in lines[start : start + batch]]
            for chunk in engine.synthesize_batch(prepared):
                audio += len(chunk.audio) / chunk.sample_rate
        return audio

    with torch.inference_mode():
        one_pass()
        if engine.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(engine.device)
        began = time.perf_counter()
        audio = one_pass()
        elapsed = time.perf_counter() - began
    memory = 0.0
    if engine.device.type == "cuda":
        memory = torch.cuda.max_memory_allocated(engine.device) / 1e9
    return audio / elapsed, memory


def first_audio_ms(engine: FS2Engine, repeats: int) -> float:
    """Median milliseconds from handing ``stream`` a sentence to its first chunk (a chunk
    holds samples on the host, so the device's work is in the figure); one run warms up."""
    samples = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        stream = engine.stream(FIRST_AUDIO_TEXT)
        next(stream)
        samples.append((time.perf_counter() - began) * 1000)
        stream.close()
    return statistics.median(samples[1:])


def print_batches(engine: FS2Engine, sentences: Sequence[str], args: argparse.Namespace) -> None:
    print(f"\n{engine.kind.value} on {device_name(engine.device)}: first audio "
          f"{first_audio_ms(engine, args.repeats):.0f} ms (median of {args.repeats})")  # fmt: skip
    gpu = engine.device.type == "cuda"
    print("\n| mini-batch | audio seconds per second |" + (" peak GPU GB |" if gpu else ""))
    print("|---:|---:|" + ("---:|" if gpu else ""))
    for batch in args.batches:
        speed, memory = batch_throughput(engine, sentences, batch)
        extra = f" {memory:.2f} |" if gpu else ""
        print(f"| {batch} | {speed:.1f} |{extra}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=bundled_text(VALIDATION_SENTENCES))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: bundled voice")
    parser.add_argument("--no-references", action="store_true", help="skip teacher, espeak-ng")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--batches", default="1,16,64", help="mini-batch sizes to time")
    parser.add_argument("--repeats", type=int, default=5, help="first-audio runs (median)")
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    if not args.batches or min(args.batches) < 1 or args.repeats < 1:
        parser.error("--batches takes positive sizes, --repeats a positive count")
    sentences = read_sentences(args.sentences, args.limit)

    fs2 = FS2System("ttscli-fs2", args.checkpoint, "fs2", "auto", device=args.device)
    spent, audio_seconds = stage_times(fs2.engine, sentences)
    total = sum(spent.values())
    print(f"{len(sentences)} sentences, {audio_seconds:.1f} s of audio; {machine_description()}")
    print("\n| stage (ttscli fs2) | seconds | RTF | share |\n|---|---:|---:|---:|")
    for name, seconds in spent.items():
        print(f"| {name} | {seconds:.3f} | {seconds / audio_seconds:.4f} | {seconds / total:.0%} |")
    print(f"| all stages | {total:.3f} | {total / audio_seconds:.4f} | 100% |")

    systems: list[System] = [fs2]
    if fs2.engine.model.wave_decoder is not None:
        systems.append(
            FS2System("ttscli-fs2s", args.checkpoint, "fs2s", "auto", device=args.device)
        )
    if not args.no_references:
        systems += [TeacherSystem(), EspeakSystem()]
    rows = [(system.name, end_to_end_rtf(system, sentences)) for system in systems]
    teacher = dict(rows).get("teacher")
    print("\n| system (end to end) | RTF | vs teacher |\n|---|---:|---:|")
    for name, rtf in rows:
        ratio = f"{rtf / teacher:.2f}x" if teacher else "n/a"
        print(f"| {name} | {rtf:.4f} | {ratio} |")
    for system in systems:
        if isinstance(system, FS2System):
            print_batches(system.engine, sentences, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
