"""The content-addressed archive: what goes in comes out, whole, once, private."""
from __future__ import annotations

import hashlib
import os
import stat

import pytest

from mailbot.archive import Archive


@pytest.mark.parametrize("size", [0, 1, 65_536, 3_000_000])
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


def test_a_name_that_is_not_a_digest_is_refused(tmp_path):
    a = Archive(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(ValueError):
            a.path(bad)
