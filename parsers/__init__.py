"""Document parsers: bytes in, records out.

Pure functions that know nothing of mail, the database or the network.
The one entry point is :func:`parsers.parse`.
"""
from parsers.model import Activity, Document, ParseContext, Problem
from parsers.document import parse

__all__ = ["Activity", "Document", "ParseContext", "Problem", "parse"]
