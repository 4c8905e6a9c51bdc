"""photos.read_header: a whole JPEG or PNG is taken on its header, anything else is decoded as before."""
from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageFile

from mailbot import photos
from tests.mailgen import jpeg

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def png(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def no_decoding(monkeypatch):
    """Counts decodes (an exception would be swallowed by the readers' own guards)."""
    decoded = []
    load = ImageFile.ImageFile.load

    def counted(self, *a, **k):
        decoded.append(self.format)
        return load(self, *a, **k)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    yield
    assert decoded == []


def test_a_whole_jpeg_is_read_from_its_header_without_decoding(no_decoding):
    info = photos.read_header(jpeg(size=(800, 600)) + b"bytes after the end marker", TZ)
    assert (info.width, info.height, info.thumbnail, info.problem) == (800, 600, None, None)
    assert info.taken_at.isoformat() == "2017-10-02T07:20:00+07:00"


def test_a_whole_png_is_read_from_its_header_without_decoding(no_decoding):
    info = photos.read_header(png(), TZ)
    assert (info.width, info.height, info.thumbnail, info.problem) == (300, 200, None, None)


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_picture_cut_short_is_decoded_and_said_unreadable(kind):
    whole = jpeg(size=(800, 600)) if kind == "jpeg" else png()
    info = photos.read_header(whole[:len(whole) // 2], TZ)
    assert info.problem and info.thumbnail is None


def test_another_format_is_decoded_with_its_thumbnail_as_before():
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 10, 10)).save(out, "GIF")
    info = photos.read_header(out.getvalue(), TZ)
    assert info.problem is None and info.thumbnail[:3] == b"\xff\xd8\xff"


def test_an_end_marker_inside_a_segment_before_the_scan_does_not_count():
    whole = jpeg(size=(800, 600))
    # A comment segment holding a whole small JPEG (as an EXIF thumbnail does), then the file cut in its scan.
    inner = b"\xff\xd8" + b"\x00" * 40 + b"\xff\xd9"
    segment = b"\xff\xfe" + (len(inner) + 2).to_bytes(2, "big") + inner
    with_segment = whole[:2] + segment + whole[2:]
    assert photos.jpeg_complete(with_segment)
    cut = with_segment[:len(with_segment) - 2000]
    assert b"\xff\xd9" in cut and not photos.jpeg_complete(cut)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8", b"\xff\xd8\xff\xe0\x00", b"not a picture", b"\x89PNG\r\n\x1a\n"])
def test_odd_beginnings_are_not_whole(data):
    assert not photos.jpeg_complete(data) and not photos.png_complete(data)
