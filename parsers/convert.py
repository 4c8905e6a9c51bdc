""".doc / .odt / .rtf → .docx with LibreOffice headless, so one reader serves all.

Each conversion gets its own LibreOffice profile directory: two conversions
sharing a profile make the second fail silently. A timeout
kills the whole process group (soffice forks oosplash/soffice.bin), and the
temporary files go whatever happens.

LibreOffice opens untrusted files, which may link remote images or other
documents: it runs in a network namespace of its own (bubblewrap, else
`unshare -n`; both work as root and bubblewrap as a service user) with
link updates switched off in its profile, and under an address-space cap.
Without a sandbox nothing is converted.
"""
from __future__ import annotations

import functools
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from parsers.model import DocumentError

SOURCE_TYPES = ("doc", "odt", "rtf")
MEMORY_MB = 2048  # address space of one LibreOffice; far more than a form needs

log = logging.getLogger(__name__)

# The profile's settings: never update links (images, OLE objects, fields) from elsewhere.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseLocking" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


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
    """Whether LibreOffice can be called here, in its network-less sandbox."""
    return _soffice() is not None and sandbox() is not None


@functools.lru_cache(maxsize=1)
def sandbox() -> tuple[str, ...] | None:
    """The command prefix that gives a process no network, tried once; None when none works."""
    candidates = []
    if shutil.which("bwrap"):
        candidates.append(("bwrap", "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--"))
    if shutil.which("unshare"):
        candidates.append(("unshare", "-n", "--") if os.geteuid() == 0 else ("unshare", "-r", "-n", "--"))
    for prefix in candidates:
        try:
            ok = subprocess.run([*prefix, "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return prefix
    log.warning("no network sandbox (bubblewrap or unshare) works here: documents are not converted")
    return None


def _limit_memory(megabytes: int) -> None:
    """In the child before exec: LibreOffice's own address-space cap (raised from a worker's, within the hard one)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


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
    if soffice is None:  # before sandbox(): a PATH without soffice must not decide the cached sandbox
        raise ConversionUnavailable()
    prefix = sandbox()
    if prefix is None:
        raise ConversionUnavailable()
    target_ext = target.split(":", 1)[0]
    with tempfile.TemporaryDirectory(prefix="mailbot-convert-") as tmp:
        work = Path(tmp)
        src = work / f"input.{source_ext}"
        src.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        cmd = [
            *prefix, soffice,
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
                preexec_fn=functools.partial(_limit_memory, MEMORY_MB),
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
