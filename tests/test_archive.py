"""The content-addressed archive: what goes in comes out, whole, once, private."""
from __future__ import annotations

import hashlib
import os
import stat

import pytest

from mailbot import archive
from mailbot.archive import WRITE_CHUNK, Archive


@pytest.mark.parametrize("size", [0, 1, WRITE_CHUNK - 1, WRITE_CHUNK, WRITE_CHUNK + 1, 3_000_000])
def test_what_is_put_comes_back_whole_under_its_sha256(tmp_path, size):
    a = Archive(tmp_path / "archive")
    data = os.urandom(size)
    digest = a.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert a.get(digest) == data
    assert stat.S_IMODE(a.path(digest).stat().st_mode) == 0o600
    assert not [p for p in a.path(digest).parent.iterdir() if p.name.endswith(".tmp")]


def test_the_same_bytes_are_stored_once(tmp_path):
    a = Archive(tmp_path)
    data = os.urandom(10_000)
    assert a.put(data) == a.put(data)
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


class _Trickle:
    """A file that takes at most 1000 bytes a write, as a pipe or a full disk may."""

    def __init__(self):
        self.out = bytearray()

    def write(self, piece) -> int:
        taken = bytes(piece[:1000])
        self.out += taken
        return len(taken)


def test_short_writes_are_written_on_until_everything_is():
    data = os.urandom(WRITE_CHUNK * 2 + 123)
    fh = _Trickle()
    archive._write_all(fh, data)
    assert bytes(fh.out) == data


def test_a_name_that_is_not_a_digest_is_refused(tmp_path):
    a = Archive(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(ValueError):
            a.path(bad)
