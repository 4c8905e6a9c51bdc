"""Shared pytest fixtures. Server fixtures (Dovecot, aiosmtpd) live in tests/servers.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

pytest_plugins = ["tests.servers"]


CORPUS_MISSING = (f"needs the real-world mail corpus at {CORPUS}, which is not part of the repository "
                  "(CI places it beside the checkout as ../shared/corpus)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `corpus` read ../shared/corpus: run them where it is, skip them (saying why) where not."""
    if (CORPUS / "mime").is_dir():
        return
    skip = pytest.mark.skip(reason=CORPUS_MISSING)
    for item in items:
        if item.get_closest_marker("corpus"):
            item.add_marker(skip)


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS
