"""drumflow.cli: one-line errors with exit codes, every subcommand, --jobs, --dry-run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import SMALL_REMIX, make_loop, write_graph


@pytest.fixture
def remix(tmp_path: Path, tiny_model: Path, fast_separation) -> Path:
    return write_graph(tmp_path, SMALL_REMIX.replace("MODEL", str(tiny_model)))


def test_validate_ok(cli, remix: Path) -> None:
    code, out, err = cli("validate", remix)
    assert code == 0 and out.startswith(f"{remix}: ok, 6 nodes, 7 edges, 3 warning(s)")
    assert err.splitlines() == [f"warning: {remix}:2:3: node 'split': output 'split.{s}' is not used"
                                for s in ("toms", "hihat", "cymbals")]


def test_validate_error_is_one_line_with_file_line_node_and_fix(cli, tmp_path: Path) -> None:
    bad = write_graph(tmp_path, "nodes:\n  g: {type: gain, in: drums, params: {gian_db: 1}}\n  out: {type: export, in: g}\n")
    code, out, err = cli("validate", bad)
    assert code == 2 and out == ""
    assert err == f"error: {bad}:2:39: node 'g': unknown parameter 'gian_db' (did you mean 'gain_db'?)\n"


def test_several_errors_one_line_each(cli, tmp_path: Path) -> None:
    bad = write_graph(tmp_path, "nodes:\n  a: {type: gian, in: drums}\n  out: {type: export, in: nowhere}\n")
    code, _, err = cli("validate", bad)
    assert code == 2 and len(err.splitlines()) == 2 and all(line.startswith("error: ") for line in err.splitlines())


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:
    from drumflow.errors import GraphError

    bad = write_graph(tmp_path, "nodes:\n  a: {type: gian, in: drums}\n  out: {type: export, in: a}\n")
    with pytest.raises(GraphError, match=r"unknown node type 'gian'"):
        cli("validate", bad, "--debug")


def test_warnings_are_printed(cli, tmp_path: Path) -> None:
    g = write_graph(tmp_path, "nodes:\n  x: {type: gain, in: drums}\n  out: {type: export, in: drums}\n")
    code, out, err = cli("validate", g)
    assert code == 0 and "1 warning(s)" in out and f"warning: {g}:2:3: node 'x': feeds no export" in err


def test_nodes_lists_ports_params_defaults(cli) -> None:
    code, out, _ = cli("nodes")
    assert code == 0
    for name in ("separate", "fx", "mix", "gain", "normalize", "resample", "export"):
        assert f"\n{name}  (v" in "\n" + out
    assert "out: kick: audio, snare: audio, toms: audio, hihat: audio, cymbals: audio, stems: stems" in out
    assert "gain_db: float = 0.0  gain in dB" in out
    code, out, _ = cli("nodes", "fx")
    assert "Compressor(threshold_db=0.0, ratio=1.0, attack_ms=1.0, release_ms=100.0)" in out
    code, out, _ = cli("nodes", "--json")
    assert {d["name"] for d in json.loads(out)} >= {"separate", "export"}
    code, _, err = cli("nodes", "fxx")
    assert code == 2 and "did you mean 'fx'" in err


def test_schema_command(cli, tmp_path: Path) -> None:
    code, out, _ = cli("schema")
    assert code == 0 and json.loads(out)["title"] == "drumflow graph"
    cli("schema", "-o", tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["required"] == ["nodes"]


def test_graph_command_formats(cli, remix: Path, tmp_path: Path) -> None:
    code, out, _ = cli("graph", remix)
    assert code == 0 and out.startswith("flowchart LR")
    code, out, _ = cli("graph", remix, "--format", "dot")
    assert out.startswith("digraph")
    from drumflow.draw import png_backend

    if png_backend():
        code, _, err = cli("graph", remix, "--format", "png", "-o", tmp_path / "g.png")
        assert code == 0 and (tmp_path / "g.png").exists() and "wrote" in err


def test_run_dry_run_then_run_then_cache_commands(cli, remix: Path, loop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, text, _ = cli("run", remix, loop, "--out", out, "--dry-run")
    assert code == 0 and not out.exists()
    lines = text.splitlines()
    assert lines[0] == "track loop:"
    assert any(line.split()[:3] == ["split", "separate", "run"] for line in lines)
    assert any(line.split()[:3] == ["out", "export", "write"] and line.endswith("loop/mix.wav") for line in lines)
    code, _, err = cli("run", remix, loop, "--out", out)
    assert code == 0 and "1 track(s): 1 ok, 0 failed; 6 node(s) ran, 0 cached; 1 file(s) written" in err
    assert (out / "loop" / "mix.wav").exists()
    code, text, _ = cli("run", remix, loop, "--out", out, "--dry-run", "--set", "snare_fx.chain.0.gain_db=-4")
    rows = {line.split()[0]: line.split()[2] for line in text.splitlines()[1:]}
    assert rows == {"split": "cached", "kick_fx": "cached", "snare_fx": "run", "mix": "run", "master": "run",
                    "out": "write"}
    code, text, _ = cli("cache", "info", "--out", out)
    assert code == 0 and "4 entries" in text
    code, text, _ = cli("cache", "clear", "--out", out)
    assert "removed 4 entries" in text
    assert "0 entries" in cli("cache", "info", "--out", out)[1]


def test_run_failure_exit_code_and_summary(cli, tmp_path: Path, loop: Path) -> None:
    g = write_graph(tmp_path, """
        nodes:
          n: {type: normalize, in: drums, params: {peak_dbfs: -1}}
          r: {type: resample, in: drums, params: {sample_rate: 48000}}
          m: {type: mix, in: {a: n, b: r}}
          out: {type: export, in: m}
    """)
    code, _, err = cli("run", g, loop, "--out", tmp_path / "out", "--quiet")
    assert code == 1
    assert "error: track 'loop': node 'm' (mix): inputs have different sample rates" in err
    assert "add a resample node" in err


def test_run_missing_inputs(cli, remix: Path, tmp_path: Path) -> None:
    code, _, err = cli("run", remix, tmp_path / "nothing.wav", "--out", tmp_path / "out")
    assert code == 2 and "does not exist" in err
    code, _, err = cli("run", remix, str(tmp_path / "*.flac"), "--out", tmp_path / "out")
    assert code == 2 and "no audio file matches" in err


def test_run_folder_and_glob_inputs(cli, remix: Path, tmp_path: Path) -> None:
    songs = tmp_path / "songs"
    for i in range(2):
        make_loop(songs / f"t{i}.wav", seconds=0.5, seed=i)
    code, text, _ = cli("run", remix, songs, "--out", tmp_path / "o1", "--dry-run")
    assert [line for line in text.splitlines() if line.startswith("track")] == ["track t0:", "track t1:"]
    code, text, _ = cli("run", remix, str(songs / "t1.*"), "--out", tmp_path / "o1", "--dry-run")
    assert [line for line in text.splitlines() if line.startswith("track")] == ["track t1:"]


def test_default_input_is_the_demo_loop(cli, remix: Path, demo_dir: Path, tmp_path: Path) -> None:
    code, text, _ = cli("run", remix, "--out", tmp_path / "out", "--dry-run")
    assert code == 0 and text.startswith("track demo_loop:")
