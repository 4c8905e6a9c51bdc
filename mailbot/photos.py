"""Photos: when they were taken (EXIF) and a small JPEG thumbnail.

Phone photos arrive as JPEG, PNG or HEIC. EXIF times without an offset
are in the campaign's timezone.
"""
from __future__ import annotations

import datetime as dt
import io
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC support is optional at import time, but installed by default.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    pass

# Pillow's own guard, behind ours (inspect's max_pixels, checked on the declared size).
Image.MAX_IMAGE_PIXELS = 60_000_000
MAX_PIXELS = 50_000_000  # more than any phone makes; limits.photo_max_pixels
THUMB_SIZE = (320, 320)

PHOTO_UNREADABLE = "Ảnh không mở được."
PHOTO_TOO_MANY_PIXELS = ("Ảnh có kích thước quá lớn (trên {mpx} triệu điểm ảnh) nên không được xử lý; "
                         "đề nghị đơn vị gửi ảnh chụp bằng điện thoại ở kích thước thông thường.")

_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132
_EXIF_IFD = 0x8769


@dataclass(frozen=True)
class PhotoInfo:
    taken_at: dt.datetime | None
    width: int | None
    height: int | None
    thumbnail: bytes | None  # JPEG
    problem: str | None = None  # for staff and the log
    notice: str | None = None  # Vietnamese, for the receipt, when the generic one says too little


def inspect(data: bytes, tz: ZoneInfo, max_pixels: int = MAX_PIXELS, *, decode: bool = True) -> PhotoInfo:
    """Read EXIF time, size and (when `decode`) a thumbnail; never raises for a bad image.

    The size is the one the header declares, read before any pixel is
    decoded: over `max_pixels` the photo is refused undecoded.
    """
    try:
        with warnings.catch_warnings():  # Pillow warns of big sizes at open; the check below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            width, height = im.size
            if width * height > max_pixels:
                return PhotoInfo(None, width, height, None,
                                 problem=f"{width}x{height} pixels, over the limit of {max_pixels}",
                                 notice=PHOTO_TOO_MANY_PIXELS.format(mpx=max_pixels // 1_000_000))
            # A PNG's EXIF may come after its pixels: Pillow decodes the picture to reach it.
            taken = _taken_at(im, tz) if decode or im.format != "PNG" or "exif" in im.info else None
            return PhotoInfo(taken, width, height, _thumbnail_jpeg(_small(im)) if decode else None)
    except Image.DecompressionBombError as exc:
        return PhotoInfo(None, None, None, None, problem=f"{type(exc).__name__}: {exc}",
                         notice=PHOTO_TOO_MANY_PIXELS.format(mpx=max_pixels // 1_000_000))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return PhotoInfo(None, None, None, None, problem=f"{type(exc).__name__}: {exc}")


def _small(im: Image.Image) -> Image.Image:
    """The picture shrunk to the thumbnail's size (not yet turned upright).

    On a picture not decoded yet, draft() makes a JPEG decode at 1/2 to 1/8 scale (no larger than the
    thumbnail needs): a 1600x1200 photo costs 16 ms, not 26; turning it
    upright first would decode and copy it at full size. THUMB_SIZE is
    square, so turning afterwards gives the same bounds.
    """
    im.draft(None, _fit(im.size, THUMB_SIZE))
    # reducing_gap=1: a picture already decoded larger (the page glance's 800x600) is first halved by
    # averaging, then resampled: 2 ms, not 4, for a thumbnail no one can tell apart.
    im.thumbnail(THUMB_SIZE, reducing_gap=1.0)
    return im


def _thumbnail_jpeg(small: Image.Image) -> bytes:
    small = ImageOps.exif_transpose(small)
    if small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """size scaled down to fit in box, keeping the aspect ratio (what thumbnail() makes)."""
    scale = min(1.0, box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _taken_at(im: Image.Image, tz: ZoneInfo) -> dt.datetime | None:
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - broken EXIF blocks are common; the photo still counts
        return None
    sub = exif.get_ifd(_EXIF_IFD) if exif else {}
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not raw or not isinstance(raw, str):
        return None
    try:
        naive = dt.datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:
            return dt.datetime.fromisoformat(naive.isoformat() + offset.strip("\x00 ").strip())
        except ValueError:
            pass
    return naive.replace(tzinfo=tz)


def read_photo(data: bytes, context, tz: ZoneInfo, max_pixels: int = MAX_PIXELS):
    """A received picture, in one reader call: (the form it shows, None) when it is a photo or
    scan of a printed form page, else (None, inspect(...)).

    The declared size is checked first, so an oversized picture is refused
    before either reader decodes a pixel.
    """
    from parsers import ocr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > max_pixels:
                    return None, inspect(data, tz, max_pixels)
                # One small decode serves both questions: is it a printed page (the
                # OCR reader's own glance) and what is its thumbnail.
                taken = _taken_at(im, tz)
                page = ocr.glance_image(im)  # the OCR reader's own first look, leaving im decoded
                info = None if page else PhotoInfo(taken, width, height, _thumbnail_jpeg(_small(im)))
    except Exception:  # noqa: BLE001 - undecodable or odd: the readers below say why, as before
        page, info = True, None
    if info is not None:
        return None, info  # an ordinary photo: turned away before the form readers, as parse() would
    import parsers

    doc = parsers.parse(data, context)  # a page, or a picture we could not glance at: the full reader
    if doc.form is not None:
        return doc, None
    return None, inspect(data, tz, max_pixels)


def read_header(data: bytes, tz: ZoneInfo, max_pixels: int = MAX_PIXELS) -> PhotoInfo:
    """Size and time taken from the header alone: not a pixel is decoded.

    For a photo that comes with a report read from the same message: it
    illustrates the report, so it is not looked at as a page of a form, and
    its thumbnail is made when staff first look at it (`thumbnail`). Decoding
    two phone photos cost more than the rest of such a message's reading.

    Only a JPEG or PNG found whole (its end marker where its structure puts
    it) is taken on its header; a file cut short, or of another format, is
    decoded as before, so a broken picture is still told to the unit.
    """
    whole = jpeg_complete(data) or png_complete(data)  # each looks for its own signature first
    return inspect(data, tz, max_pixels, decode=not whole)


def jpeg_complete(data: bytes) -> bool:
    """Whether a JPEG holds its end marker after its first scan (a file cut short does not).

    The segments before the scan are stepped over by their lengths (an EXIF
    thumbnail inside one has end markers of its own); inside scan data a 0xFF
    byte is always followed by 0x00 or a restart marker, never by 0xD9.
    """
    if data[:2] != b"\xff\xd8":
        return False
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            pos += 2
        elif marker == 0xDA:  # start of scan
            return data.rfind(b"\xff\xd9", pos + 4) >= 0
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def png_complete(data: bytes) -> bool:
    """Whether a PNG's chunks, stepped over by their lengths, reach its IEND chunk whole."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    pos, end = 8, len(data)
    while pos + 12 <= end:
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IEND":
            return True
        pos += 12 + length
    return False


def thumbnail(data: bytes, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """The small JPEG of a received photo, made when first asked for (in a reader worker)."""
    return inspect(data, ZoneInfo("UTC"), max_pixels).thumbnail
