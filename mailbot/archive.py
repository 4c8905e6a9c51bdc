"""Content-addressed file store: every raw message and attachment, once, by sha256.

No name from a message is ever part of a path. Files are written to a
temporary name, fsynced and renamed, so a crash never leaves a torn file
under a final name (the getmail6 / isync rule).
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 hex digest")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store the bytes (if new) and return their sha256."""
        digest = sha256(data)
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        if not target.parent.is_dir():
            for folder in (self.root, target.parent.parent, target.parent):  # private to the service user
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")  # workers may race
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
