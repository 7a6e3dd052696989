"""drumflow.cache and the invalidation rules: what re-runs after which change."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drumflow.cache import Cache, node_key, why_rerun
from drumflow.errors import CacheError
from drumflow.nodes.fx import Fx
from drumflow.ports import AUDIO, STEMS, Audio, StemSet

from .helpers import SMALL_REMIX, FakeSeparator, run_file, statuses, write_graph

ALL = ["split", "kick_fx", "snare_fx", "mix", "master", "out"]


@pytest.fixture
def remix(tmp_path: Path, tiny_model: Path, fast_separation) -> Path:
    return write_graph(tmp_path, SMALL_REMIX.replace("MODEL", str(tiny_model)))


def test_first_run_runs_everything_second_run_reuses(remix: Path, loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_file(remix, [loop], out)
    assert set(statuses(first).values()) == {"ran"}
    second = run_file(remix, [loop], out)
    assert statuses(second) == {"split": "cached", "kick_fx": "cached", "snare_fx": "cached",
                                "mix": "unneeded", "master": "cached", "out": "ran"}
    assert first.tracks[0].outputs[0].sha256 == second.tracks[0].outputs[0].sha256


def test_fx_param_change_reruns_that_chain_and_downstream_never_separation(remix: Path, loop: Path,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_file(remix, [loop], out)
    calls = FakeSeparator.calls
    again = run_file(remix, [loop], out, ("kick_fx.chain.0.threshold_db=-24",))
    assert FakeSeparator.calls == calls  # separation never re-runs
    assert statuses(again) == {"split": "cached", "kick_fx": "ran", "snare_fx": "cached",
                               "mix": "ran", "master": "ran", "out": "ran"}
    kick = next(n for n in again.tracks[0].nodes if n.node == "kick_fx")
    assert kick.reason == "params changed: chain"
    assert first.tracks[0].outputs[0].sha256 != again.tracks[0].outputs[0].sha256


def test_separate_param_change_reruns_everything(remix: Path, loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_file(remix, [loop], out)
    again = run_file(remix, [loop], out, ("split.wiener=1.0",))
    assert set(statuses(again).values()) == {"ran"}
    assert next(n for n in again.tracks[0].nodes if n.node == "split").reason == "params changed: wiener"


def test_implementation_version_bump_invalidates(remix: Path, loop: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    run_file(remix, [loop], out)
    monkeypatch.setattr(Fx, "version", "999")
    again = run_file(remix, [loop], out)
    assert statuses(again) == {"split": "cached", "kick_fx": "ran", "snare_fx": "ran",
                               "mix": "ran", "master": "ran", "out": "ran"}
    assert next(n for n in again.tracks[0].nodes if n.node == "kick_fx").reason == "implementation version changed"


def test_changed_model_file_reruns_separation(remix: Path, loop: Path, tmp_path: Path, tiny_model: Path,
                                             fast_separation) -> None:
    import shutil

    from .helpers import write_graph as wg

    model = tmp_path / "model.pt"
    shutil.copy(tiny_model, model)
    graph = wg(tmp_path, SMALL_REMIX.replace("MODEL", str(model)), "g2.yaml")
    out = tmp_path / "out"
    run_file(graph, [loop], out)
    from larsnet.checkpoint import save_model
    from larsnet.model import LarsNet, ModelConfig

    save_model(LarsNet(ModelConfig(arch_params={"width": 1})), model, license="test")
    calls = fast_separation.calls
    again = run_file(graph, [loop], out)
    assert fast_separation.calls == calls + 1
    assert statuses(again)["split"] == "ran"
    assert next(n for n in again.tracks[0].nodes if n.node == "split").reason == "model or plugin file changed"


def test_input_content_not_name_is_the_key(remix: Path, loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_file(remix, [loop], out)
    renamed = tmp_path / "other" / "renamed.wav"
    renamed.parent.mkdir()
    renamed.write_bytes(loop.read_bytes())
    again = run_file(remix, [renamed], out)
    assert statuses(again)["split"] == "cached"
    assert (out / "renamed" / "mix.wav").exists()


def test_no_cache_reads_and_writes_nothing(remix: Path, loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_file(remix, [loop], out, cache=False)
    assert not (out / ".drumflow-cache").exists()
    assert set(statuses(run_file(remix, [loop], out, cache=False)).values()) == {"ran"}


def test_cache_dir_from_environment(remix: Path, loop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRUMFLOW_CACHE", str(tmp_path / "elsewhere"))
    run_file(remix, [loop], tmp_path / "out")
    assert Cache(tmp_path / "elsewhere").info().entries == 4  # split, kick_fx, snare_fx, master


def test_store_load_roundtrip_shares_arrays(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    kick = Audio(np.ones((2, 5), np.float32), 44100)
    snare = Audio(np.zeros((2, 5), np.float32), 44100)
    outputs = {"kick": kick, "snare": snare, "stems": StemSet({"kick": kick, "snare": snare})}
    cache.store("ab" * 32, outputs, {"kick": AUDIO, "snare": AUDIO, "stems": STEMS})
    assert len(list((tmp_path / "ab" / ("ab" * 32)).glob("*.npy"))) == 2  # stored once each
    back = cache.load("ab" * 32)
    np.testing.assert_array_equal(back["stems"]["kick"].samples, kick.samples)
    assert back["snare"].sample_rate == 44100
    info = cache.info()
    assert info.entries == 1 and info.bytes > 0
    assert cache.clear() == 1 and cache.info().entries == 0


def test_unreadable_entry_names_the_fix(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store("cd" * 32, {"out": Audio(np.ones((2, 5), np.float32), 8000)}, {"out": AUDIO})
    (tmp_path / "cd" / ("cd" * 32) / "a0.npy").write_bytes(b"garbage")
    with pytest.raises(CacheError, match=r"unreadable.*drumflow cache clear"):
        cache.load("cd" * 32)


def test_key_depends_on_every_part() -> None:
    base = dict(type_name="fx", version="1", params={"a": 1}, fingerprint={}, inputs={"in": "k:out"})
    key = node_key(**base)
    assert key == node_key(**base)
    for change in ({"type_name": "gain"}, {"version": "2"}, {"params": {"a": 2}}, {"fingerprint": {"m": "x"}},
                   {"inputs": {"in": "k2:out"}}):
        assert node_key(**{**base, **change}) != key


def test_why_rerun_reasons() -> None:
    cur = {"version": "1", "params": {"a": 1, "b": 2}, "fingerprint": {}, "inputs": {}}
    assert why_rerun(None, cur) == "not run before"
    assert why_rerun(cur, cur) == "cache entry missing"
    assert why_rerun({**cur, "params": {"a": 0, "b": 2}}, cur) == "params changed: a"
    assert why_rerun({**cur, "inputs": {"in": "x"}}, cur) == "an input changed"
