"""read_docx: blocks in order, grids with merged cells, cleaned XML, legacy fonts."""
from __future__ import annotations

import io
import unicodedata

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.docx_grid import DocumentError, Table, _clean, read_docx
from parsers.legacy_fonts import encode
from parsers.text import clean
from tests.docx_xml import cell, make_docx, para, row, run, sdt, style, styles, tbl

MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def save(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_python_docx_document_in_order():
    d = docx.Document()
    d.add_paragraph("MẪU 1")
    d.add_paragraph("")
    t = d.add_table(rows=2, cols=3)
    for r, values in enumerate([("STT", "Giờ", "Nội dung"), ("1", "7:30", "Khai mạc\nTuần lễ")]):
        for c, v in enumerate(values):
            t.cell(r, c).text = v
    d.add_paragraph("Người lập   biểu")
    content = read_docx(save(d))
    assert content.blocks == [
        "MẪU 1",
        "",
        Table(
            rows=[["STT", "Giờ", "Nội dung"], ["1", "7:30", "Khai mạc\nTuần lễ"]],
            origin=[[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (1, 2)]],
        ),
        "Người lập biểu",
    ]
    assert content.paragraphs == ["MẪU 1", "", "Người lập biểu"]
    assert len(content.tables) == 1


def test_python_docx_merged_cells():
    d = docx.Document()
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "Tiêu đề"
    t.cell(1, 0).merge(t.cell(2, 0)).text = "Dọc"
    t.cell(1, 1).text = "b"
    t.cell(2, 2).text = "f"
    d.add_paragraph("")
    table = read_docx(save(d)).tables[0]
    assert table.rows == [["Tiêu đề", "Tiêu đề", "Tiêu đề"], ["Dọc", "b", ""], ["Dọc", "", "f"]]
    assert table.origin == [[(0, 0), (0, 0), (0, 0)], [(1, 0), (1, 1), (1, 2)], [(1, 0), (2, 1), (2, 2)]]
    assert [table.own(0, c) for c in range(3)] == ["Tiêu đề", "", ""]
    assert table.own(2, 0) == ""
    assert table.width == 3


def test_grid_span_vmerge_grid_before_after():
    body = tbl(
        row(cell("A", span=2), cell("B", vmerge="restart")),
        row(cell("C"), cell("D"), cell(vmerge="continue")),
        row(cell("E"), before=1, after=1),
        row(cell("F", span=2, vmerge="restart"), cell("G")),
        row(cell(span=2, vmerge="continue"), cell("H")),
        cols=3,
    )
    table = read_docx(make_docx(body)).tables[0]
    assert table.rows == [
        ["A", "A", "B"],
        ["C", "D", "B"],
        ["", "E", ""],
        ["F", "F", "G"],
        ["F", "F", "H"],
    ]
    assert table.origin == [
        [(0, 0), (0, 0), (0, 2)],
        [(1, 0), (1, 1), (0, 2)],
        [(2, 0), (2, 1), (2, 2)],
        [(3, 0), (3, 0), (3, 2)],
        [(3, 0), (3, 0), (4, 2)],
    ]


def test_short_rows_are_padded():
    table = read_docx(make_docx(tbl(row("1", "2", "3"), row("x")))).tables[0]
    assert table.rows == [["1", "2", "3"], ["x", "", ""]]
    assert table.origin[1] == [(1, 0), (1, 1), (1, 2)]


def test_content_controls_cells_rows_and_tables():
    body = sdt(
        tbl(
            row(cell("STT"), sdt(cell("Ngày")), cell("Địa điểm")),
            sdt(row(cell("1"), cell("2/10"), sdt(cell(sdt(para("Nhà văn hoá")))))),
        )
    ) + sdt(para("Sau bảng"))
    content = read_docx(make_docx(body))
    assert content.blocks == [
        Table(
            rows=[["STT", "Ngày", "Địa điểm"], ["1", "2/10", "Nhà văn hoá"]],
            origin=[[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (1, 2)]],
        ),
        "Sau bảng",
    ]


def test_tracked_changes_inline_wrappers_and_fields():
    p = (
        "<w:p>"
        + run("Trung ")
        + f"<w:ins w:id='1' w:author='a'>{run('tâm ')}</w:ins>"
        + "<w:del w:id='2' w:author='a'><w:r><w:delText>XÓA </w:delText></w:r></w:del>"
        + f"<w:smartTag w:uri='u' w:element='e'>{run('học ')}</w:smartTag>"
        + f"<w:customXml w:element='x'>{run('tập ')}</w:customXml>"
        + f"<w:hyperlink r:id='rId9'>{run('cộng')}</w:hyperlink>"
        + "<w:r><w:fldChar w:fldCharType='begin'/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r>"
        + "<w:r><w:fldChar w:fldCharType='separate'/></w:r>"
        + run(" đồng")
        + "<w:r><w:fldChar w:fldCharType='end'/></w:r>"
        + "<w:moveFrom w:id='3' w:author='a'>" + run(" CŨ") + "</w:moveFrom>"
        + "</w:p>"
    )
    assert read_docx(make_docx(p)).blocks == ["Trung tâm học tập cộng đồng"]


def test_deleted_row_is_dropped():
    deleted = "<w:tr><w:trPr><w:del w:id='5' w:author='a'/></w:trPr>" + cell("cũ") + "</w:tr>"
    table = read_docx(make_docx(tbl(row("1"), deleted, row("2")))).tables[0]
    assert table.rows == [["1"], ["2"]]


def test_tabs_breaks_and_soft_hyphens():
    p = (
        "<w:p><w:r><w:t>Giờ</w:t><w:tab/><w:t>Ngày</w:t><w:br/><w:t>Dòng hai</w:t><w:cr/>"
        "<w:t>ba</w:t><w:softHyphen/><w:t>bốn</w:t><w:noBreakHyphen/><w:t>năm</w:t></w:r></w:p>"
    )
    assert read_docx(make_docx(p)).blocks == ["Giờ Ngày\nDòng hai\nbabốn-năm"]


def test_alternate_content_text_box_read_once():
    box = "<w:txbxContent>" + para("Mẫu 1") + para("Kèm theo Kế hoạch") + "</w:txbxContent>"
    p = (
        "<w:p>" + run("Tiêu đề")
        + "<w:r><mc:AlternateContent><mc:Choice Requires='wps'><w:drawing><wp:anchor><a:graphic>"
        + "<a:graphicData><wps:wsp><wps:txbx>" + box + "</wps:txbx></wps:wsp></a:graphicData>"
        + "</a:graphic></wp:anchor></w:drawing></mc:Choice>"
        + "<mc:Fallback><w:pict><v:shape><v:textbox>" + box + "</v:textbox></v:shape></w:pict></mc:Fallback>"
        + "</mc:AlternateContent></w:r></w:p>"
    )
    content = read_docx(make_docx(p + para("Sau")))
    assert content.blocks == ["Tiêu đề", "Mẫu 1", "Kèm theo Kế hoạch", "Sau"]


def test_text_box_in_cell_and_nested_tables():
    box = "<w:r><w:pict><v:shape><v:textbox><w:txbxContent>" + para("hộp") + "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>"
    inner2 = tbl(row("z"))
    inner = tbl(row("x", cell("y", inner2)))
    body = tbl(row(cell("ngoài", inner), cell(f"<w:p>{run('ô')}{box}</w:p>"))) + para("cuối")
    content = read_docx(make_docx(body))
    assert content.blocks == [
        Table(rows=[["ngoài", "ô\nhộp"]], origin=[[(0, 0), (0, 1)]]),
        Table(rows=[["x", "y"]], origin=[[(0, 0), (0, 1)]]),
        Table(rows=[["z"]], origin=[[(0, 0)]]),
        "cuối",
    ]


def test_table_split_in_two():
    body = tbl(row("STT", "Nội dung"), row("1", "a")) + para("") + tbl(row("2", "b"))
    content = read_docx(make_docx(body))
    assert [b.rows if isinstance(b, Table) else b for b in content.blocks] == [
        [["STT", "Nội dung"], ["1", "a"]],
        "",
        [["2", "b"]],
    ]


def test_nfd_and_nbsp_are_normalised():
    nfd = unicodedata.normalize("NFD", "Trường Tiểu học Thủy Vân")
    content = read_docx(make_docx(para(nfd + "\u00a0\u00a0 ") + tbl(row(" a\u00a0b ", nfd))))
    assert content.blocks[0] == "Trường Tiểu học Thủy Vân"
    assert unicodedata.is_normalized("NFC", content.blocks[0])
    assert content.blocks[1].rows == [["a b", "Trường Tiểu học Thủy Vân"]]


def test_legacy_font_on_run():
    tcvn = encode("Trường", "tcvn3")
    vni = encode("Trung tâm học tập cộng đồng", "vni")
    p = para(run(tcvn, font=".VnTime"), run(" - "), run(vni, font="VNI-Times"))
    assert read_docx(make_docx(p)).blocks == ["Trường - Trung tâm học tập cộng đồng"]


def test_legacy_font_split_over_runs_and_capital_font():
    # A VNI letter cut between two runs, and a .VnTimeH heading.
    p1 = para(run("Tro", font="VNI-Times"), run("ø", font="VNI-Times"))
    p2 = para(run(encode("trường tiểu học", "tcvn3h"), font=".VnTimeH"))
    assert read_docx(make_docx(p1 + p2)).blocks == ["Trò", "TRƯỜNG TIỂU HỌC"]


def test_soft_hyphen_in_vntime_from_paragraph_style():
    st = styles(style("Normal", default=True), style("BangVN", font=".VnTime", based_on="Normal"),
                style("Con", based_on="BangVN"))
    p = "<w:p><w:pPr><w:pStyle w:val='Con'/></w:pPr><w:r><w:t>Tr</w:t><w:softHyphen/><w:t>êng</w:t></w:r></w:p>"
    assert read_docx(make_docx(p, styles_xml=st)).blocks == ["Trường"]


def test_soft_hyphen_in_vntime_from_doc_defaults_and_char_style():
    st = styles(style("Normal", default=True), style("Uni", kind="character", font="Times New Roman"),
                default_font=".VnTime")
    cell_p = "<w:p><w:r><w:t>Sè l</w:t><w:softHyphen/><w:t>îng tê r¬i</w:t></w:r></w:p>"
    body = tbl(row(cell(cell_p), cell(para(run("Số lượng", style="Uni")))))
    table = read_docx(make_docx(body, styles_xml=st)).tables[0]
    assert table.rows == [["Số lượng tờ rơi", "Số lượng"]]


def test_default_paragraph_style_font_and_unicode_text_left_alone():
    st = styles(style("Normal", font=".VnArial", default=True))
    body = para("Trung t©m") + para("Trung tâm học tập")  # the second is Unicode typed in a .Vn font
    assert read_docx(make_docx(body, styles_xml=st)).blocks == ["Trung tâm", "Trung tâm học tập"]


def test_soft_hyphen_in_unicode_font_is_dropped():
    p = "<w:p><w:r><w:t>học</w:t><w:softHyphen/><w:t>tập</w:t></w:r></w:p>"
    assert read_docx(make_docx(p)).blocks == ["họctập"]


def test_wps_like_minimal_package():
    # No [Content_Types].xml relationships, no styles.xml.
    data = make_docx(para("Báo cáo") + tbl(row("1", "2")), minimal=True)
    content = read_docx(data)
    assert content.blocks == ["Báo cáo", Table(rows=[["1", "2"]], origin=[[(0, 0), (0, 1)]])]


def test_not_a_word_document():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DocumentError) as err:
        read_docx(buf.getvalue())
    assert err.value.code == "not_a_document"


def test_doctype_in_document_is_refused():
    import zipfile

    bad = make_docx(para("x"))

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bad)) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "word/document.xml":
                data = data.replace(b"?>", b'?><!DOCTYPE d [<!ENTITY e "x">]>', 1)
            dst.writestr(name, data)
    with pytest.raises(DocumentError) as err:
        read_docx(buf.getvalue())
    assert err.value.code == "bad_xml"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aăâđ ờe\u0301\u0323\t\n\r\v\x0c\u00a0\u00ad\u200b\u200d\u2028\u3000\ufeffX.", max_size=30))
def test_fast_clean_matches_text_clean(s):
    assert _clean(s) == clean(s)
