"""One zip opener, one set of limits: an attached archive and a Word file's own zip are refused alike.

Both paths run as intake runs them: mailbot.unpack.expand with the
configuration's [limits], parsers.parse with the parse context built from
the same configuration (mailbot.app.parse_context).
"""
from __future__ import annotations

import io
import os
import zipfile

import parsers
from mailbot import config as cfgmod
from mailbot.app import parse_context
from mailbot.message import Part
from mailbot.unpack import PROBLEM_ZIP_RATIO, PROBLEM_ZIP_TOO_LARGE, PROBLEM_ZIP_TOO_MANY, expand
from tests.appgen import config_dict
from tests.docx_xml import make_docx, para

MiB = 1024 * 1024


def config(tmp_path, **limits):
    return cfgmod.from_dict(config_dict(tmp_path, limits=limits), base_dir=tmp_path)


def word_file(extra: dict[str, bytes]) -> bytes:
    """A Word file with more members in its zip (Word ignores parts nothing refers to)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(para("BÁO CÁO")))) as src, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        for name, data in extra.items():
            out.writestr(f"word/media/{name}", data)
    return buf.getvalue()


def archive(extra: dict[str, bytes]) -> bytes:
    """A zip as a unit makes one: the report and the same extra members beside it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("bao-cao.docx", make_docx(para("BÁO CÁO")))
        for name, data in extra.items():
            out.writestr(f"anh/{name}", data)
    return buf.getvalue()


def both_paths(cfg, extra: dict[str, bytes]) -> tuple[str | None, str | None]:
    """(the attached archive's problem, the Word file's problem code), with the same extra members."""
    files = expand([Part("ho-so.zip", "application/zip", archive(extra), False, False)], cfg.limits)
    refused = [f.problem for f in files if f.role == "refused" and f.filetype == "zip"]
    document = parsers.parse(word_file(extra), parse_context(cfg))
    return (refused[0] if refused else None), (document.problems[0].code if document.form is None else None)


def many(n: int) -> dict[str, bytes]:
    return {f"image{i}.png": b"x" for i in range(n)}


def test_too_many_members_are_refused_by_both_with_the_default_limit(tmp_path):
    assert both_paths(config(tmp_path), many(250)) == (PROBLEM_ZIP_TOO_MANY, "zip_bomb")


def test_the_configured_limits_apply_to_both(tmp_path):
    assert both_paths(config(tmp_path), many(30)) == (None, "not_a_form")  # read: no form, nothing refused
    assert both_paths(config(tmp_path, zip_max_members=20), many(30)) == (PROBLEM_ZIP_TOO_MANY, "zip_bomb")
    photo = {"image1.jpg": os.urandom(2 * MiB)}  # incompressible: over the total, not the ratio
    assert both_paths(config(tmp_path), photo) == (None, "not_a_form")
    assert both_paths(config(tmp_path, zip_max_total_bytes=1 * MiB), photo) == (PROBLEM_ZIP_TOO_LARGE, "too_large")


def test_a_compression_bomb_is_refused_by_both(tmp_path):
    assert both_paths(config(tmp_path), {"image1.png": b"\0" * (12 * MiB)}) == (PROBLEM_ZIP_RATIO, "zip_bomb")
