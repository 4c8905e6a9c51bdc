"""End to end: bytes of a realistic file → parsers.parse → exact values."""
from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers
from parsers import convert
from parsers.model import ParseContext
from tests.docxgen import INDICATOR_KEYS, mau1_docx, mau2_docx, sample_values

UNIT = "TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG"
VALUES = sample_values(7)
SECTIONS = {
    "chi_dao": "Trung tâm đã xây dựng kế hoạch số 05/KH-TTHTCĐ.\nPhân công cán bộ phụ trách từng hoạt động.",
    "thuan_loi_kho_khan": "Thuận lợi: được UBND phường quan tâm.\nKhó khăn: kinh phí còn hạn chế.",
    "kien_nghi": "Đề nghị Phòng GD&ĐT hỗ trợ tài liệu tuyên truyền.",
}
ACTIVITIES = [
    {"time": "7h15", "date": "02/10/2017", "place": "Trường THCS Thủy Dương",
     "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""},
    {"time": "14h00", "date": "02/10/2017", "place": "Nhà văn hóa tổ dân phố 3",
     "content": "Chuyên đề phòng chống dịch bệnh", "note": ""},
    {"time": "Sáng", "date": "04/10/2017", "place": "Hội trường UBND phường",
     "content": "Lớp dạy nghề trồng nấm", "note": "Cả tuần"},
    {"time": "19h30", "date": "06/10/2017", "place": "Sân vận động phường",
     "content": "Văn nghệ chào mừng", "note": ""},
]


def mau2(**variants) -> bytes:
    return mau2_docx(UNIT, VALUES, SECTIONS, "12/BC-TTHTCĐ", "2017-10-12", **variants)


def check_mau2(doc, values=VALUES) -> None:
    assert doc.form == "mau2"
    assert doc.unit_name == "TRUNG TÂM HTCĐ PHƯỜNG THỦY DƯƠNG"
    assert doc.report_number == "12/BC-TTHTCĐ"
    assert doc.report_date == "2017-10-12"
    assert doc.indicators == values
    assert doc.sections == SECTIONS
    assert doc.problems == []


MAU2_VARIANTS = [
    {},
    {"merged": True},
    {"split_at": 9},
    {"split_at": 10, "split_repeat_header": True},
    {"repeat_header": 12},
    {"reorder": True},
    {"media_rows": True},
    {"extra_column": True},
    {"no_note_column": True},
    {"no_header_row": True},
    {"trailing_empty_rows": 4},
    {"unaccented": True},
    {"upper": True},
    {"typos": True},
    {"unaccented": True, "upper": True, "typos": True, "reorder": True, "merged": True, "split_at": 7},
    {"font": "tcvn3"},
    {"font": "tcvn3", "tcvn3_via": "defaults"},
    {"font": "tcvn3", "tcvn3_via": "run"},
    {"nfd": True},
    {"nbsp": True},
    {"header_as_paragraphs": True},
    {"superior": "UBND PHƯỜNG THỦY DƯƠNG"},
    {"notes": {"to_roi": "Phát tại chợ Thủy Dương", "hoi_thao": "Phối hợp Hội Khuyến học"}},
]


@pytest.mark.parametrize("variants", MAU2_VARIANTS, ids=lambda v: ",".join(v) or "plain")
def test_mau2_variants(variants):
    check_mau2(parsers.parse(mau2(**variants)))


def test_mau2_json_shape():
    out = parsers.parse(mau2()).to_json()
    assert list(out) == ["form", "unit_name", "report_number", "report_date", "indicators", "sections", "problems"]
    assert list(out["indicators"]) == INDICATOR_KEYS


def test_mau2_blank_template_and_people_values():
    values = dict(VALUES, ke_hoach="Có", to_roi="1.200", trien_lam=None, van_nghe="Không",
                  hoi_thao="nhiều", sach_tai_lieu=12)
    doc = parsers.parse(mau2_docx(None, values, {}, None, None, value_in_note={"sach_tai_lieu"}))
    assert (doc.form, doc.unit_name, doc.report_number, doc.report_date) == ("mau2", None, None, None)
    assert doc.indicators == dict(VALUES, ke_hoach=1, to_roi=1200, trien_lam=None, van_nghe=0,
                                  hoi_thao=None, sach_tai_lieu=None)
    assert doc.sections == {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""}
    assert [p.to_json() for p in doc.problems] == [
        {"code": "missing_unit_name", "field": "unit_name",
         "message": "Báo cáo chưa ghi tên đơn vị ở phần đầu văn bản."},
        {"code": "value_in_note_column", "field": "sach_tai_lieu",
         "message": "Số sách, tài liệu đã phát hành: số liệu “12” được ghi ở cột Ghi chú, "
                    "chưa ghi ở cột “Kết quả, số lượng”."},
        {"code": "unreadable_indicator", "field": "hoi_thao",
         "message": "Không đọc được số liệu: Số lần hội thảo, tọa đàm (“nhiều”)"},
        {"code": "missing_indicator", "field": "trien_lam", "message": "Chưa điền: Số buổi triển lãm"},
    ]


def test_mau2_missing_rows():
    doc = parsers.parse(mau2_docx(UNIT, VALUES, SECTIONS, "1/BC", "2017-10-12",
                                  drop_rows={"trien_lam", "trien_lam_luot"}))
    assert doc.indicators == dict(VALUES, trien_lam=None, trien_lam_luot=None)
    assert [(p.code, p.field) for p in doc.problems] == [("missing_indicator", "trien_lam"),
                                                         ("missing_indicator", "trien_lam_luot")]


MAU1_VARIANTS = [
    {}, {"merged": True}, {"split_at": 2}, {"split_at": 2, "split_repeat_header": True},
    {"repeat_header": 2}, {"unaccented": True}, {"upper": True}, {"typos": True},
    {"font": "tcvn3"}, {"font": "tcvn3", "tcvn3_via": "defaults"}, {"nfd": True}, {"nbsp": True},
    {"trailing_empty_rows": 3}, {"extra_column": True},
]
MAU1_EXPECTED = [
    {"stt": 1, "date": "2017-10-02", "start": "07:15", "end": None, "place": "Trường THCS Thủy Dương",
     "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""},
    {"stt": 2, "date": "2017-10-02", "start": "14:00", "end": None, "place": "Nhà văn hóa tổ dân phố 3",
     "content": "Chuyên đề phòng chống dịch bệnh", "note": ""},
    {"stt": 3, "date": "2017-10-04", "start": None, "end": None, "place": "Hội trường UBND phường",
     "content": "Lớp dạy nghề trồng nấm", "note": "Sáng; Cả tuần"},
    {"stt": 4, "date": "2017-10-06", "start": "19:30", "end": None, "place": "Sân vận động phường",
     "content": "Văn nghệ chào mừng", "note": ""},
]


@pytest.mark.parametrize("variants", MAU1_VARIANTS, ids=lambda v: ",".join(v) or "plain")
def test_mau1_variants(variants):
    doc = parsers.parse(mau1_docx("Trung tâm HTCĐ phường Thủy Dương", ACTIVITIES, **variants))
    assert doc.form == "mau1"
    assert doc.unit_name == "Trung tâm HTCĐ phường Thủy Dương"
    assert [a.to_json() for a in doc.activities] == MAU1_EXPECTED


def test_mau1_reordered_rows_and_no_stt_column():
    doc = parsers.parse(mau1_docx("Trường THCS Phú Bài", ACTIVITIES, reorder=True))
    assert [a.to_json() for a in doc.activities] == MAU1_EXPECTED[::-1]
    doc = parsers.parse(mau1_docx("Trường THCS Phú Bài", ACTIVITIES, no_stt=True))
    assert [a.to_json() for a in doc.activities] == [dict(a, stt=None) for a in MAU1_EXPECTED]


@pytest.mark.parametrize("fmt, variants", [("doc", {"font": "tcvn3"}), ("odt", {})], ids=["doc-tcvn3", "odt"])
def test_old_formats_are_converted(fmt, variants):
    assert convert.available(), "LibreOffice (soffice) must be installed for this test"
    data = convert.from_docx(mau2(**variants), fmt, timeout=60)
    doc = parsers.parse(data)
    check_mau2(doc)


def test_old_format_without_libreoffice_needs_conversion(monkeypatch):
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + b"\x00" * 600
    monkeypatch.setenv("PATH", "/nonexistent")
    doc = parsers.parse(data)
    assert doc.form is None
    assert [p.code for p in doc.problems] == ["needs_conversion"]


# ------------------------------------------------------------------ bad input


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _with_document_xml(xml: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(mau2()))
    return _zip({n: (xml if n == "word/document.xml" else src.read(n)) for n in src.namelist()})


ENTITY_BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
               b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
               b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
               b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
               b'<w:body><w:p><w:r><w:t>&e;&e;&e;&e;</w:t></w:r></w:p></w:body></w:document>')


def _encrypted_ole() -> bytes:
    # An OLE2 header and a directory naming the streams of a password-protected .docx.
    return (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
            + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 50
            + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 400)


BAD_INPUTS = {
    "empty": (b"", "empty_file"),
    "corrupt_zip": (mau2()[:3000], "corrupt_file"),
    "zip_bomb": (_with_document_xml(b"<" + b" " * (30 * 1024 * 1024) + b"/>"), "zip_bomb"),
    "entity_bomb": (_with_document_xml(ENTITY_BOMB), "bad_xml"),
    "encrypted": (_encrypted_ole(), "encrypted"),
    "exe_named_docx": (b"MZ\x90\x00\x03" + b"\x00" * 2000, "not_a_document"),
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "corrupt_file"),  # PDFs are read now
    "zip_of_text": (_zip({"readme.txt": b"hello"}), "not_a_document"),
    "text": ("Báo cáo kết quả".encode(), "not_a_document"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_a_problem_never_an_exception(name):
    data, code = BAD_INPUTS[name]
    doc = parsers.parse(data)
    assert doc.form is None
    assert [p.code for p in doc.problems] == [code]
    assert doc.problems[0].message


def test_too_large_is_refused_before_reading():
    doc = parsers.parse(mau2(), ParseContext(max_bytes=1000))
    assert (doc.form, [p.code for p in doc.problems]) == (None, ["too_large"])


def test_word_file_that_is_no_form():
    import docx

    d = docx.Document()
    d.add_paragraph("GIẤY MỜI")
    d.add_paragraph("Kính mời quý đơn vị tham dự lễ khai mạc.")
    buf = io.BytesIO()
    d.save(buf)
    doc = parsers.parse(buf.getvalue())
    assert doc.form is None
    assert [p.code for p in doc.problems] == ["not_a_form"]
    assert doc.problems[0].message.startswith("Tệp không phải biểu mẫu báo cáo theo kế hoạch")


def test_forms_dir_overrides_a_definition(tmp_path):
    from parsers.formdef import FORMS_DIR

    text = (FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8")
    (tmp_path / "mau2.toml").write_text(text.replace('name = "Số buổi triển lãm"', 'name = "Triển lãm"'),
                                        encoding="utf-8")
    data = mau2_docx(UNIT, dict(VALUES, trien_lam=None), SECTIONS, "12/BC-TTHTCĐ", "2017-10-12")
    doc = parsers.parse(data, ParseContext(forms_dir=str(tmp_path)))
    assert [p.message for p in doc.problems] == ["Chưa điền: Triển lãm"]


# ------------------------------------------------------------------ property


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: st.one_of(st.none(), st.integers(0, 5000)) for k in INDICATOR_KEYS}),
       st.sampled_from([{}, {"merged": True}, {"media_rows": True}, {"unaccented": True, "reorder": True}]))
def test_written_values_read_back(values, variants):
    doc = parsers.parse(mau2_docx(UNIT, values, SECTIONS, "3/BC", "2017-10-10", **variants))
    assert doc.indicators == values
    blanks = {p.field for p in doc.problems if p.code == "missing_indicator"}
    assert blanks == {k for k, v in values.items() if v is None}
