"""A file of lines to synthesise, read as a stream each time it is needed.

A batch may be millions of lines: they are never held whole, only read again (once to
check them, once to find what is left to do, once to do it). Standard input, which cannot
be read twice, is copied to a temporary file first.

Three forms, told by the file's suffix (and, on stdin, by a first line that opens a JSON
object):

* plain text: one utterance a line, files named by line number;
* JSON Lines (``.jsonl``): one object a line with an ``id`` that names its file, ``text``,
  ``ssml`` or ``turns``, ``voice`` or ``voices``, and the engine's own options;
* pipe-separated (``.csv``, ``.psv``), as TTS datasets are: ``id|text`` or
  ``id|voice|text`` (the first line decides which).

Every line is checked in the first read, before a model loads: a bad one fails the run in
one line that names it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscli.engines.base import OptionError, OptionField
from ttscli.text.dialogue import Dialogue
from ttscli.text.markup import Markup
from ttscli.util.errors import UserError, reading

MAX_LINE_BYTES = 1_000_000
"""A line longer than this is refused (an hour of speech is a tenth of it)."""
MAX_ID_BYTES = 200
CONTENT_KEYS = ("text", "ssml", "turns")
_UNSAFE_ID = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)


@dataclass(frozen=True)
class BatchLine:
    index: int
    """1-based line number in the input file."""
    text: str
    """What is said: the text, the SSML document, or a dialogue's turns as labelled text."""
    id: str | None = None
    """Names the line's files (``{id}.wav``); None: its line number does."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The line's own request fields, over the run's."""
    ssml: bool = False
    turns: tuple[str, ...] = ()
    load: Mapping[str, Any] = field(default_factory=dict)
    """The line's own load fields (fs2's ``model``): another engine speaks it."""

    def options(self) -> dict[str, Any]:
        """Everything the line sets for itself, as its manifest entry records it."""
        return {**self.fields, **self.load}

    def identity(self) -> str:
        """What must be unchanged for a made file to count as this line's: the text, or
        for a structured line its content and options."""
        if self.id is None and not self.options() and not self.ssml and not self.turns:
            return self.text
        return identity_of(self.text, self.options(), self.ssml, list(self.turns))

    def content(self) -> str | Markup | Dialogue:
        """What the engine reads: text, markup, or a dialogue's turns."""
        if self.turns:
            return Dialogue.from_texts(self.turns)
        if self.ssml:
            from ttscli.text.ssml import parse_ssml

            return parse_ssml(self.text)
        return self.text


def identity_of(text: str, options: dict[str, Any], ssml: bool, turns: list[str]) -> str:
    """``BatchLine.identity`` of a structured line, also from its manifest entry."""
    data = {"text": text, "options": options, "ssml": ssml, "turns": turns}
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def check_id(value: object) -> str:
    """An id that is a safe file name on every system, or a one-line error."""
    if not isinstance(value, str):
        raise UserError(f"id: expected a string, got {type(value).__name__}")
    shown = json.dumps(value[:40])
    if not value.strip():
        raise UserError("id: empty")
    if _UNSAFE_ID.search(value):
        raise UserError(f"id {shown}: path separators, control characters and :*?\"<>| "
                        "are not allowed in a file name")  # fmt: skip
    if value.startswith(".") or value.endswith((" ", ".")) or value != value.strip():
        raise UserError(f"id {shown}: may not start with a dot or start or end with a space")
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise UserError(f"id {shown}...: longer than {MAX_ID_BYTES} bytes")
    if _RESERVED.fullmatch(value):
        raise UserError(f"id {shown}: a reserved device name on Windows")
    return value


class LinesFile:
    """The lines of a UTF-8 file (``-`` is stdin), checked, with their line numbers.

    ``fields``: the request fields a structured line may set (the engine's), checked
    against their general limits here; None accepts only plain lines' form.
    ``load_fields``: the load fields a JSON line may set for itself (``BatchLine.load``).
    """

    def __init__(
        self,
        path: Path,
        fields: Sequence[OptionField] | None = None,
        load_fields: Sequence[OptionField] = (),
    ) -> None:
        self.name = str(path)
        self._fields = {f.name: f for f in fields or ()}
        self._load_fields = {f.name: f for f in load_fields}
        self._spool: tempfile._TemporaryFileWrapper[bytes] | None = None
        if self.name == "-":
            # Lives as long as this object (the runs read it again), removed when it goes.
            self._spool = tempfile.NamedTemporaryFile(prefix="ttscli-stdin-")  # noqa: SIM115
            shutil.copyfileobj(sys.stdin.buffer, self._spool)
            self._spool.flush()
            self.path = Path(self._spool.name)
        else:
            self.path = path
        self.form = self._form(path)
        self._columns = 0
        self.count = self._check()

    def _form(self, path: Path) -> str:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            return "jsonl"
        if suffix in (".csv", ".psv"):
            return "pipes"
        if self.name == "-":
            with reading(f"--in {self.name}"), self.path.open("rb") as handle:
                for raw in handle:
                    if raw.strip():
                        return "jsonl" if raw.lstrip().startswith(b"{") else "text"
        return "text"

    def _check(self) -> int:
        """Read it through once: missing, a folder, not UTF-8, empty, a bad line or a
        repeated id fails here, early."""
        count = 0
        seen: set[str] = set()
        with reading(f"--in {self.name}"):
            for line in self:
                count += 1
                if line.id is not None:
                    folded = line.id.casefold()
                    if folded in seen:
                        raise UserError(
                            f"--in {self.name} line {line.index}: id {json.dumps(line.id)} "
                            "is used twice (ids are compared ignoring case, as file systems do)"
                        )
                    seen.add(folded)
        if not count:
            raise UserError(f"--in {self.name}: no text lines to synthesise")
        return count

    def __iter__(self) -> Iterator[BatchLine]:
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if len(raw) > MAX_LINE_BYTES:
                    raise self._error(number, f"longer than {MAX_LINE_BYTES // 1_000_000} MB")
                try:
                    text = raw.decode("utf-8").strip()
                except UnicodeDecodeError:
                    raise self._error(number, "not UTF-8 text") from None
                if not text:
                    continue
                try:
                    yield self._line(number, text)
                except UserError as exc:
                    raise self._error(number, str(exc)) from None

    def _error(self, number: int, reason: str) -> UserError:
        return UserError(f"--in {self.name} line {number}: {reason}")

    def _line(self, number: int, text: str) -> BatchLine:
        if self.form == "jsonl":
            return self._json_line(number, text)
        if self.form == "pipes":
            return self._pipe_line(number, text)
        return BatchLine(number, text)

    def _pipe_line(self, number: int, text: str) -> BatchLine:
        if not self._columns:
            self._columns = 3 if text.count("|") >= 2 else 2
        parts = text.split("|", self._columns - 1)
        if len(parts) < self._columns or not parts[-1].strip():
            form = "id|voice|text" if self._columns == 3 else "id|text"
            raise UserError(f"expected {form} (the first line has {self._columns} columns)")
        fields: dict[str, Any] = {}
        if self._columns == 3:
            fields = self._checked({"voices": [parts[1].strip()]}, column="voice")
        return BatchLine(number, parts[-1].strip(), check_id(parts[0].strip()), fields)

    def _json_line(self, number: int, text: str) -> BatchLine:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"not a JSON object ({exc.args[0].split(':')[0]})") from None
        if not isinstance(data, dict):
            raise UserError("not a JSON object")
        if "id" not in data:
            raise UserError('no "id" (it names the line\'s files)')
        line_id = check_id(data.pop("id"))
        given = [key for key in CONTENT_KEYS if key in data]
        if len(given) != 1:
            raise UserError('give one of "text", "ssml" or "turns"')
        key = given[0]
        content = data.pop(key)
        if "voice" in data:
            if "voices" in data:
                raise UserError('give "voice" or "voices", not both')
            voice = data.pop("voice")
            data["voices"] = [voice] if isinstance(voice, str) else voice
        fields = self._checked(data)
        load = {name: fields.pop(name) for name in list(fields) if name in self._load_fields}
        if key == "turns":
            if "voices" not in self._fields:
                raise UserError("turns are a dialogue, which needs two voices: this engine has one")
            if not isinstance(content, list) or not all(isinstance(t, str) for t in content):
                raise UserError("turns: expected a list of strings")
            dialogue = Dialogue.from_texts(content)
            return BatchLine(
                number, dialogue.text, line_id, fields, turns=tuple(content), load=load
            )
        if not isinstance(content, str):
            raise UserError(f"{key}: expected a string, got {type(content).__name__}")
        if not content.strip():
            raise UserError(f"{key}: empty")
        if key == "ssml":
            from ttscli.text.ssml import parse_ssml

            parse_ssml(content)
        return BatchLine(number, content, line_id, fields, ssml=key == "ssml", load=load)

    def _checked(self, data: dict[str, Any], column: str | None = None) -> dict[str, Any]:
        """A line's fields, each one the engine takes and within its limits."""
        out: dict[str, Any] = {}
        for name, value in data.items():
            spec = self._fields.get(name) or self._load_fields.get(name)
            if spec is None:
                if column is not None:
                    raise UserError(f"a {column} column, but this engine speaks one voice")
                known = ", ".join(["id", *CONTENT_KEYS, *self._line_names()])
                raise UserError(f"unknown field {json.dumps(name[:40])} (known: {known})")
            try:
                out[name] = spec.check(value)
            except OptionError as exc:
                raise UserError(str(exc)) from None
        return out

    def _line_names(self) -> list[str]:
        names = [*self._fields, *self._load_fields]
        if "voices" in names:
            names.insert(names.index("voices"), "voice")
        return names

    def __len__(self) -> int:
        return self.count
