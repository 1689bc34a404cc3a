"""The lab's steps by name: one table behind ``python -m ttscli.lab STEP`` and the
``scripts/`` shells, so a step is named once and imported only when it runs (the
benchmarks and trainers pull in heavy optional packages)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

STEPS: dict[str, tuple[str, str]] = {
    # name: (module under ttscli.lab, what it does)
    "build-corpus": ("corpus.build", "distil the teacher corpus: wavs, metadata, alignments"),
    "shift-corpus": ("corpus.pitch_shifted", "add PSOLA pitch-shifted copies of a corpus"),
    "align-mas": ("align.mas", "learn durations for a corpus without a teacher (MAS)"),
    "preprocess": ("train.features", "mels, F0 and energy features of a corpus"),
    "train-fs2": ("train.fs2", "train FastSpeech 2 (and optionally its 2s decoder)"),
    "train-fs2s": ("train.fs2s", "attach and train the 2s waveform decoder, or a mel vocoder"),
    "train-listener": ("train.listener", "train a phoneme listener to fine-tune decoders against"),
    "train-vocoder": ("train.vocoder", "port, fit, export and check the latent vocoder"),
    "train-student": ("train.student", "distil the vocoder's generator into a cheaper student"),
    "train-lean": ("train.lean", "distil the voice into a leaner, faster one"),
    "average-weights": ("train.average", "average fine-tuned copies of one voice's weights"),
    "bundle-voice": ("train.bundle", "copy a trained voice into the package as the default"),
    "evaluate": ("evaluation.evaluate", "WER and DNSMOS of voices on held-out sentences"),
    "check-f0": ("evaluation.f0_check", "compare F0 trackers on recordings"),
    "check-vocoder-f0": ("evaluation.vocoder_f0", "how closely vocoders follow a pitch ratio"),
    "check-judge-pitch": ("evaluation.judge_pitch", "what DNSMOS makes of pitch changes"),
    "check-judge-level": ("evaluation.judge_level", "what DNSMOS makes of loudness"),
    "check-pitch-roughness": ("evaluation.pitch_roughness", "F0 movement against recordings"),
    "check-wer-gap": ("evaluation.wer_gap", "which part of the voice costs words, measured"),
    "check-ssml": ("evaluation.ssml_targets", "what SSML does to the bundled voice, measured"),
    "bench-fs2": ("evaluation.bench_fs2", "stage-by-stage speed of the bundled voice"),
    "bench-batch": ("evaluation.bench_batch", "batch synthesis speed against Piper"),
    "bench-jsonl": ("evaluation.bench_jsonl", "a JSONL batch with mixed options vs plain"),
    "bench-start": ("evaluation.bench_start", "a cold start's parts; first audio, long text"),
    "bench-compile": ("evaluation.bench_compile", "torch.compile and threads against eager"),
    "bench-speak": ("evaluation.bench_speak", "time to first audio and real-time factor"),
    "bench-serve": ("evaluation.bench_serve", "the server's latency and throughput"),
    "bench-cluster": ("evaluation.bench_cluster", "batch speed on a Ray cluster"),
}


def usage() -> str:
    width = max(map(len, STEPS))
    rows = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in STEPS.items())
    return (
        "usage: python -m ttscli.lab STEP [options]\n\n"
        "The voice's corpus, training, alignment and evaluation, one step at a time\n"
        "(docs/training.md is the recipe). STEP --help lists a step's options.\n\n"
        f"steps:\n{rows}\n"
    )


def run(step: str, argv: Sequence[str] | None = None) -> int:
    """Run ``step`` with ``argv`` (default: this process's arguments after the script)."""
    module_name, _ = STEPS[step]
    module = importlib.import_module(f"ttscli.lab.{module_name}")
    args = list(sys.argv[1:] if argv is None else argv)
    program, sys.argv[0] = sys.argv[0], f"python -m ttscli.lab {step}"  # argparse's usage line
    try:
        return int(module.main(args) or 0)
    finally:
        sys.argv[0] = program


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0 if args else 2
    step, rest = args[0], args[1:]
    if step not in STEPS:
        print(f"error: no step {step!r}; `python -m ttscli.lab --help` lists them", file=sys.stderr)
        return 2
    return run(step, rest)
