"""Document parsers: bytes in, records out.

Pure functions that know nothing of mail, the database or the network.
The one entry point is :func:`parsers.parse`.
"""
from __future__ import annotations

from parsers.model import Activity, Document, ParseContext, Problem

__all__ = ["Activity", "Document", "ParseContext", "Problem", "parse"]


def parse(data: bytes, context: ParseContext | None = None) -> Document:
    """Read one file's bytes as a campaign form; never raises for bad input."""
    from parsers.document import parse as _parse

    return _parse(data, context)
