"""Scans and photos of printed forms, read by OCR (the real Tesseract with its Vietnamese model).

OCR is slow and the CI machine small: two end-to-end reads (a scanned
3-page report, a phone photo of its first page); the rest are pure tests
on synthetic pictures. bench/bench_ocr.py measures accuracy on more.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.bench_ocr import score
from parsers import layout, ocr
from parsers.docx_grid import Table
from parsers.document import parse
from parsers.formdef import definition_for
from parsers.mau2 import read_report
from parsers.model import Document, ParseContext
from tests.docxgen import mau2_docx, sample_values
from tests.pdfgen import soffice, to_pdf
from tests.scangen import activity_photo, images_pdf, rasterise, scan

needs_ocr = pytest.mark.skipif(not (ocr.available() and soffice()), reason="Tesseract (vie) or LibreOffice missing")
# These tests are about what is read, not how fast: Tesseract's per-page limit (30 s by default)
# is lifted out of the way of a slow or busy machine; test_a_page_over_the_ocr_time_limit_... checks the limit.
PATIENT = ParseContext(ocr_page_timeout=600.0)


@pytest.fixture(scope="module")
def report():
    """A filled Mẫu 2: its .docx, and its pages printed at 200 dpi."""
    values = sample_values(41)
    docx = mau2_docx("TRUNG TÂM HTCĐ\nXÃ THỦY BẰNG", values, report_number="7/BC-TTHTCĐ",
                     report_date="2017-10-12", merged=True)
    return docx, rasterise(to_pdf([docx])[0], 200)


@needs_ocr
def test_scanned_report_figures_are_read_or_asked_never_guessed(report):
    docx, pages = report
    stamped = [Image.open(io.BytesIO(scan(p, angle=a, seed=k, stamp_at=(0.55, 0.45 + 0.1 * k))))
               for k, (p, a) in enumerate(zip(pages, (2.5, -3.0, 1.2, -0.8)))]
    counts, took, notes, got = score(docx, images_pdf(stamped), PATIENT)
    assert got["form"] == "mau2" and got["source"] == "ocr"
    assert counts["wrong"] == 0, notes  # a figure not trusted is null with a problem, never guessed
    assert counts["missed"] == 0, notes
    assert counts["correct"] >= 0.95 * 23, notes
    assert set(got["confidence"]) == {k for k, v in got["indicators"].items() if v is not None} | {
        p["field"] for p in got["problems"] if p["code"] == "ocr_unsure"}
    assert all(0 <= c <= 1 for c in got["confidence"].values())
    assert got["unit_name"] and "THỦY BẰNG" in got["unit_name"].upper()


@needs_ocr
def test_phone_photo_of_the_first_page_is_a_form(report):
    docx, pages = report
    photo = scan(pages[0], angle=-2.0, seed=5, stamp_at=(0.6, 0.8), quality=60)
    doc = parse(photo, PATIENT)
    assert doc.form == "mau2" and doc.source == "ocr"
    assert doc.indicators["ke_hoach"] == 1
    want = parse(docx).indicators
    for key in ("phong_su", "tin_bai_phat_thanh", "bao_tuong_bai_viet"):
        assert doc.indicators[key] in (want[key], None)
        if doc.indicators[key] is None:  # not read for sure: null, and the unit is told why
            assert any(p.field == key and p.code in ("ocr_unsure", "unreadable_indicator") for p in doc.problems)


@needs_ocr
def test_a_page_over_the_ocr_time_limit_is_given_up_with_a_problem(report):
    _, pages = report
    doc = parse(scan(pages[0], angle=1.0, seed=2), ParseContext(ocr_page_timeout=0.001))
    assert doc.form is None
    assert [p.code for p in doc.problems] == ["ocr_timeout"]


def test_activity_photo_is_turned_away_before_any_ocr(monkeypatch):
    def no_ocr(*a, **k):
        raise AssertionError("OCR must not run on an ordinary photo")

    monkeypatch.setattr(ocr, "ocr_words", no_ocr)
    for seed in range(3):
        doc = parse(activity_photo(seed))
        assert doc.form is None
        assert [p.code for p in doc.problems] == ["not_a_page"]


def test_heic_photo_is_opened_and_turned_away():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.open(io.BytesIO(activity_photo(1, (800, 600)))).save(buf, "HEIF")
    doc = parse(buf.getvalue())
    assert doc.form is None and doc.problems[0].code == "not_a_page"


def test_a_picture_too_big_to_open_is_refused():
    buf = io.BytesIO()
    Image.new("1", (9000, 5000), 1).save(buf, "PNG")
    doc = parse(buf.getvalue())
    assert doc.form is None and doc.problems[0].code == "too_large"


def _page_with_table(merge: bool) -> np.ndarray:
    img = Image.new("L", (1600, 2200), 255)
    d = ImageDraw.Draw(img)
    for i in range(6):
        d.text((200, 150 + 40 * i), "Dòng chữ mẫu " * 8, fill=0)
    x = [200, 700, 1100, 1400]
    y = [600, 700, 800, 900, 1000]
    for yy in y:
        d.line((x[0], yy, x[-1], yy), fill=0, width=3)
    for xx in x:
        d.line((xx, y[0], xx, y[-1]), fill=0, width=3)
    if merge:  # the first row is one cell across the table
        d.line((x[1], y[0] + 3, x[1], y[1] - 2), fill=255, width=5)
        d.line((x[2], y[0] + 3, x[2], y[1] - 2), fill=255, width=5)
    return np.asarray(img)


@pytest.mark.parametrize("merge", [False, True])
def test_ruled_table_cells_are_found_merged_ones_too(merge):
    tables, lines = ocr.find_tables(_page_with_table(merge))
    assert len(tables) == 1
    assert len(tables[0].cells) == (10 if merge else 12)
    widest = max(c[2] - c[0] for c in tables[0].cells)
    assert round(widest / ocr.PT) == (1200 if merge else 500)


def test_skew_is_measured():
    page = Image.fromarray(_page_with_table(False))
    turned = np.asarray(page.rotate(2.4, resample=Image.BICUBIC, expand=True, fillcolor=255))
    assert abs(ocr.skew_angle(turned) - 2.4) <= 0.3
    assert abs(ocr.skew_angle(_page_with_table(False))) <= 0.2


def _ocr_content(values: dict[str, str], confs: dict[str, float]) -> layout.ReadContent:
    rows = [["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"],
            ["1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:", values["ke_hoach"], ""],
            ["- Số lượng tờ rơi đã phát hành", values["to_roi"], ""],
            ["- Số buổi triển lãm", values["trien_lam"], ""],
            ["+ Số lượt người tham gia", values["trien_lam_luot"], ""]]
    keys = [None, "ke_hoach", "to_roi", "trien_lam", "trien_lam_luot"]
    table = Table(rows, [[(r, c) for c in range(3)] for r in range(len(rows))])
    conf = [[90.0, confs.get(k, 95.0) if k else 95.0, None] for k in keys]
    content = layout.ReadContent(["TRƯỜNG THCS PHÚ BÀI", "BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ HỌC TẬP SUỐT ĐỜI", table],
                                 source="ocr", confidences={id(table): conf})
    return content


def test_a_figure_read_without_confidence_is_null_with_a_problem():
    formdef = definition_for("mau2", ParseContext())
    content = _ocr_content({"ke_hoach": "Có", "to_roi": "120", "trien_lam": "3", "trien_lam_luot": "45"},
                           {"to_roi": 41.0})
    doc = read_report(content, formdef, ParseContext())
    assert doc.indicators["to_roi"] == 120
    ocr.judge(doc, content, lambda c: read_report(c, formdef, ParseContext()), formdef)
    assert doc.indicators["to_roi"] is None  # never guessed
    problem = next(p for p in doc.problems if p.code == "ocr_unsure")
    assert problem.field == "to_roi" and "“120”" in problem.message and "xác nhận" in problem.message
    assert doc.indicators["trien_lam"] == 3 and doc.indicators["trien_lam_luot"] == 45
    assert doc.indicators["ke_hoach"] == 1  # "Có", found by blanking the cell
    assert doc.confidence == {"to_roi": 0.41, "trien_lam": 0.95, "trien_lam_luot": 0.95, "ke_hoach": 0.95}
    assert content.tables[0].rows[2][1] == "120"  # the probes leave the content as it was


def test_ocr_figures_appear_in_the_json_with_their_source():
    doc = Document(form="mau2", kind="indicators", indicators={"to_roi": 5}, source="ocr", confidence={"to_roi": 0.9})
    out = doc.to_json()
    assert out["source"] == "ocr" and out["confidence"] == {"to_roi": 0.9}
    back = Document.from_json(out)
    assert back.source == "ocr" and back.confidence == {"to_roi": 0.9}
    assert "source" not in Document(form="mau2", kind="indicators").to_json()


def _printed_page_jpeg() -> bytes:
    """A light sheet with rows of thin dark strokes: what glance takes for a printed page."""
    img = Image.new("RGB", (1240, 1754), (245, 245, 240))
    d = ImageDraw.Draw(img)
    for y in range(150, 1600, 36):
        for x in range(120, 1100, 60):
            d.rectangle([x, y, x + 40, y + 3], fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_a_received_photo_is_decoded_once_for_the_page_look_and_the_thumbnail(monkeypatch):
    """read_photo: an ordinary photo is opened once (glance and thumbnail share one small decode)
    and never reaches the form readers; a page-like one still goes to them."""
    import zoneinfo

    import parsers
    from mailbot import photos

    tz = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    opened, parsed = [], []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    monkeypatch.setattr(parsers, "parse", lambda data, ctx=None: parsed.append(data) or Document(form=None))

    for seed in range(3):
        opened.clear()
        photo = activity_photo(seed)
        doc, info = photos.read_photo(photo, None, tz)
        assert doc is None and parsed == [] and len(opened) == 1
        assert (info.width, info.height, info.problem) == (1600, 1200, None)
        assert real_open(io.BytesIO(info.thumbnail)).size == (320, 240)

    page = _printed_page_jpeg()
    assert ocr.glance(page)
    doc, info = photos.read_photo(page, None, tz)
    assert parsed == [page]  # the form readers (and OCR) look at it
    assert doc is None and info.thumbnail  # not a form after all: an ordinary photo record
