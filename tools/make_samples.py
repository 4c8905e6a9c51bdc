"""Make the sample submissions `mailbot demo` mails to itself (mailbot/samples/).

    python tools/make_samples.py

They are built with the test fixture builders (tests/docxgen.py) and, for the
old .doc, converted with LibreOffice, then committed: the demo itself needs
neither. Run this again only when the samples should change.
"""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parsers.convert import from_docx  # noqa: E402
from tests.docxgen import list_docx, mau1_docx, mau2_docx, sample_activities, sample_values  # noqa: E402
from tests.mailgen import jpeg, zip_of  # noqa: E402

OUT = ROOT / "mailbot" / "samples"
SECTIONS = {
    "chi_dao": "Trung tâm đã xây dựng kế hoạch số 05/KH-TTHTCĐ, phân công cán bộ phụ trách từng hoạt động.",
    "thuan_loi_kho_khan": "Thuận lợi: được UBND phường quan tâm chỉ đạo. Khó khăn: kinh phí còn hạn chế.",
    "kien_nghi": "Đề nghị Phòng GD&ĐT hỗ trợ tài liệu tuyên truyền cho năm sau.",
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write("mau1-phu-bai.docx", mau1_docx("Trung tâm HTCĐ phường Phú Bài", sample_activities(8, seed=1)))
    school = mau1_docx("Trường THCS Phú Bài", sample_activities(6, seed=2), merged=True)
    write("mau1-thcs-phu-bai.doc", from_docx(school, "doc"))
    write("mau1-thuy-duong-tcvn3.docx",
          mau1_docx("Trung tâm HTCĐ phường Thủy Dương", sample_activities(5, seed=3), font="tcvn3"))
    late = sample_activities(4, seed=4)
    late[-1] = dict(late[-1], date="10/10/2017")  # an activity after the week: a problem in the receipt
    write("mau1-thuy-van.docx", mau1_docx("Trung tâm HTCĐ xã Thủy Vân", late))
    first = sample_values(5)
    first["trien_lam"] = None  # a blank indicator: the receipt asks for it
    write("mau2-phu-bai.docx", mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG PHÚ BÀI", first, SECTIONS,
                                         "15/BC-TTHTCĐ", "2017-10-11"))
    write("mau2-phu-bai-sua.docx", mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG PHÚ BÀI", dict(first, trien_lam=1), SECTIONS,
                                             "16/BC-TTHTCĐ", "2017-10-12"))
    write("bao-cao-thcs-phu-bai.zip", zip_of([
        ("Báo cáo Tuần lễ HTSĐ THCS Phú Bài.docx",
         mau2_docx("TRƯỜNG THCS PHÚ BÀI", sample_values(6), SECTIONS, "12/BC-THCSPB", "2017-10-12")),
        ("Hình ảnh/khai mac.jpg", jpeg("2017:10:02 07:20:00", (1024, 768))),
        ("Hình ảnh/toa dam.jpg", jpeg("2017:10:04 14:05:00", (1024, 768))),
    ]))
    write("mau2-thuy-chau.docx", mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG THỦY CHÂU", sample_values(7), SECTIONS,
                                           "09/BC-TTHTCĐ", "2017-10-13"))
    write("mau2-thuy-phuong.docx", mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG THỦY PHƯƠNG", sample_values(8), SECTIONS,
                                             "11/BC-TTHTCĐ", "2017-10-13", unaccented=True))
    write("anh-khai-mac.jpg", jpeg("2017:10:02 07:25:00", (1280, 960)))
    write("anh-lop-hoc.jpg", jpeg("2017:10:05 19:10:00", (1280, 960)))

    # 2018, the demo's second campaign in the same data directory (week 1-7/10/2018).
    write("2018-mau1-phu-bai.docx", in_2018(mau1_docx("Trung tâm HTCĐ phường Phú Bài",
                                                      [a | {"date": day_2018(a["date"])}
                                                       for a in sample_activities(6, seed=11)])))
    write("2018-mau2-thuy-duong.docx", in_2018(mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", sample_values(12),
                                                         SECTIONS, "07/BC-TTHTCĐ", "2018-10-11")))
    write("2018-guong-thcs-phu-bai.docx", in_2018(list_docx("Trường THCS Phú Bài", [
        (1, "Nguyễn Văn An", "Tổ 3, phường Phú Bài", "Tự học tin học, hướng dẫn 20 người dùng máy tính"),
        (2, "Trần Thị Bình", "Tổ 5, phường Phú Bài", "Học tiếng Anh cùng con, đạt chứng chỉ B1"),
        (3, "Lê Văn Cường", "Tổ 9, phường Phú Bài", "Mở lớp dạy nghề mộc miễn phí cho thanh niên")])))


def day_2018(date: str) -> str:
    """A day of the 2017 week (2-8/10) as the same weekday's place in the 2018 week (1-7/10)."""
    day, month, _ = date.split("/")
    return f"{int(day) - 1:02d}/{month}/2018"


def in_2018(docx: bytes) -> bytes:
    """The document's own year (title lines, date line) made 2018."""
    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"2017", b"2018")
            dst.writestr(item, data)
    return out.getvalue()


def write(name: str, data: bytes) -> None:
    (OUT / name).write_bytes(data)
    print(f"{OUT / name}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
