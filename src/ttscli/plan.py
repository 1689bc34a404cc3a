"""One command's run, planned and checked before any model loads, then carried out.

Both ``fs2`` and ``speak`` go through here: where the text comes from (an argument, a
file, stdin as it arrives), where the audio goes (sound card, file, stdout, or a folder
for a batch), and which runner drives the engine. Everything a user can get wrong fails
in the constructor, in one line, before the seconds a model takes to load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ttscli.batch import BatchSummary, check_batch_size, prepare_out_dir, run_batch
from ttscli.engine import Chunk, Engine, RunStats
from ttscli.errors import UserError
from ttscli.lines import LinesFile
from ttscli.output import check_output, is_batch_dir, open_sink
from ttscli.run import speak_to
from ttscli.serve.client import speak_via_server
from ttscli.text_input import text_source


def wants_batch(in_file: Path | None, out: str | None) -> bool:
    """A batch reads ``--in LINES`` and writes to a folder."""
    return in_file is not None and is_batch_dir(out)


class RunPlan:
    """Where one command's text comes from and where its audio goes, already checked."""

    def __init__(
        self,
        *,
        text: str | None,
        in_file: Path | None,
        out: str | None,
        output_device: str | None,
        batch_size: int,
        json_output: bool,
        check_text: Callable[[str], object],
        read_all: bool = False,
        pause_after: float | None = None,
    ) -> None:
        check_batch_size(batch_size)
        if out == "-" and json_output:
            raise UserError("--json prints on stdout, which --out - already uses for audio")
        if in_file is not None and text is not None:
            raise UserError("give either TEXT or --in FILE, not both")
        self.out = out
        self.output_device = output_device
        self.batch_size = batch_size
        self.batch_dir = Path(out or ".") if wants_batch(in_file, out) else None
        self.lines: LinesFile | None = None
        self.source: str | Iterator[str] = ""
        if self.batch_dir is not None:
            assert in_file is not None
            self.lines = LinesFile(in_file)
            prepare_out_dir(self.batch_dir)
        else:
            check_output(out, output_device)
            self.source = text_source(
                text, in_file, check=check_text, read_all=read_all, pause_after=pause_after
            )

    def execute(
        self,
        engine: Engine,
        options: Any,
        *,
        audio_format: str,
        quiet: bool,
        keep_chunks: bool = False,
        on_chunk: Callable[[Chunk], None] | None = None,
    ) -> BatchSummary | RunStats:
        """Run the plan: the batch runner for a folder, ``speak_to`` for everything else."""
        engine.check_options(options)  # the voice's own limits, before anything is written
        if self.batch_dir is not None:
            assert self.lines is not None
            return run_batch(
                engine, self.lines, self.batch_dir, audio_format, options, self.batch_size, quiet
            )
        sink = open_sink(self.out, engine.sample_rate, self.output_device)
        return speak_to(
            engine, self.source, sink, options, keep_chunks=keep_chunks, on_chunk=on_chunk
        )

    def execute_remote(self, url: str, fields: dict[str, Any], token: str | None) -> RunStats:
        """The same run, synthesised by a ``ttscli serve`` at ``url`` (no model here)."""
        if self.batch_dir is not None:
            raise UserError("--server speaks one text; run batches (--in with a folder) locally")
        text = self.source if isinstance(self.source, str) else "".join(self.source)
        if not text.strip():
            raise UserError("nothing to say: standard input was empty")
        return speak_via_server(
            url,
            {**fields, "input": text},
            lambda rate: open_sink(self.out, rate, self.output_device),
            token,
        )
