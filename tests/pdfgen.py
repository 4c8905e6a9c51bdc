"""PDFs and page pictures of generated forms, made at test time (no binary fixtures).

    from tests.pdfgen import to_pdf, pair_specs

    pdfs = to_pdf([mau2_docx(...), mau1_docx(...)])  # LibreOffice, one run, its own profile

`pair_specs()` lists the filled forms (with the docxgen variants units use)
that the accuracy bench and tests render both ways and compare.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.docxgen import mau1_docx, mau2_docx, sample_activities, sample_values


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docs: list[bytes], timeout: float = 240) -> list[bytes]:
    """Each .docx rendered to PDF by LibreOffice (one process, a throwaway profile)."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice is not installed")
    with tempfile.TemporaryDirectory(prefix="mailbot-pdfgen-") as tmp:
        work = Path(tmp)
        names = []
        for i, data in enumerate(docs):
            (work / f"d{i}.docx").write_bytes(data)
            names.append(str(work / f"d{i}.docx"))
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
        env.update(HOME=str(work), SAL_USE_VCLPLUGIN="svp")
        subprocess.run([exe, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                        "--norestore", "--nologo", "--convert-to", "pdf", "--outdir", str(work / "out"), *names],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, timeout=timeout, check=True, start_new_session=True)
        return [(work / "out" / f"d{i}.pdf").read_bytes() for i in range(len(docs))]


UNITS = ["TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", "TRƯỜNG THCS PHÚ BÀI", "TRUNG TÂM HTCĐ\nXÃ THỦY BẰNG",
         "TRƯỜNG TIỂU HỌC THỦY LƯƠNG"]
MAU1_UNITS = ["Trung tâm HTCĐ phường Thủy Dương", "Trường THCS Phú Bài", "Trung tâm HTCĐ xã Thủy Bằng"]

MAU2_VARIANTS: list[dict] = [
    {}, {"merged": True}, {"font": "tcvn3"}, {"media_rows": True}, {"split_at": 9},
    {"extra_column": True}, {"reorder": True}, {"unaccented": True}, {"upper": True},
    {"header_as_paragraphs": True}, {"superior": "UBND THỊ XÃ HƯƠNG THỦY"},
    {"font": "tcvn3", "merged": True, "tcvn3_via": "run"}, {"no_note_column": True},
    {"notes": {"to_roi": "Phát tại các thôn", "hoi_thao": "Tổ chức tại nhà văn hóa"}}, {"font": "vni"},
]
MAU1_VARIANTS: list[dict] = [
    {}, {"merged": True}, {"font": "tcvn3"}, {"split_at": 4}, {"extra_column": True},
    {"column_order": ["STT", "Ngày", "Giờ", "Nội dung", "Địa điểm", "Ghi chú"]}, {"no_stt": True},
    {"repeat_header": 3}, {"unaccented": True}, {"font": "vni", "merged": True},
]


def pair_specs(n_mau2: int = len(MAU2_VARIANTS), n_mau1: int = len(MAU1_VARIANTS)) -> list[tuple[str, bytes]]:
    """(label, .docx) of filled forms: every variant once, with varied values."""
    out = []
    for i, v in enumerate(MAU2_VARIANTS[:n_mau2]):
        values = sample_values(100 + i)
        if i % 3 == 1:
            values["trien_lam"] = None  # a blank cell
        out.append((f"mau2 {v}", mau2_docx(UNITS[i % len(UNITS)], values,
                                           {"chi_dao": "Xây dựng kế hoạch số 05/KH-TTHTCĐ ngày 20/9/2017.",
                                            "kien_nghi": "Đề nghị cấp thêm tài liệu tuyên truyền."},
                                           report_number=f"{10 + i}/BC-TTHTCĐ", report_date="2017-10-12",
                                           **v)))
    for i, v in enumerate(MAU1_VARIANTS[:n_mau1]):
        acts = sample_activities(6 + i % 5, seed=200 + i)
        if i % 2:
            acts[1]["note"] = "Mời đại biểu dự"
        out.append((f"mau1 {v}", mau1_docx(MAU1_UNITS[i % len(MAU1_UNITS)], acts, **v)))
    return out
