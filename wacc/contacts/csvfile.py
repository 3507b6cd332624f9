"""Reading and writing contacts CSV: UTF-8 checks, bounded line reading, and cells that
spreadsheets cannot mistake for formulas."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wacc.lib.errors import ValidationError
from wacc.lib.text import clean_text

# A physical line longer than this is a row error; it is skipped in chunks, never held.
MAX_LINE = 65_536
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- reading CSV --------------------------------------------------------------------------


def utf8_problem(data: bytes) -> str | None:
    """Why *data* is not UTF-8 text, naming the byte offset; None when it is."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "the file is UTF-16; save it as CSV UTF-8"
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    for start in range(0, len(data), step):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(data[start:start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            offset = start - pending + exc.start
            line = data.count(b"\n", 0, offset) + 1
            return (f"not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} (line {line}); "
                    "save the file as CSV UTF-8")
    return None


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


def open_csv(data: bytes) -> CsvSource:
    """The header and a record stream. The delimiter (comma, semicolon or tab) is the one
    the header line uses most; spreadsheets in many locales write semicolons."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
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
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


