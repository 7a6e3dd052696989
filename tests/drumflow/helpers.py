"""Plain helpers for the drumflow tests (shared by the test modules)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

def make_loop(path: Path, seconds: float = 1.5, rate: int = 44100, seed: int = 0, channels: int = 2) -> Path:
    """A short drum-like loop: decaying low sine 'kicks' and noise 'hats'."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    beat = (t % 0.25) / 0.25
    kick = 0.5 * np.sin(2 * np.pi * 55 * t) * np.exp(-beat * 12)
    hats = 0.1 * rng.standard_normal(n) * np.exp(-((t + 0.125) % 0.25) * 60)
    mono = (kick + hats).astype(np.float32)
    data = np.stack([mono, np.roll(mono, 7)] if channels == 2 else [mono], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, rate)
    return path


def write_graph(folder: Path, text: str, name: str = "graph.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


SMALL_REMIX = """
nodes:
  split: {type: separate, in: drums, params: {model: MODEL}}
  kick_fx: {type: fx, in: split.kick, params: {chain: [{plugin: Compressor, threshold_db: -18, ratio: 4}]}}
  snare_fx: {type: fx, in: split.snare, params: {chain: [{plugin: Gain, gain_db: -2}]}}
  mix: {type: mix, in: {kick: kick_fx, snare: snare_fx}}
  master: {type: fx, in: mix, params: {chain: [{plugin: Limiter, threshold_db: -1}]}}
  out: {type: export, in: master, params: {path: "{track}/mix.wav", bit_depth: 16}}
"""


def run_file(graph_path: Path, tracks: list[Path], out: Path, overrides: tuple[str, ...] = (), *,
             cache: bool = True, keep_going: bool = True, registry=None, executor=None):
    """Load, validate and run a graph file in-process; returns the RunResult."""
    from drumflow.cache import default_root
    from drumflow.graph import build_graph
    from drumflow.runner import RunOptions, run_graph
    from drumflow.spec import load_graph
    from drumflow.tracks import Track

    graph = build_graph(load_graph(graph_path, overrides), registry)
    options = RunOptions(out, default_root(out) if cache else None, keep_going=keep_going)
    return run_graph(graph, [Track(p.stem, p) for p in tracks], options, executor=executor)


def statuses(result, track: int = 0) -> dict[str, str]:
    return {n.node: n.status for n in result.tracks[track].nodes}


from drumflow.node import NodeType, Params, Port  # noqa: E402
from drumflow.ports import AUDIO  # noqa: E402


class BoomParams(Params):
    fail: bool = True


class Boom(NodeType):
    """A node that fails on demand (a stand-in for a crashing plugin)."""

    name = "boom"
    description = "Fails when fail is true, else passes audio through."
    Params = BoomParams
    inputs = (Port("in", AUDIO),)
    outputs = (Port("out", AUDIO),)

    def run(self, inputs, params, ctx):
        if params.fail:
            raise ValueError("boom: the plugin crashed")
        return {"out": inputs["in"]}


def registry_with_boom():
    from importlib.metadata import EntryPoint

    from drumflow.registry import Registry

    return Registry.discover([EntryPoint("boom", "tests.drumflow.helpers:Boom", "drumflow.nodes")])


class FakeSeparator:
    """Stands in for a LarsNet Separator where only the plumbing is under test (fast).

    Stem i is the input scaled by (i + 1) / 15, times the Wiener exponent if given, so
    different params give different, deterministic outputs. The spatial filter's settings are
    recorded in :attr:`spatial` and otherwise ignored.
    """

    sample_rate = 44100
    stems = ("kick", "snare", "toms", "hihat", "cymbals")
    calls = 0
    spatial: dict = {}

    def separate(self, audio, *, wiener=None, mode="overlap", progress=None, **spatial):
        FakeSeparator.calls += 1
        FakeSeparator.spatial = spatial
        scale = 1.0 if wiener is None else float(wiener)
        return {s: (audio * np.float32((i + 1) / 15 * scale)).astype(np.float32) for i, s in enumerate(self.stems)}
