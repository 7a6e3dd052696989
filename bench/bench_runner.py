"""Runner overhead and cached re-runs, for graphs/remix.yaml.

    python bench/bench_runner.py                  # default model if installed, else a tiny random one
    python bench/bench_runner.py --model path/to/model.pt --seconds 30 --repeats 5

Prints medians of several runs:

1. overhead: drumflow running remix.yaml (load + validate + run + manifest, in-process,
   no cache and with a fresh cache) vs a hand-written script calling the same library
   functions (larsnet read/separate/write, pedalboard chains, the same mix) — target <= 1.05;
2. cached re-run after changing one compressor threshold (``--set
   kick_fx.chain.1.threshold_db=...``) as a fraction of the first (uncached) run — target <= 0.10.

The model is loaded once before timing in both cases (a process-wide cache in either).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "graphs" / "remix.yaml"


def make_input(folder: Path, seconds: float) -> Path:
    import soundfile as sf

    demo = REPO / "drumflow" / "demo" / "demo_loop.wav"
    if demo.exists() and seconds <= 0:
        return demo
    rng = np.random.default_rng(0)
    rate = 44100
    n = int(max(seconds, 1.0) * rate)
    out = np.zeros((n, 2), np.float32)
    t = np.arange(int(0.3 * rate)) / rate
    for start in range(0, n, int(0.25 * rate)):
        hit = (rng.standard_normal(t.size) * 0.3 + np.sin(2 * np.pi * rng.uniform(50, 300) * t)) * np.exp(-t * 20)
        stop = min(n, start + t.size)
        out[start:stop] += (hit[: stop - start, None] * np.array([0.8, 0.6])).astype(np.float32)
    path = folder / "bench_loop.wav"
    sf.write(path, np.clip(out * 0.5, -1, 1), rate)
    return path


def resolve_model(arg: str | None, folder: Path) -> tuple[str, str]:
    if arg:
        return arg, arg
    from larsnet.checkpoint import DEFAULT_MODEL_PATH

    if Path(DEFAULT_MODEL_PATH).exists():
        return "default", "default (embedded)"
    import torch
    from larsnet.checkpoint import save_model
    from larsnet.model import LarsNet, ModelConfig

    torch.manual_seed(0)
    path = folder / "tiny.pt"
    save_model(LarsNet(ModelConfig(arch_params={"width": 2})), path, license="bench")
    return str(path), "tiny random (width 2) — the default model is not installed; overhead looks larger than it is"


def direct_script(song: Path, out: Path, model: str, threshold_db: float = -18.0) -> None:
    """remix.yaml written by hand: the library calls a user would make without drumflow."""
    import pedalboard as pb
    from larsnet.audio import read_audio, write_audio

    from drumflow.nodes.separate import _separator  # the same per-process model cache

    audio, _ = read_audio(song, sample_rate=44100)
    stems = _separator(model, "cpu").separate(audio, wiener=None)
    rate = 44100
    chains = {
        "kick": [pb.HighpassFilter(30), pb.Compressor(threshold_db=threshold_db, ratio=4, attack_ms=10, release_ms=120),
                 pb.LowShelfFilter(80, 2)],
        "snare": [pb.HighpassFilter(80), pb.Compressor(threshold_db=-20, ratio=3, attack_ms=5, release_ms=100),
                  pb.Reverb(room_size=0.3, wet_level=0.15, dry_level=0.85)],
        "toms": [pb.PeakFilter(5000, 2, 1.0)],
        "hihat": [pb.HighpassFilter(300), pb.HighShelfFilter(8000, -2)],
        "cymbals": [pb.HighpassFilter(200)],
    }
    gains = {"kick": 2, "hihat": -3, "cymbals": -2}
    pans = {"hihat": -0.3, "cymbals": 0.2}
    mix = np.zeros_like(stems["kick"])
    for name, chain in chains.items():
        y = pb.Pedalboard(chain)(stems[name], rate)
        g = 10 ** (gains.get(name, 0) / 20)
        angle = (pans.get(name, 0.0) + 1) * np.pi / 4
        mix[0] += y[0] * g * np.sqrt(2) * np.cos(angle)
        mix[1] += y[1] * g * np.sqrt(2) * np.sin(angle)
    master = pb.Pedalboard([pb.Compressor(threshold_db=-12, ratio=2, attack_ms=20, release_ms=200),
                            pb.Limiter(threshold_db=-1, release_ms=100)])(mix, rate)
    write_audio(out / song.stem / "remix.wav", master, rate, bit_depth=24)


def drumflow_run(song: Path, out: Path, model: str, cache: Path | None, extra: tuple[str, ...] = ()) -> dict:
    from drumflow.graph import build_graph
    from drumflow.runner import RunOptions, run_graph
    from drumflow.spec import load_graph
    from drumflow.tracks import Track

    graph = build_graph(load_graph(GRAPH, (f"split.model={model}",) + extra))
    result = run_graph(graph, [Track(song.stem, song)], RunOptions(out, cache))
    assert result.ok, result.manifest
    return result.manifest


def timed(fn, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model spec (default: the embedded model, else a tiny random one)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the generated input (0 = demo loop)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="drumflow-bench-"))
    try:
        song = make_input(work, args.seconds)
        model, model_label = resolve_model(args.model, work)
        import soundfile as sf

        print(f"input: {song.name}, {sf.info(str(song)).duration:.1f} s; model: {model_label}; "
              f"repeats: {args.repeats} (medians)")
        drumflow_run(song, work / "warm", model, None)  # load the model, import everything
        direct_script(song, work / "warm", model)

        direct, plain, first, rerun = [], [], [], []
        for i in range(args.repeats):
            direct.append(timed(direct_script, song, work / f"d{i}", model))
            plain.append(timed(drumflow_run, song, work / f"p{i}", model, None))
            cache = work / f"cache{i}"
            first.append(timed(drumflow_run, song, work / f"c{i}", model, cache))
            rerun.append(timed(drumflow_run, song, work / f"c{i}", model, cache,
                               (f"kick_fx.chain.1.threshold_db={-20 - i}",)))
        med = statistics.median
        print(f"direct script               {med(direct):8.3f} s")
        print(f"drumflow run, --no-cache    {med(plain):8.3f} s   ratio {med(plain) / med(direct):.3f}  (target <= 1.05)")
        print(f"drumflow run, fresh cache   {med(first):8.3f} s   ratio {med(first) / med(direct):.3f}")
        print(f"cached re-run, 1 threshold  {med(rerun):8.3f} s   fraction of first run "
              f"{med(rerun) / med(first):.3f}  (target <= 0.10)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
