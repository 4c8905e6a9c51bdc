"""Word .docx → ordered blocks of paragraph text and tables as grids.

Reads word/document.xml (and styles.xml for fonts) directly with lxml after
a defensive open (see parsers.safety), because python-docx misses tables
in content controls, drops w:sdt cells and tracked insertions (PITFALLS.md).

INTERFACE (owned by the docx_grid helper; others rely on it):

    read_docx(data: bytes) -> DocxContent       # raises DocumentError

DocxContent.blocks is the body in document order: a `str` per paragraph
(NFC, legacy fonts converted, whitespace collapsed, may be "") or a `Table`.
A nested table follows its parent as its own block.

Table.rows[r][c] is the text of grid slot (r, c) with line breaks between
the cell's paragraphs ("\n"). A slot covered by a horizontal span or a
vertical-merge continuation repeats the text of the cell that owns it;
Table.origin[r][c] is the (row, col) of that owning cell, so
Table.own(r, c) gives "" for covered slots.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class DocumentError(Exception):
    """The file cannot be read as a document; `code` is a stable word."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Table:
    rows: list[list[str]]
    origin: list[list[tuple[int, int]]]

    def own(self, r: int, c: int) -> str:
        return self.rows[r][c] if self.origin[r][c] == (r, c) else ""

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


@dataclass
class DocxContent:
    blocks: list[str | Table] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def paragraphs(self) -> list[str]:
        return [b for b in self.blocks if isinstance(b, str)]


def read_docx(data: bytes) -> DocxContent:
    raise NotImplementedError
