"""Progress lines while the corpus is built, and the summary at the end."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ttscli.audio.dsp import MelSpec
from ttscli.lab.corpus.store import CorpusStore
from ttscli.text.symbols import ARPABET, PAUSE_SYMBOLS

MAX_SKIPPED_SHARE = 0.5
"""Stop the run when this share of its lines (and at least 10) is skipped: that is a bug or
a broken install, not odd sentences, and every skip would otherwise be logged as final."""


@dataclass
class Progress:
    total: int
    already: int
    interval: float
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    skipped: int = 0
    audio_seconds: float = 0.0
    last_print: float = field(default_factory=time.monotonic)
    printed_at: int = -1

    def update(self, samples: int | None) -> bool:
        """Count one result (its samples, None when skipped); True when a progress line
        was printed (time to sync files)."""
        if samples is not None:
            self.done += 1
            self.audio_seconds += samples / MelSpec().sample_rate
        else:
            self.skipped += 1
        now = time.monotonic()
        if now - self.last_print < self.interval:
            return False
        self.last_print = now
        self.print()
        return True

    def print(self) -> None:
        self.printed_at = self.done + self.skipped
        print(self.line(), flush=True)

    def finish(self) -> None:
        """The final count, unless the last progress line already showed it."""
        if self.total and self.printed_at != self.done + self.skipped:
            self.print()

    def failing(self) -> bool:
        """True when so many lines fail that going on would only log more failures."""
        return self.skipped >= MAX_SKIPPED_SHARE * max(self.done + self.skipped, 20)

    def rtf(self) -> float:
        """Audio seconds made per wall second (higher is faster)."""
        return self.audio_seconds / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        finished = self.done + self.skipped
        elapsed = time.monotonic() - self.started
        eta = elapsed / finished * (self.total - finished) if finished else float("nan")
        return (
            f"[{self.already + finished}/{self.already + self.total}] "
            f"{self.audio_seconds / 3600:.3f} h audio this run, RTF {self.rtf():.2f}x "
            f"(audio s per wall s), {self.skipped} skipped, ETA {eta / 60:.1f} min"
        )


def summary(corpus: CorpusStore, progress: Progress, wall_seconds: float) -> str:
    """Corpus size, this run's speed, skips by reason and phoneme inventory coverage."""
    counts: Counter[str] = Counter()
    alignments = [record.alignment for record in corpus.records.values()]
    for alignment in alignments:
        counts.update(alignment.phonemes)
    hours = sum(a.samples for a in alignments) / MelSpec().sample_rate / 3600
    inventory = [*ARPABET, *sorted(PAUSE_SYMBOLS)]
    missing = [s for s in inventory if not counts[s]]
    rarest = sorted((s for s in inventory if counts[s]), key=lambda s: counts[s])[:8]
    lines = [
        f"corpus: {len(alignments)} utterances, {hours:.3f} h of audio in {corpus.root}",
        f"this run: {progress.done} made, {progress.skipped} skipped, "
        f"{progress.audio_seconds / 3600:.3f} h audio, RTF {progress.rtf():.2f}x "
        f"(audio s per wall s, from the pool's start), wall time {wall_seconds:.1f} s",
        f"inventory: {len(inventory) - len(missing)}/{len(inventory)} symbols present"
        + (f"; missing: {' '.join(missing)}" if missing else "")
        + "; rarest: "
        + ", ".join(f"{s} {counts[s]}" for s in rarest),
    ]
    if corpus.skipped:
        reasons = Counter(reason.split(":")[0] for reason in corpus.skipped.values())
        lines.append(
            f"skipped lines (see skipped.tsv): {len(corpus.skipped)}; "
            + "; ".join(f"{n} x {r}" for r, n in reasons.most_common(5))
        )
    return "\n".join(lines)
