"""LibreOffice conversions with the real soffice (installed here and in CI)."""
from __future__ import annotations

import io
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import docx
import pytest

from parsers import convert
from parsers.docx_grid import DocumentError, Table, read_docx
from parsers.legacy_fonts import encode
from parsers.sniff import sniff

RTF = (
    r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}"
    r"\pard Tr\u432?\u7901?ng THCS Ph\u250? B\u224?i\par"
    r"\trowd\cellx2000\cellx4000 STT\cell N\u7897?i dung\cell\row"
    r"\trowd\cellx2000\cellx4000 1\cell Khai m\u7841?c\cell\row"
    r"\pard Cu\u7889?i\par}"
)


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """Conversions put their temporary files here, so leftovers can be counted."""
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    return work


def save(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_available():
    assert convert.available() is True


def test_word97_doc_with_tcvn3_fonts_keeps_its_text(own_tmp):
    d = docx.Document()
    d.add_paragraph().add_run(encode("Trường Tiểu học Thủy Vân", "tcvn3")).font.name = ".VnTime"
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).paragraphs[0].add_run(encode("Số lượng tờ rơi đã phát hành", "tcvn3")).font.name = ".VnTime"
    t.cell(0, 1).text = "1.200"
    t.cell(1, 0).merge(t.cell(1, 1)).paragraphs[0].add_run(encode("ghi chú", "tcvn3h")).font.name = ".VnTimeH"
    d.add_paragraph("Hết")
    doc = convert.from_docx(save(d), "doc")
    assert sniff(doc) == "doc"
    back = convert.to_docx(doc, "doc")
    assert sniff(back) == "docx"
    assert read_docx(back).blocks == [
        "Trường Tiểu học Thủy Vân",
        Table(
            rows=[["Số lượng tờ rơi đã phát hành", "1.200"], ["GHI CHÚ", "GHI CHÚ"]],
            origin=[[(0, 0), (0, 1)], [(1, 0), (1, 0)]],
        ),
        "Hết",
    ]
    assert list(own_tmp.iterdir()) == []


def test_parallel_odt_and_rtf_with_libreoffice_written_docx():
    # docx → odt → docx gives a docx written by LibreOffice; the RTF runs at the same time,
    # each conversion with its own profile.
    d = docx.Document()
    d.add_paragraph("Mẫu 2")
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "Kết quả"
    t.cell(1, 0).merge(t.cell(2, 0)).text = "Chỉ tiêu"
    t.cell(1, 1).text = "a"
    t.cell(2, 2).text = "b"
    d.add_paragraph("Người lập")
    odt = convert.from_docx(save(d), "odt")
    assert sniff(odt) == "odt"
    with ThreadPoolExecutor(2) as pool:
        from_odt = pool.submit(convert.to_docx, odt, "odt")
        from_rtf = pool.submit(convert.to_docx, RTF.encode("ascii"), "rtf")
        odt_docx, rtf_docx = from_odt.result(), from_rtf.result()
    assert read_docx(odt_docx).blocks == [
        "Mẫu 2",
        Table(
            rows=[["Kết quả", "Kết quả", "Kết quả"], ["Chỉ tiêu", "a", ""], ["Chỉ tiêu", "", "b"]],
            origin=[[(0, 0), (0, 0), (0, 0)], [(1, 0), (1, 1), (1, 2)], [(1, 0), (2, 1), (2, 2)]],
        ),
        "Người lập",
    ]
    content = read_docx(rtf_docx)
    assert content.paragraphs[0] == "Trường THCS Phú Bài"
    assert content.tables[0].rows == [["STT", "Nội dung"], ["1", "Khai mạc"]]
    assert content.paragraphs[-1] == "Cuối"


def test_timeout_kills_and_cleans_up(own_tmp):
    started = time.monotonic()
    with pytest.raises(DocumentError) as err:
        convert.to_docx(RTF.encode("ascii"), "rtf", timeout=0.05)
    assert err.value.code == "conversion_failed"
    assert time.monotonic() - started < 10
    assert list(own_tmp.iterdir()) == []


def test_unavailable_without_libreoffice(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert convert.available() is False
    with pytest.raises(convert.ConversionUnavailable) as err:
        convert.to_docx(b"{\\rtf1 x}", "rtf")
    assert err.value.code == "needs_conversion"
    assert "định dạng Word .docx" in err.value.message


def test_unknown_source_type():
    with pytest.raises(ValueError):
        convert.to_docx(b"x", "pdf")
