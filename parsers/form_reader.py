"""One entry for every form: the definition's record shape picks the reader.

`records = "indicators"` is read by parsers.mau2, rows of shape "activity"
(a schedule) by parsers.mau1, any other rows by parsers.table itself. The
two specific readers build on parsers.table, so the choice lives here,
above all three, and parsers.table imports none of them.
"""
from __future__ import annotations

from parsers import formdef as fd
from parsers.docx_grid import DocxContent
from parsers.mau1 import read_schedule
from parsers.mau2 import read_report
from parsers.model import Document, ParseContext
from parsers.table import read_rows


def read(content: DocxContent, formdef: dict, ctx: ParseContext) -> Document:
    """Read one document as the form `formdef` declares."""
    if fd.records(formdef) == "indicators":
        return read_report(content, formdef, ctx)
    if fd.row_shape(formdef) == "activity":
        return read_schedule(content, formdef, ctx)
    return read_rows(content, formdef, ctx)
