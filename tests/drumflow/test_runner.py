"""drumflow.runner: keep-going policy, manifest, atomic writes, executors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drumflow.errors import GraphError
from drumflow.executors import ProcessPoolTrackExecutor

from .helpers import SMALL_REMIX, make_loop, registry_with_boom, run_file, statuses, write_graph

BRANCHES = """
nodes:
  good: {type: gain, in: drums, params: {gain_db: -3}}
  bad: {type: boom, in: drums}
  after_bad: {type: gain, in: bad}
  out_good: {type: export, in: good, params: {path: "{track}/good.wav"}}
  out_bad: {type: export, in: after_bad, params: {path: "{track}/bad.wav"}}
"""


def test_keep_going_skips_only_dependents_of_the_failure(tmp_path: Path, loop: Path) -> None:
    graph = write_graph(tmp_path, BRANCHES)
    second = make_loop(tmp_path / "songs" / "second.wav", seed=5)
    result = run_file(graph, [loop, second], tmp_path / "out", registry=registry_with_boom())
    assert not result.ok
    for i in range(2):
        assert statuses(result, i) == {"bad": "failed", "good": "ran", "after_bad": "skipped",
                                       "out_bad": "skipped", "out_good": "ran"}
    assert (tmp_path / "out/loop/good.wav").exists() and (tmp_path / "out/second/good.wav").exists()
    assert not (tmp_path / "out/loop/bad.wav").exists()
    failure = result.tracks[0].failures()[0]
    assert failure.error == "boom: the plugin crashed" and "Traceback" in failure.traceback
    assert result.manifest["summary"]["nodes_failed"] == 2 and result.manifest["summary"]["tracks_failed"] == 2


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path, loop: Path) -> None:
    graph = write_graph(tmp_path, BRANCHES)
    second = make_loop(tmp_path / "songs" / "second.wav", seed=5)
    result = run_file(graph, [loop, second], tmp_path / "out", registry=registry_with_boom(), keep_going=False)
    assert not result.ok
    assert [t.track for t in result.tracks] == ["loop"]
    assert result.manifest["summary"]["tracks_not_started"] == ["second"]
    assert statuses(result)["bad"] == "failed"
    assert "stopped after a failure" in {n.reason for n in result.tracks[0].nodes if n.status == "skipped"}


def test_unreadable_input_fails_its_track_only(tmp_path: Path, loop: Path) -> None:
    graph = write_graph(tmp_path, "nodes:\n  g: {type: gain, in: drums}\n  out: {type: export, in: g}\n")
    broken = tmp_path / "songs" / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    result = run_file(graph, [broken, loop], tmp_path / "out")
    assert [t.ok for t in result.tracks] == [False, True]
    failure = result.tracks[0].failures()[0]
    assert failure.node == "g" and str(broken) in failure.error and "cannot be decoded" in failure.error
    assert statuses(result, 0) == {"g": "failed", "out": "skipped"}


def test_manifest_contents(tmp_path: Path, loop: Path, tiny_model: Path, fast_separation) -> None:
    graph = write_graph(tmp_path, SMALL_REMIX.replace("MODEL", str(tiny_model)))
    result = run_file(graph, [loop], tmp_path / "out", ("kick_fx.chain.0.ratio=6",))
    on_disk = json.loads(result.manifest_path.read_text())
    assert result.manifest_path.parent == tmp_path / "out" / "manifests"
    assert on_disk["graph"]["path"] == str(graph) and len(on_disk["graph"]["sha256"]) == 64
    assert on_disk["graph"]["overrides"] == ["kick_fx.chain.0.ratio=6"]
    assert on_disk["summary"] == {"tracks": 1, "tracks_failed": 0, "tracks_not_started": [], "nodes_run": 6,
                                  "cache_hits": 0, "nodes_failed": 0, "nodes_skipped": 0, "files_written": 1}
    (track,) = on_disk["tracks"]
    from larsnet.audio import file_sha256

    assert track["input"] == {"path": str(loop), "sha256": file_sha256(loop)}
    assert set(track["nodes"]) == {"split", "kick_fx", "snare_fx", "mix", "master", "out"}
    split = track["nodes"]["split"]
    assert split["type"] == "separate" and split["status"] == "ran" and split["seconds"] > 0 and len(split["key"]) == 64
    (output,) = track["outputs"]
    written = tmp_path / "out" / "loop" / "mix.wav"
    assert output == {"node": "out", "path": str(written), "sha256": file_sha256(written),
                      "bytes": written.stat().st_size}
    again = json.loads(run_file(graph, [loop], tmp_path / "out", ("kick_fx.chain.0.ratio=6",)).manifest_path.read_text())
    assert again["summary"]["cache_hits"] == 4 and again["summary"]["nodes_run"] == 1


def test_outputs_checked_before_anything_runs(tmp_path: Path, loop: Path) -> None:
    graph = write_graph(tmp_path, """
        nodes:
          out: {type: export, in: drums, params: {path: "loop.wav"}}
    """)
    with pytest.raises(GraphError, match=r"would overwrite the input file") as exc:
        run_file(graph, [loop], loop.parent)
    assert (exc.value.line, exc.value.node) == (2, "out")
    second = make_loop(tmp_path / "songs" / "b.wav")
    with pytest.raises(GraphError, match=r"put \{track\} in the path"):
        run_file(graph, [loop, second], tmp_path / "out")


KILLER = r"""
import os, signal, sys
import larsnet.audio as audio
real_write = audio.AudioWriter.write
def write_half_then_die(self, block):
    real_write(self, block[:, : block.shape[1] // 2])
    self._file.flush()
    os.kill(os.getpid(), signal.SIGKILL)   # a real kill, mid-file
audio.AudioWriter.write = write_half_then_die
from drumflow.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_run_leaves_no_partial_output_and_next_run_completes(tmp_path: Path, loop: Path,
                                                                   tiny_model: Path) -> None:
    graph = write_graph(tmp_path, """
        nodes:
          g: {type: gain, in: drums, params: {gain_db: -1}}
          out: {type: export, in: g, params: {path: "{track}/out.wav"}}
    """)
    out = tmp_path / "out"
    args = ["run", str(graph), str(loop), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", KILLER, *args], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    target = out / "loop" / "out.wav"
    assert not target.exists()
    leftovers = list((out / "loop").iterdir())
    assert leftovers and all(p.name.startswith(".out.wav.") and p.name.endswith(".tmp") for p in leftovers)
    done = subprocess.run([sys.executable, "-m", "drumflow.cli", *args], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    import soundfile as sf

    assert sf.info(str(target)).frames == sf.info(str(loop)).frames


def test_jobs_1_and_2_give_identical_files(tmp_path: Path, tiny_model: Path) -> None:
    graph = write_graph(tmp_path, SMALL_REMIX.replace("MODEL", str(tiny_model)))
    songs = [make_loop(tmp_path / "songs" / f"s{i}.wav", seconds=1.0, seed=i) for i in range(2)]
    one = run_file(graph, songs, tmp_path / "one", cache=False)
    two = run_file(graph, songs, tmp_path / "two", cache=False, executor=ProcessPoolTrackExecutor(2))
    assert one.ok and two.ok and two.manifest["jobs"] == 2
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.wav"))
    assert len(files) == 2
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    assert [t.track for t in two.tracks] == ["s0", "s1"]  # manifest in input order
