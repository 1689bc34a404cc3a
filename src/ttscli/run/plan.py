"""One command's run, planned and checked before any model loads, then carried out.

Both ``fs2`` and ``speak`` go through here: where the text comes from (an argument, a
file, stdin as it arrives), where the audio goes (sound card, file, stdout, or a folder
for a batch), and which runner drives the engine. Everything a user can get wrong fails
in the constructor, in one line, before the seconds a model takes to load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from ttscli.cluster.ray_batch import (
    ClusterSettings,
    ClusterSummary,
    check_reachable,
    import_ray,
    run_cluster_batch,
)
from ttscli.engines.base import (
    Chunk,
    Engine,
    OptionField,
    RunStats,
    markup_for,
    markup_stream_for,
)
from ttscli.engines.spec import EngineSpec
from ttscli.run.batch import BatchSummary, check_batch_size, prepare_out_dir, run_batch
from ttscli.run.line_engines import LineEngines
from ttscli.run.lines import LinesFile
from ttscli.run.outputs import check_output, is_batch_dir, open_sink
from ttscli.run.single import speak_to
from ttscli.run.sources import text_source
from ttscli.run.timestamps import batch_timestamps, check_timestamps_path
from ttscli.text.feed import PAUSE
from ttscli.text.markup import Markup, MarkupStream
from ttscli.text.ssml import SsmlReader, looks_like_ssml, parse_ssml
from ttscli.util.errors import UserError


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
        audio_format: str = "wav",
        cluster: ClusterSettings | None = None,
        ssml: bool = False,
        timestamps: Path | None = None,
        line_fields: Sequence[OptionField] = (),
        line_load_fields: Sequence[OptionField] = (),
    ) -> None:
        """``ssml``: the text is SSML (it is also taken as SSML when it starts with
        ``<speak``). SSML is parsed here, so a malformed document fails before a model
        loads; on stdin it is parsed as it arrives, and each sentence is spoken once its
        markup has closed. ``line_fields``: what a line of a structured batch (JSON Lines)
        may set, the engine's request fields; each line is checked against them here.
        ``line_load_fields``: the load fields a line may set (another model for that line)."""
        check_batch_size(batch_size)
        self.audio_format = audio_format
        self.cluster = cluster
        if cluster is not None:
            if not wants_batch(in_file, out):
                raise UserError("--cluster is for batches: --in LINES.txt --out FOLDER")
            cluster.check()
            import_ray()
            if cluster.address:
                check_reachable(cluster.address)
        if out == "-" and json_output:
            raise UserError("--json prints on stdout, which --out - already uses for audio")
        if in_file is not None and text is not None:
            raise UserError("give either TEXT or --in FILE, not both")
        self.out = out
        self.output_device = output_device
        self.batch_size = batch_size
        self.batch_dir = Path(out or ".") if wants_batch(in_file, out) else None
        self.timestamps: str | None = None
        """In a batch, the suffix of each line's timing file."""
        if timestamps is not None:
            if self.batch_dir is not None:
                self.timestamps = batch_timestamps(timestamps)
            else:
                check_timestamps_path(timestamps)
        self.lines: LinesFile | None = None
        self.source: str | Iterator[str] = ""
        self.markup: Markup | None = None
        """The text as SSML's spans, when it is SSML."""
        self.raw_ssml = ""
        self.markup_pieces: Iterator[Markup] | None = None
        """SSML on stdin, a sentence at a time as it arrives (then ``source`` is empty)."""
        self.warnings: list[str] = []
        if self.batch_dir is not None:
            assert in_file is not None
            self.lines = LinesFile(in_file, line_fields, line_load_fields)
            prepare_out_dir(self.batch_dir)
        else:
            check_output(out, output_device)

            def check(whole: str) -> object:
                if ssml or looks_like_ssml(whole):
                    self.raw_ssml = whole
                    self.markup = parse_ssml(whole)
                    return check_text(self.markup)
                return check_text(whole)

            self.source = text_source(
                text, in_file, check=check, read_all=read_all, pause_after=pause_after
            )
            if not isinstance(self.source, str):
                self.source = self._ssml_on_stdin(self.source, ssml)

    def _ssml_on_stdin(self, fragments: Iterator[str], ssml: bool) -> Iterator[str]:
        """Fragments as they come, unless the input is SSML: then its pieces, parsed as
        they arrive (``markup_pieces``); what has arrived by now is parsed now, so a
        malformed head fails before a model loads. Without ``--ssml``, the first few
        characters tell (``<speak``)."""
        head: list[str] = []
        if not ssml:
            for fragment in fragments:
                head.append(fragment)
                if len("".join(head).lstrip()) >= len("<speak"):
                    break
            if not looks_like_ssml("".join(head)):
                return chain(head, fragments)
        reader = SsmlReader()
        first = "".join(f for f in head if f != PAUSE)
        self.raw_ssml = first
        ready = reader.feed(first)
        self.markup_pieces = self._pieces(reader, ready, fragments)
        return iter(())

    def _pieces(
        self, reader: SsmlReader, ready: list[Markup], fragments: Iterator[str]
    ) -> Iterator[Markup]:
        said = False
        for fragment in fragments:
            for piece in ready:
                said = said or bool(piece.text.strip())
                yield piece
            if fragment != PAUSE:
                self.raw_ssml += fragment
                ready = reader.feed(fragment)
            else:
                ready = []
        for piece in [*ready, *reader.close()]:
            said = said or bool(piece.text.strip())
            yield piece
        if not said:
            raise UserError("nothing to say: the SSML document has no text")

    def execute(
        self,
        engine: Engine[Any],
        fields: Mapping[str, Any],
        *,
        quiet: bool,
        keep_chunks: bool = False,
        on_chunk: Callable[[Chunk], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        spec: EngineSpec | None = None,
    ) -> BatchSummary | RunStats:
        """Run the plan: the batch runner for a folder, ``speak_to`` for everything else.
        ``fields`` become the engine's options first: the voice's own limits fail before
        anything is written. ``spec``: how ``engine`` was loaded, for a batch's lines that
        ask for another model."""
        options = engine.options(fields)
        if self.batch_dir is not None:
            assert self.lines is not None
            return run_batch(
                engine,
                self.lines,
                self.batch_dir,
                self.audio_format,
                options,
                self.batch_size,
                quiet,
                self.timestamps,
                fields,
                LineEngines(engine, spec),
            )
        source: str | Iterable[str] | Markup | MarkupStream = self.source
        if self.markup_pieces is not None:
            source = markup_stream_for(
                engine, self.markup_pieces, options, self._warning_teller(on_warning)
            )
        elif self.markup is not None:
            source, self.warnings = markup_for(engine, self.markup, options)
            if on_warning is not None:
                for warning in self.warnings:
                    on_warning(warning)
        sink = open_sink(self.out, engine.sample_rate, self.output_device)
        stats = speak_to(engine, source, sink, options, keep_chunks=keep_chunks, on_chunk=on_chunk)
        stats.warnings = self.warnings
        return stats

    def _warning_teller(self, on_warning: Callable[[str], None] | None) -> Callable[[str], None]:
        def tell(warning: str) -> None:
            self.warnings.append(warning)
            if on_warning is not None:
                on_warning(warning)

        return tell

    def execute_on_cluster(
        self,
        spec: EngineSpec,
        fields: Mapping[str, Any],
        progress: Callable[[int, float], None] | None = None,
    ) -> ClusterSummary:
        """The batch on Ray actors (``cluster`` was given, so this is a batch); this process
        only reads, writes and keeps the manifest. ``progress(lines, audio_seconds)`` hears
        of each shard written."""
        assert self.cluster is not None and self.batch_dir is not None and self.lines is not None
        return run_cluster_batch(
            spec, self.lines, self.batch_dir, self.audio_format, dict(fields), self.cluster,
            self.batch_size, progress=progress, timestamps=self.timestamps,
        )  # fmt: skip

    def execute_remote(self, url: str, fields: dict[str, Any], token: str | None) -> RunStats:
        """The same run, synthesised by a ``ttscli serve`` at ``url`` (no model here)."""
        if self.batch_dir is not None:
            raise UserError("--server speaks one text; run batches (--in with a folder) locally")
        if self.markup_pieces is not None:
            for _ in self.markup_pieces:  # the whole document, checked
                pass
        text = self.source if isinstance(self.source, str) else "".join(self.source)
        if (self.markup is not None or self.markup_pieces is not None) and not text:
            text = self.raw_ssml
        if not text.strip():
            raise UserError("nothing to say: standard input was empty")
        from ttscli.run.client import speak_via_server  # only --server needs it

        return speak_via_server(
            url,
            {**fields, "input": text},
            lambda rate: open_sink(self.out, rate, self.output_device),
            token,
        )
