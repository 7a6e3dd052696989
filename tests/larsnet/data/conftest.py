"""Fixtures for the kit-loader tests: tiny generated kits (kitfactory.py) and an
isolated SF2 render cache, so that no test writes to the user's ~/.cache."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sf2_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point $XDG_CACHE_HOME at a fresh folder; returns the SF2 cache folder inside it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "larsnet" / "sf2"
