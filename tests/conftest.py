"""Shared fixtures and the slow-test policy.

Slow tests are all collected, but unless ``--slow all`` is given only a bounded,
deterministic sample of them runs (``--slow N``, default 4), so CI stays well under
its limit while every slow test still runs somewhere over time.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GMD_ROOT = Path(os.environ.get("LARSNET_GMD", SHARED / "data" / "groove-midi"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", default=os.environ.get("DRUMFLOW_SLOW", "4"),
                     help="how many slow tests to run: a number (deterministic sample) or 'all'")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    choice = str(config.getoption("--slow"))
    if choice == "all":
        return
    budget = int(choice)
    slow = [item for item in items if item.get_closest_marker("slow")]
    ranked = sorted(slow, key=lambda item: hashlib.sha1(item.nodeid.encode()).hexdigest())
    chosen = {item.nodeid for item in ranked[:budget]}
    skip = pytest.mark.skip(reason=f"slow test outside the sample of {budget} (use --slow all)")
    for item in slow:
        if item.nodeid not in chosen:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def gmd_root() -> Path:
    if not (GMD_ROOT / "info.csv").exists():
        pytest.skip(f"Groove MIDI Dataset not found at {GMD_ROOT}")
    return GMD_ROOT
