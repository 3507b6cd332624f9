"""Reading and writing contacts CSV: UTF-8 checks, bounded line reading, and cells that
spreadsheets cannot mistake for formulas."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from wacc.lib.errors import ValidationError
from wacc.lib.text import clean_text

# A physical line longer than this is a row error; it is skipped in chunks, never held.
MAX_LINE = 65_536
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


# -- reading CSV --------------------------------------------------------------------------


def utf8_problem(data: bytes | BinaryIO) -> str | None:
    """Why *data* (bytes, or a seekable binary file read from its start and rewound) is
    not UTF-8 text, naming the byte offset; None when it is. A file is read a megabyte
    at a time, never whole."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    file.seek(0)
    try:
        decoder = codecs.getincrementaldecoder("utf-8")()
        start, lines = 0, 0
        while True:
            chunk = file.read(1 << 20)
            if start == 0 and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                return "the file is UTF-16; save it as CSV UTF-8"
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                held = pending + chunk  # the bytes the decoder was looking at
                offset = start - len(pending) + exc.start
                line = lines + held.count(b"\n", 0, exc.start) + 1
                return (f"not UTF-8: byte 0x{held[exc.start]:02x} at byte offset {offset} "
                        f"(line {line}); save the file as CSV UTF-8")
            if not chunk:
                return None
            lines += chunk.count(b"\n")
            start += len(chunk)
    finally:
        file.seek(0)


class _Lines:
    """The physical lines of a text stream for csv.reader. A line over MAX_LINE is read
    on in chunks and dropped, and ``too_long`` marks the record it belonged to."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream = stream
        self.too_long = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        if len(line) > MAX_LINE and line[-1] not in "\r\n":
            while (rest := self.stream.readline(MAX_LINE)) and rest[-1] not in "\r\n":
                pass
            self.too_long = True
            return "\n"
        # A NUL would make the row unstorable on PostgreSQL: cleaned here, before the
        # csv reader splits the line, so header and cells alike are clean (issue 14).
        return clean_text(line)


@dataclass
class CsvSource:
    lines: _Lines
    reader: Any
    header: list[str]
    row: int = 1  # the header is row 1, as a spreadsheet numbers it

    def records(self) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """(row number, cells, problem) for each non-blank record after the header."""
        while True:
            cells: list[str] | None
            problem: str | None
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                cells, problem = None, f"unreadable CSV: {exc}"
            else:
                problem = None
            self.row += 1
            if self.lines.too_long:
                self.lines.too_long = False
                cells, problem = None, f"a line is longer than {MAX_LINE} characters"
            if problem is None and not any(c.strip() for c in cells or ()):
                continue
            yield self.row, cells, problem


def csv_header(file: BinaryIO) -> list[str]:
    """The header row of an uploaded file, read without holding the file; rewound."""
    file.seek(0)
    source = open_csv(file)
    source.lines.stream.detach()  # type: ignore[attr-defined]  # the caller's file stays open
    file.seek(0)
    return source.header


def open_csv(data: bytes | BinaryIO) -> CsvSource:
    """The header and a record stream. The delimiter (comma, semicolon or tab) is the one
    the header line uses most; spreadsheets in many locales write semicolons."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    first = text.readline(MAX_LINE + 1)
    delimiter = max((",", ";", "\t"), key=first.count)
    text.seek(0)
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    if lines.too_long:
        raise ValidationError.field("file", f"the header line is longer than {MAX_LINE} characters")
    return CsvSource(lines, reader, [h.strip() for h in header])


def unescape(cell: str) -> str:
    """Undo the export's formula guard, so an exported file imports unchanged."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START:
        return cell[1:]
    return cell


def escape(value: Any) -> str:
    """*value* as a cell no spreadsheet runs as a formula. A phone number in E.164
    (``+4915112345678``) is left as it is: a plus and digits compute nothing, and the
    guard's apostrophe made every exported phone unusable elsewhere."""
    text = "" if value is None else str(value)
    if _E164.fullmatch(text):
        return text
    return "'" + text if text.startswith(_FORMULA_START) else text


