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

Example:
    .venv/bin/python scripts/bench_fs2.py --limit 20
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ttscli.fs2.engine import FS2Engine

from ttscli.fs2.latent_vocoder import LatentVocoder
from ttscli.fs2.model import Controls
from ttscli.fs2.vocoders import NeuralVocoder
from ttscli.lab.data import VALIDATION_SENTENCES, bundled_text
from ttscli.lab.evaluation.evaluate import (
    EspeakSystem,
    FS2System,
    System,
    TeacherSystem,
    machine_description,
    read_sentences,
)
from ttscli.text.frontend import text_to_utterances


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
                start = time.perf_counter()
                acoustic = engine.run_acoustic([phonemes], Controls())
                middle = time.perf_counter()
                mel = acoustic.mel.transpose(1, 2)
                hidden = latent.latent(mel, acoustic.log_f0)
                after_adapter = time.perf_counter()
                wave = latent.decoder(hidden, acoustic.log_f0)  # a harmonic source reads F0
                end = time.perf_counter()
                if timed:
                    spent["acoustic model"] += middle - start
                    spent["vocoder adapter"] += after_adapter - middle
                    spent["generator"] += end - after_adapter
                    audio_seconds += wave.shape[-1] / engine.sample_rate
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=bundled_text(VALIDATION_SENTENCES))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: bundled voice")
    parser.add_argument("--no-references", action="store_true", help="skip teacher, espeak-ng")
    args = parser.parse_args(argv)
    sentences = read_sentences(args.sentences, args.limit)

    fs2 = FS2System("ttscli-fs2", args.checkpoint, "fs2", "auto")
    spent, audio_seconds = stage_times(fs2.engine, sentences)
    total = sum(spent.values())
    print(f"{len(sentences)} sentences, {audio_seconds:.1f} s of audio; {machine_description()}")
    print("\n| stage (ttscli fs2) | seconds | RTF | share |\n|---|---:|---:|---:|")
    for name, seconds in spent.items():
        print(f"| {name} | {seconds:.3f} | {seconds / audio_seconds:.4f} | {seconds / total:.0%} |")
    print(f"| all stages | {total:.3f} | {total / audio_seconds:.4f} | 100% |")

    systems: list[System] = [fs2]
    if fs2.engine.model.wave_decoder is not None:
        systems.append(FS2System("ttscli-fs2s", args.checkpoint, "fs2s", "auto"))
    if not args.no_references:
        systems += [TeacherSystem(), EspeakSystem()]
    rows = [(system.name, end_to_end_rtf(system, sentences)) for system in systems]
    teacher = dict(rows).get("teacher")
    print("\n| system (end to end) | RTF | vs teacher |\n|---|---:|---:|")
    for name, rtf in rows:
        ratio = f"{rtf / teacher:.2f}x" if teacher else "n/a"
        print(f"| {name} | {rtf:.4f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
