"""PDFs with a text layer read into the same records as the .docx they came from.

The forms are generated (tests.docxgen), rendered by the real LibreOffice
(tests.pdfgen) and parsed both ways; bench/bench_pdf.py runs the full set.
"""
from __future__ import annotations

import io

import pytest
from PIL import Image

from bench.bench_pdf import compare
from parsers import layout, pdf
from parsers.document import parse
from parsers.legacy_fonts import encode
from parsers.model import ParseContext
from tests.docxgen import mau1_docx, mau2_docx, sample_activities, sample_values
from tests.pdfgen import MAU1_VARIANTS, MAU2_VARIANTS, pair_specs, soffice, to_pdf

needs_soffice = pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed")


@pytest.fixture(scope="module")
def pairs():
    specs = pair_specs()
    return [(label, docx, data) for (label, docx), data in zip(specs, to_pdf([d for _, d in specs]))]


@needs_soffice
def test_generated_pairs_read_as_the_docx(pairs):
    """Every variant in tests.pdfgen: indicators ≥ 99.5 %, activity fields ≥ 99 %, header ≥ 95 %."""
    totals = {"indicators": [0, 0], "activities": [0, 0], "header": [0, 0]}
    diffs = []
    for label, docx, data in pairs:
        want, got = parse(docx).to_json(), parse(data).to_json()
        assert got["form"] == want["form"], label
        assert got["source"] == "pdf" and "source" not in want
        res = compare(want, got)
        diffs += [f"{label}: {d}" for d in res["diffs"]]
        for k in totals:
            totals[k][0] += res[k][0]
            totals[k][1] += res[k][1]
    assert totals["indicators"][1] >= 23 * len(MAU2_VARIANTS)
    assert totals["activities"][1] >= 6 * 7 * len(MAU1_VARIANTS)
    assert totals["indicators"][0] >= 0.995 * totals["indicators"][1], diffs
    assert totals["activities"][0] >= 0.99 * totals["activities"][1], diffs
    assert totals["header"][0] >= 0.95 * totals["header"][1], diffs


@needs_soffice
def test_tcvn3_pdf_is_decoded_and_its_lost_u_put_back(pairs):
    label, docx, data = next(p for p in pairs if p[0] == "mau1 {'font': 'tcvn3'}")
    text = pdf.read_pdf(data)
    assert text.legacy == "tcvn3"  # the font was substituted on export: decided by the text itself
    got = parse(data).to_json()
    places = {a["place"] for a in got["activities"]}
    assert places & {"Trung tâm HTCĐ phường Thủy Dương", "Trường THCS Thủy Dương", "Nhà văn hóa tổ dân phố 3",
                     "Hội trường UBND phường", "Sân vận động phường"}
    assert got["activities"] == parse(docx).to_json()["activities"]


@needs_soffice
def test_pages_beyond_the_limit_are_not_read_and_the_unit_is_told(pairs):
    label, docx, data = next(p for p in pairs if p[0] == "mau2 {}")
    assert pdf.page_count(data) >= 2
    doc = parse(data, ParseContext(max_pdf_pages=1))
    problems = [p for p in doc.problems if p.code == "pages_not_read"]
    assert len(problems) == 1 and "chỉ đọc 1 trang đầu" in problems[0].message
    assert doc.form == "mau2"  # the first page still classifies
    assert not any(p.code == "pages_not_read" for p in parse(data).problems)


def test_pdf_of_page_images_is_not_guessed():
    buf = io.BytesIO()
    Image.new("RGB", (850, 1100), "white").save(buf, "PDF", resolution=100)
    doc = parse(buf.getvalue(), ParseContext(ocr=False))
    assert doc.form is None
    assert doc.problems[0].code == "scanned_pdf"
    doc = parse(buf.getvalue())  # read by OCR: a blank page is no form
    assert doc.form is None
    assert doc.problems[0].code == "not_a_form"


@pytest.mark.parametrize("data", [b"%PDF-1.4\n%garbage\n", b"%PDF-1.7\n" + b"\x00" * 500])
def test_broken_pdf_is_a_clear_problem(data):
    doc = parse(data)
    assert doc.form is None
    assert doc.problems[0].code in ("corrupt_file", "scanned_pdf")


# ------------------------------------------------------------------ pure parts


def test_legacy_encoding_is_recognised_by_text():
    tcvn3 = encode("Báo cáo kết quả tổ chức tuần lễ học tập suốt đời", "tcvn3")
    assert pdf.legacy_encoding_of(tcvn3) == "tcvn3"
    vni = encode("Báo cáo kết quả tổ chức tuần lễ học tập suốt đời của trường", "vni")
    assert pdf.legacy_encoding_of(vni) == "vni"
    assert pdf.legacy_encoding_of("Báo cáo kết quả tổ chức tuần lễ học tập suốt đời") is None
    assert pdf.legacy_encoding_of("Report 2017, page 1") is None


@pytest.mark.parametrize("lost,restored", [
    ("phờng", "phường"), ("Số lợt ngời tham gia", "Số lượt người tham gia"), ("hởng ứng", "hưởng ứng"),
    ("thông tin nh sau", "thông tin như sau"), ("05/KH", "05/KH"), ("15h30", "15h30"),
    ("lớp", "lớp"), ("mời", "mời"), ("thơ", "thơ"),
])
def test_restore_u_horn(lost, restored):
    assert pdf.restore_u_horn(lost) == restored


def test_soft_hyphen_at_line_end_was_u():
    assert pdf.repair_tcvn3("Trung tâm HTCĐ ph-ờng Thủy Dương") == "Trung tâm HTCĐ phường Thủy Dương"
    assert pdf.repair_tcvn3("HTSĐ-XDXHHT") == "HTSĐ-XDXHHT"


def _words(line_specs):
    """[(text, x0, top)] → Words 13 pt high, 7 pt per character."""
    out = []
    for text, x0, top in line_specs:
        x = x0
        for w in text.split(" "):
            out.append(layout.Word(w, x, x + 7 * len(w), top, top + 13))
            x += 7 * len(w) + 4
    return out


def test_cell_lines_become_the_paragraphs_typed():
    # Box 100 pt wide: "Xây dựng phóng" + "sự" would not fit (a wrap), "- Số" would (Enter).
    words = _words([("- Xây dựng phóng", 0, 0), ("sự", 0, 15), ("- Số bài", 0, 30)])
    lines = layout.lines_of(words)
    assert layout.paragraphs(lines, 100, 4, avail=100) == ["- Xây dựng phóng sự", "- Số bài"]


def test_blank_lines_in_a_value_cell_are_kept():
    # Values typed one per label line, the first line left empty: "\n1\n\n6".
    words = _words([("1", 0, 15), ("6", 0, 45)])
    paras = layout.paragraphs(layout.lines_of(words), 40, 4, avail=40, pitch=15, top=0)
    assert paras == ["", "1", "", "6"]


def test_borderless_two_column_header_is_one_row_of_two_cells():
    words = _words([("TRƯỜNG THCS PHÚ BÀI", 0, 0), ("CỘNG HOÀ XÃ HỘI", 300, 0),
                    ("Số: 12/BC-THCSPB", 0, 15), ("Độc lập - Tự do", 300, 15)])
    page = layout.page_blocks(words, [])
    assert len(page.blocks) == 1
    table = page.blocks[0]
    assert table.rows == [["TRƯỜNG THCS PHÚ BÀI\nSố: 12/BC-THCSPB", "CỘNG HOÀ XÃ HỘI\nĐộc lập - Tự do"]]


def test_merged_cells_own_every_slot_they_cover():
    # Two columns; the first row's cell spans both.
    ruled = layout.Ruled([(0, 0, 200, 20), (0, 20, 100, 40), (100, 20, 200, 40)])
    words = _words([("Tiêu đề", 10, 3), ("a", 10, 23), ("b", 110, 23)])
    table, _ = layout.grid(ruled, words, 4)
    assert table.rows == [["Tiêu đề", "Tiêu đề"], ["a", "b"]]
    assert table.own(0, 1) == "" and table.own(0, 0) == "Tiêu đề"


def test_a_table_cut_by_a_page_break_is_one_table_again():
    from parsers.docx_grid import Table

    a = layout.Page([Table([["1", "Lễ khai mạc Tuần lễ"]], [[(0, 0), (0, 1)]])])
    b = layout.Page([Table([["", "hưởng ứng học tập"], ["2", "Tọa đàm"]], [[(0, 0), (0, 1)], [(1, 0), (1, 1)]])])
    content = layout.content([a, b])
    assert len(content.tables) == 1
    assert content.tables[0].rows == [["1", "Lễ khai mạc Tuần lễ hưởng ứng học tập"], ["2", "Tọa đàm"]]


@needs_soffice
def test_word_and_pdf_of_one_form_small_sample():
    """A quick pair outside the variant list: a filled Mẫu 2 with a blank and a note."""
    values = sample_values(7)
    values["van_nghe"] = None
    docs = [mau2_docx("TRƯỜNG THCS PHÚ BÀI", values, report_number="3/BC-THCSPB", report_date="2017-10-11",
                      notes={"van_nghe": "Không tổ chức"}),
            mau1_docx("Trường THCS Phú Bài", sample_activities(5, seed=9))]
    for docx, data in zip(docs, to_pdf(docs)):
        want, got = parse(docx).to_json(), parse(data).to_json()
        assert got.pop("source") == "pdf"
        assert got == want


assert MAU1_VARIANTS and MAU2_VARIANTS
