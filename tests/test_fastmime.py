"""mailbot.fastmime gives the very tree the stdlib feedparser gives, part by part."""
from __future__ import annotations

import base64
import itertools
import os
from email.feedparser import BytesFeedParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot import fastmime
from tests.conftest import CORPUS
from tests.docxgen import mau2_docx, sample_values
from tests.mailgen import forward, jpeg, make_mail, zip_of


def stdlib(raw: bytes):
    p = BytesFeedParser()
    p.feed(raw)
    return p.close()


def shape(msg) -> list:
    """Everything a reader of the tree can see, part by part."""
    out = []
    for part in msg.walk():
        payload = part._payload if isinstance(part._payload, str) else None  # noqa: SLF001
        out.append((part.items(), payload, part.preamble, part.epilogue, part.get_unixfrom(),
                    [type(d).__name__ for d in part.defects], part.is_multipart()))
    return out


def same(raw: bytes) -> None:
    assert shape(fastmime.parse(raw)) == shape(stdlib(raw))


def b64_lines(data: bytes, width: int = 76, ending: bytes = b"\r\n") -> bytes:
    text = base64.b64encode(data)
    return ending.join(text[i:i + width] for i in range(0, len(text), width)) + ending


BIG = os.urandom(200_000)


def test_unit_mail_with_forms_photos_zip_and_forward():
    docx = mau2_docx("Trung tâm HTCĐ phường Phú Bài", sample_values())
    raw = make_mail("a@example.org", "Báo cáo", [("Mau2.docx", docx), ("anh.jpg", jpeg(noise=True)),
                                                   ("goi.zip", zip_of([("x.bin", BIG)]))])
    same(raw)
    same(raw.replace(b"\r\n", b"\n"))
    same(forward("b@example.org", raw))
    assert fastmime.parse(raw).get_payload()[1].get_payload(decode=True) == docx


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_a_run_just_before_a_boundary_in_the_preamble_and_in_a_text_part(ending):
    body = b64_lines(BIG, ending=ending)
    raw = ending.join([
        b"From: a@example.org", b"Subject: x", b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="BB"', b"",
        body.rstrip(ending),  # a preamble made of base64-looking lines
        b"--BB", b"Content-Type: text/plain", b"", body.rstrip(ending),
        b"--BB", b"Content-Type: application/octet-stream", b"Content-Transfer-Encoding: base64", b"",
        body + b"--BB--", body,  # an epilogue too
    ])
    same(raw)


def test_a_single_part_base64_message_and_one_without_boundary_end():
    head = b"From: a@example.org\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    same(head + b64_lines(BIG))
    truncated = (b'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="Q"\r\n\r\n--Q\r\n'
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(BIG))
    same(truncated)


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_blocks_of_63_64_and_65_lines_and_lines_of_odd_lengths(ending):
    """Only blocks of 64 or more whole base64 lines become placeholders; the tree is the stdlib's either way."""
    line = b"QUJD" * 19
    blocks = []
    for n in (63, 64, 65, 63, 200):
        blocks.append(ending.join([line] * n))
        blocks.append(b"-- not base64")
    blocks += [ending.join([b"A" * 15] * 70), ending.join([b"A" * 16] * 70), ending.join([b"A" * 999] * 70),
               ending.join([b"A" * 998] * 70), ending.join([line + b"\r"] * 70)]
    text = ending.join(blocks)
    raw = ending.join([
        b"From: a@example.org", b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="BB"', b"",
        b"--BB", b"Content-Type: text/plain", b"", text,
        b"--BB", b"Content-Type: application/octet-stream", b"Content-Transfer-Encoding: base64", b"",
        text, b"--BB--", b""])
    runs = sorted(fastmime.skeleton(raw).runs.values())
    assert runs == blocks_of_64_lines(raw) and len(runs) >= 8
    same(raw)


def blocks_of_64_lines(raw: bytes) -> list[tuple[int, int]]:
    """The reference, line by line: every maximal block of 64 or more whole lines of 16-998 base64 letters."""
    import re

    spans, block = [], []  # block: (start, end) of each good line in a row
    for m in re.finditer(rb"[^\n]*\n|[^\n]+$", raw):
        if m.group().endswith(b"\n") and re.fullmatch(rb"[A-Za-z0-9+/=]{16,998}\r?", m.group()[:-1]):
            block.append(m.span())
            continue
        if len(block) >= 64:
            spans.append((block[0][0], block[-1][1]))
        block = []
    if len(block) >= 64:
        spans.append((block[0][0], block[-1][1]))
    return spans


def test_placeholders_cannot_be_forged():
    fake = b"MAILBOTRUN0000000000000000\r\n" * 100
    raw = (b"From: a@example.org\r\nContent-Type: text/plain\r\n\r\n" + fake + b64_lines(BIG) + fake)
    same(raw)


def test_a_placeholder_written_outside_the_runs_makes_another_nonce(monkeypatch):
    nonces = itertools.cycle([b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"])
    monkeypatch.setattr(fastmime, "_nonce", lambda *a: next(nonces))
    forged = b"see MAILBOTRUNAAAAAAAAAAAAAAAA0 here\r\n"  # not a base64 line: outside any run
    raw = b"From: a@example.org\r\nContent-Type: text/plain\r\n\r\n" + forged + b64_lines(BIG) + forged
    assert fastmime.skeleton(raw).nonce == "B" * 16
    same(raw)


def test_a_placeholder_inside_a_run_is_put_back_with_the_run(monkeypatch):
    monkeypatch.setattr(fastmime, "_nonce", lambda *a: b"AAAAAAAAAAAAAAAA")
    lines = b64_lines(BIG).splitlines(keepends=True)
    lines[10] = b"MAILBOTRUNAAAAAAAAAAAAAAAA0" + b"Q" * 49 + b"\r\n"  # letters only: part of the run
    raw = b"From: a@example.org\r\nContent-Type: text/plain\r\n\r\n" + b"".join(lines)
    bones = fastmime.skeleton(raw)
    assert bones.nonce == "A" * 16 and len(bones.runs) == 1
    same(raw)


@pytest.mark.corpus
def test_every_corpus_message_gives_the_same_tree():
    files = sorted(p for p in (CORPUS / "mime").rglob("*") if p.is_file())
    assert files
    for path in files:
        raw = path.read_bytes()
        assert shape(fastmime.parse(raw)) == shape(stdlib(raw)), path


def regex_blocks(raw: bytes) -> list[tuple[int, int]]:
    """The plain reading: the block expression applied letter by letter over the whole message."""
    return [m.span() for m in fastmime._BLOCK.finditer(raw) if m.group().count(b"\n") >= fastmime.MIN_RUN_LINES]


LINE = b"QUJD" * 19  # 76 letters, as mail clients write base64


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_lines_of_one_width_are_stepped_over_and_every_break_is_found(ending):
    """The fast path (lines of the first line's width) finds the blocks the expression finds, wherever they break."""
    body = ending.join([LINE] * 300)
    cases = {
        "whole, then a short last line": body + ending + b"QUJD" * 5 + ending + b"--BB--" + ending,
        "a letter that is not base64 mid-way": body[:9000] + b"!" + body[9001:] + ending,
        "a line end inside a line": body[:9000] + b"\n" + body[9001:] + ending,
        "a carriage return inside a line": body[:9000] + b"\r" + body[9001:] + ending,
        "the other line ending mid-way": body[:7800] + (b"\n" if ending == b"\r\n" else b"\r\n")
        + body[7800 + len(ending):] + ending,
        "a longer line mid-way": body[:7800] + b"QUJD" + body[7800:] + ending,
        "a line of 999 letters": body + ending + b"A" * 999 + ending + body + ending,
        "no line end at the very end": body + ending + LINE,
        "a boundary that falls on the stride": body + ending + b"QUJD" * 18 + ending + b"--B" + ending * 60,
        "blocks of 63, 64 and 65 lines": ending.join([LINE] * 63 + [b"--B"] + [LINE] * 64 + [b"--B"] + [LINE] * 65)
        + ending,
        "the 65th line wider": ending.join([LINE] * 64 + [LINE + b"QUJD"] + [LINE] * 10) + ending,
        "many short runs": (LINE + ending + b"-" + ending) * 300,
    }
    for name, text in cases.items():
        raw = b"Content-Type: text/plain" + ending + ending + text
        assert list(fastmime._blocks(raw)) == regex_blocks(raw), name
        same(raw)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(st.sampled_from([b"QUJD" * 19, b"A" * 16, b"A" * 15, b"QUJD" * 17 + b"=", b"A" * 998,
                                           b"A" * 999, b"--BB", b"To: x", b"", b"AB!D" * 19, b"AB\rD" * 19]),
                          st.integers(1, 150), st.sampled_from([b"\r\n", b"\n"])), max_size=12),
       st.booleans())
def test_the_fast_path_agrees_with_the_expression_on_any_mix_of_lines(pieces, final_ending):
    raw = b"".join((line + ending) * n for line, n, ending in pieces)
    if not final_ending and raw:
        raw = raw[:-1]
    assert list(fastmime._blocks(raw)) == regex_blocks(raw)
