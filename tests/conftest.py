"""Shared pytest fixtures. Server fixtures (Dovecot, aiosmtpd) live in tests/servers.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

pytest_plugins = ["tests.servers"]


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.exists():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    return CORPUS
