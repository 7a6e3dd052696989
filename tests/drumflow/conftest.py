"""Shared fixtures: a tiny random LarsNet, generated drum loops, graph files, the CLI."""
from __future__ import annotations

from pathlib import Path

import pytest
from .helpers import FakeSeparator, make_loop


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LarsNet with 2-channel U-Nets: real code path, ~3 MB, fast on CPU."""
    import torch
    from larsnet.checkpoint import save_model
    from larsnet.model import LarsNet, ModelConfig

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(LarsNet(ModelConfig(arch_params={"width": 2})), path, license="test", provenance={"test": True})
    return path


@pytest.fixture
def loop(tmp_path: Path) -> Path:
    return make_loop(tmp_path / "songs" / "loop.wav")


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stands in for drumflow/demo/ (the lead commits the real demo loop later)."""
    import drumflow.spec

    folder = tmp_path / "demo"
    make_loop(folder / "demo_loop.wav", seed=3)
    monkeypatch.setattr(drumflow.spec, "DEMO_DIR", folder)
    return folder


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli("run", ...) -> (exit_code, stdout, stderr)`` through drumflow.cli.main."""
    from drumflow.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def fast_separation(monkeypatch: pytest.MonkeyPatch) -> type[FakeSeparator]:
    """In-process runs separate with :class:`FakeSeparator` (the model file still keys the cache)."""
    import drumflow.nodes.separate

    FakeSeparator.calls = 0
    monkeypatch.setattr(drumflow.nodes.separate, "_separator", lambda model, device: FakeSeparator())
    return FakeSeparator
