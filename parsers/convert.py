""".doc / .odt / .rtf → .docx with LibreOffice headless, so one reader serves all.

Each conversion gets its own LibreOffice profile directory: two conversions
sharing a profile make the second fail silently (PITFALLS.md). A timeout
kills the whole process group (soffice forks oosplash/soffice.bin), and the
temporary files go whatever happens.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from parsers.docx_grid import DocumentError

SOURCE_TYPES = ("doc", "odt", "rtf")


class ConversionUnavailable(DocumentError):
    """LibreOffice is not installed: the unit is asked for a .docx instead."""

    def __init__(self) -> None:
        super().__init__(
            "needs_conversion",
            "Phòng GD&ĐT chưa đọc được tệp ở định dạng này; đề nghị đơn vị lưu văn bản "
            "ở định dạng Word .docx rồi gửi lại.",
        )


def _conversion_failed() -> DocumentError:
    return DocumentError(
        "conversion_failed",
        "Tệp không mở được để đọc nội dung; đề nghị đơn vị mở văn bản bằng Microsoft Word, "
        "lưu ở định dạng .docx rồi gửi lại.",
    )


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def available() -> bool:
    """Whether LibreOffice can be called here."""
    return _soffice() is not None


_PASS_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "LD_LIBRARY_PATH")


def to_docx(data: bytes, source_type: str, timeout: float = 60) -> bytes:
    """Convert a .doc, .odt or .rtf document to .docx bytes."""
    if source_type not in SOURCE_TYPES:
        raise ValueError(f"cannot convert {source_type!r}; expected one of {SOURCE_TYPES}")
    return _convert(data, source_type, "docx", timeout)


def from_docx(data: bytes, target_type: str, timeout: float = 60) -> bytes:
    """The other direction (docx → doc/odt/rtf), for building test fixtures."""
    if target_type not in SOURCE_TYPES:
        raise ValueError(f"cannot convert to {target_type!r}; expected one of {SOURCE_TYPES}")
    filter_name = {"doc": "doc:MS Word 97", "odt": "odt", "rtf": "rtf"}[target_type]
    return _convert(data, "docx", filter_name, timeout)


def _convert(data: bytes, source_ext: str, target: str, timeout: float) -> bytes:
    soffice = _soffice()
    if soffice is None:
        raise ConversionUnavailable()
    target_ext = target.split(":", 1)[0]
    with tempfile.TemporaryDirectory(prefix="mailbot-convert-") as tmp:
        work = Path(tmp)
        src = work / f"input.{source_ext}"
        src.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        profile = work / "profile"
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", target,
            "--outdir", str(outdir),
            str(src),
        ]
        # A minimal environment: LibreOffice opens untrusted files and needs none of our secrets.
        env = {k: v for k, v in os.environ.items() if k in _PASS_ENV}
        env.update(HOME=str(work), SAL_USE_VCLPLUGIN="svp")
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=work, env=env, start_new_session=True,
            )
        except OSError:
            raise ConversionUnavailable() from None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise _conversion_failed() from None
        finally:
            _kill_group(proc)  # stray children of a finished soffice, if any
        result = outdir / f"input.{target_ext}"
        if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            raise _conversion_failed()
        return result.read_bytes()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
