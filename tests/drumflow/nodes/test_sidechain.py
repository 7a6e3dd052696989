"""``duck`` and ``gate`` through whole graphs: routing, {stem}, key mismatches, validation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumflow.dsp import dynamics as dyn
from drumflow.errors import GraphError, GraphErrors

from ..helpers import run_file, statuses, write_graph

SIDECHAIN = """
nodes:
  split: {type: separate, in: drums, params: {model: MODEL}}
  ducked:
    type: duck
    in: {in: split.cymbals, key: split.kick}
    params: {threshold_db: -40, ratio: 8, attack_ms: 1, release_ms: 50, lookahead_ms: 2}
  room:
    type: gate
    in: {in: drums, key: split.snare}
    params: {threshold_db: -30, hold_ms: 20, range_db: -60}
  mix: {type: mix, in: {cymbals: ducked, kick: split.kick, room: room}}
  stems: {type: export, in: split.stems, params: {path: "{track}/stems/{stem}.wav", bit_depth: 32}}
  cymbals_out: {type: export, in: ducked, params: {path: "{track}/{stem}_ducked.wav", bit_depth: 32}}
  room_out: {type: export, in: room, params: {path: "{track}/room.wav", bit_depth: 32}}
  mix_out: {type: export, in: mix, params: {path: "{track}/mix.wav", bit_depth: 32}}
"""


def read(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return data.T


def test_duck_and_gate_through_a_graph_with_a_tiny_model(tmp_path: Path, loop: Path, tiny_model: Path) -> None:
    graph = write_graph(tmp_path, SIDECHAIN.replace("MODEL", str(tiny_model)))
    out = tmp_path / "out"
    result = run_file(graph, [loop], out)
    assert result.ok, result.tracks[0].failures()
    # 'mix' still gets split.kick after 'ducked' consumed two ports of split (the runner frees per source)
    assert set(statuses(result).values()) == {"ran"}
    folder = out / "loop"
    stems = {s: read(folder / "stems" / f"{s}.wav") for s in ("kick", "snare", "cymbals")}
    drums = read(loop)
    ducked = read(folder / "cymbals_ducked.wav")  # {stem} follows duck's 'in'
    expect, gain = dyn.duck(stems["cymbals"], stems["kick"], 44100, threshold_db=-40, ratio=8, attack_ms=1,
                            release_ms=50, lookahead_ms=2)
    np.testing.assert_allclose(ducked, expect, atol=1e-7)
    assert ducked.shape == drums.shape
    room = read(folder / "room.wav")
    expect_room, _ = dyn.gate(drums, stems["snare"], 44100, threshold_db=-30, hold_ms=20, range_db=-60)
    np.testing.assert_allclose(room, expect_room, atol=1e-7)
    mix = read(folder / "mix.wav")
    np.testing.assert_allclose(mix, ducked + stems["kick"] + room, atol=1e-5)


SHIFTED_KEY = """
nodes:
  split: {type: separate, in: drums, params: {model: MODEL}}
  key48: {type: resample, in: split.kick, params: {sample_rate: 48000}}
  ducked: {type: duck, in: {in: split.cymbals, key: key48}, params: {threshold_db: -40, ratio: 4}}
  out: {type: export, in: ducked, params: {path: "{track}/ducked.wav"}}
"""


def test_key_at_another_rate_is_resampled_and_noted(tmp_path: Path, loop: Path, tiny_model: Path,
                                                    fast_separation) -> None:
    graph = write_graph(tmp_path, SHIFTED_KEY.replace("MODEL", str(tiny_model)))
    result = run_file(graph, [loop], tmp_path / "out")
    assert result.ok
    node = json.loads(json.dumps(result.manifest))["tracks"][0]["nodes"]["ducked"]
    assert node["warnings"] == ["key resampled from 48000 Hz to 44100 Hz (72000 -> 66150 frames)"]
    assert sf.info(str(tmp_path / "out" / "loop" / "ducked.wav")).frames == 66150


def test_key_mismatch_error_fails_the_node_with_the_fix(tmp_path: Path, loop: Path, tiny_model: Path,
                                                         fast_separation) -> None:
    graph = write_graph(tmp_path, SHIFTED_KEY.replace("MODEL", str(tiny_model)))
    result = run_file(graph, [loop], tmp_path / "out", ("ducked.key_mismatch=error",))
    assert not result.ok
    (failure,) = result.tracks[0].failures()
    assert failure.node == "ducked" and failure.error == (
        "key is 72000 frames at 48000 Hz but 'in' is 66150 frames at 44100 Hz; "
        "add a resample node before the key, or set key_mismatch: align")


def test_shorter_key_is_padded_and_noted(tmp_path: Path, loop: Path) -> None:
    from ..helpers import make_loop

    short = make_loop(tmp_path / "short.wav", seconds=1.0)
    from drumflow.node import RunContext
    from drumflow.nodes.sidechain import Gate, GateParams
    from drumflow.runner import read_input

    ctx = RunContext("g", "t", tmp_path, 1)
    x, key = read_input(loop), read_input(short)
    out = Gate().run({"in": x, "key": key}, GateParams(hold_ms=10, release_ms=10), ctx)["out"]
    assert out.frames == x.frames and out.channels == x.channels
    assert ctx.warnings == ["key is shorter than the input; padded with 22050 frames of silence to 66150 frames (1.500 s)"]
    assert np.abs(out.samples[:, int(1.3 * 44100):]).max() < 1e-3  # no key there: closed (-80 dB)


@pytest.mark.parametrize("text,message", [
    ("  d: {type: duck, in: split.cymbals}\n",
     "node 'd': input 'key' (audio) is not connected (add in: NODE.PORT, e.g. in: split.kick)"),
    ("  d: {type: duck, in: {in: split.cymbals, key: split.kick}, params: {ratio: 0.5}}\n",
     "node 'd': parameter 'ratio'"),
    ("  d: {type: gate, in: {in: split.cymbals, key: split.kick}, params: {treshold_db: -20}}\n",
     "unknown parameter 'treshold_db' (did you mean 'threshold_db'?)"),
    ("  d: {type: duck, in: {in: split.cymbals, key: split.stems}}\n",
     "'split.stems' is a stems port, but input 'key' of 'duck' takes audio"),
])
def test_validation_names_the_problem(tmp_path: Path, tiny_model: Path, text: str, message: str) -> None:
    from drumflow.graph import load_and_build

    graph = write_graph(tmp_path, f"nodes:\n  split: {{type: separate, in: drums, params: {{model: {tiny_model}}}}}\n"
                                  + text + "  out: {type: export, in: d, params: {path: '{track}/d.wav'}}\n")
    with pytest.raises((GraphError, GraphErrors)) as info:
        load_and_build(graph)
    assert message in str(info.value)


def test_registered_as_builtins() -> None:
    from drumflow.registry import BUILTINS, Registry

    reg = Registry.discover([])  # no package metadata at all: the fallback list
    assert reg.sources["duck"] == BUILTINS["duck"] == "drumflow.nodes.sidechain:Duck"
    assert reg.sources["gate"] == "drumflow.nodes.sidechain:Gate"
    text = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert 'duck = "drumflow.nodes.sidechain:Duck"' in text and 'gate = "drumflow.nodes.sidechain:Gate"' in text
