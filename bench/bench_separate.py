"""Benchmark: full LarsNet (random weights) on this machine, file to files.

Prints, for 60 s of stereo audio (override with --seconds):
  * real-time factor (separation time / audio duration; lower is faster) and speed (x RT),
  * peak RSS of a process that does nothing else,
  * the ratio of the whole separation time (read, resample, STFT, five U-Nets, iSTFT,
    write five 16-bit files) to the time of the five U-Net forward passes alone over
    the same audio (the floor: non-overlapping chunks, no STFT, no I/O). Target <= 1.15.
and, with --long-minutes (default 10), the RTF and peak RSS for a file of that length;
with --spatial-iterations N, also the separation with N rounds of the multichannel Wiener
filter below --spatial-max-hz (the CLI's default: 2 rounds below 1378.125 Hz; 22050 filters every
bin) and its time over the plain separation's, run by run.
Each measurement runs in a fresh subprocess so peak RSS is its own; timings are medians.

    python bench/bench_separate.py [--seconds 60] [--repeats 3] [--long-minutes 10] [--model default|PATH]
                                   [--spatial-iterations 2] [--spatial-max-hz 1378.125]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def drum_audio(seconds: float, rate: int = 44_100, seed: int = 0) -> np.ndarray:
    """Decaying noise and tone bursts every 125 ms: (frames, 2) float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros((n, 2), np.float32)
    t = np.arange(int(0.3 * rate)) / rate
    for start in range(0, n, int(0.125 * rate)):
        hit = (rng.standard_normal(t.size) * 0.3 + np.sin(2 * np.pi * rng.uniform(50, 300) * t)) * np.exp(-t * 20)
        stop = min(n, start + t.size)
        out[start:stop] += (hit[: stop - start, None] * np.array([0.5, 0.4])).astype(np.float32)
    return np.clip(out, -1, 1)


def build_model(spec: str):
    import torch

    from larsnet.checkpoint import resolve_model
    from larsnet.model import LarsNet, ModelConfig

    if spec == "random":
        torch.manual_seed(0)
        return LarsNet(ModelConfig()).eval()
    return resolve_model(spec)


def child(mode: str, path: str, spec: str, spatial_iterations: int = 0, spatial_max_hz: float = 1378.125) -> dict:
    """One measurement in this (fresh) process; prints JSON."""
    import torch

    from larsnet.batch import SeparateOptions, find_audio_files, plan_outputs, separate_file
    from larsnet.separator import Separator

    model = build_model(spec)
    separator = Separator(model)
    info = sf.info(path)
    if mode == "forward":
        # the floor: the network on the file's spectrogram frames, non-overlapping chunks,
        # laid out as torch.stft returns them; band models stop at their band masks (the
        # separator never forms bin masks for them)
        frames = separator.stft.frames(info.frames)
        chunk = 1024
        mag = torch.rand(1, 2, chunk, model.config.n_bins).transpose(-1, -2)
        predict = model.band_masks if model.band_interpolation is not None else model.masks
        with torch.inference_mode():
            predict(mag[..., :64])  # warm-up
            start = time.perf_counter()
            for begin in range(0, frames, chunk):
                size = min(chunk, frames - begin)
                size = -(-size // model.time_multiple) * model.time_multiple
                predict(mag[..., :size])
            elapsed = time.perf_counter() - start
    else:
        with tempfile.TemporaryDirectory() as out:
            options = SeparateOptions(out_dir=Path(out), wiener=1.0 if mode == "spatial" else None,
                                      spatial_iterations=spatial_iterations if mode == "spatial" else 0,
                                      spatial_max_hz=spatial_max_hz)
            found = find_audio_files([path])
            job = plan_outputs(found.files, options.out_dir, separator.stems).jobs[0]
            with torch.inference_mode():
                model.masks(torch.rand(1, 2, model.config.n_bins, 64))  # warm-up, as above
            start = time.perf_counter()
            separate_file(job, separator, options)
            elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "seconds": elapsed, "audio_s": info.frames / info.samplerate, "peak_rss_mb": peak_mb}


def measure(mode: str, path: Path, spec: str, spatial_iterations: int = 0, spatial_max_hz: float = 1378.125) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), "--model", spec,
                          "--spatial-iterations", str(spatial_iterations), "--spatial-max-hz", str(spatial_max_hz)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-minutes", type=float, default=10.0, help="0 to skip the long-file run")
    parser.add_argument("--model", default="random", help="'random' (full LarsNet), 'default' or a model path")
    parser.add_argument("--spatial-iterations", type=int, default=0,
                        help="also time separation with this many multichannel Wiener rounds (0: skip)")
    parser.add_argument("--spatial-max-hz", type=float, default=1378.125,
                        help="the filter's top frequency (22050: every bin)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.model, args.spatial_iterations,
                               args.spatial_max_hz)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "bench.wav"
        sf.write(short, drum_audio(args.seconds), 44_100, subtype="PCM_16")
        runs: dict[str, list[dict]] = {"forward": [], "separate": []}
        if args.spatial_iterations:
            runs["spatial"] = []
        for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
            for mode in runs:
                runs[mode].append(measure(mode, short, args.model, args.spatial_iterations, args.spatial_max_hz))
        fwd = statistics.median(r["seconds"] for r in runs["forward"])
        sep = statistics.median(r["seconds"] for r in runs["separate"])
        ratios = [s["seconds"] / f["seconds"] for s, f in zip(runs["separate"], runs["forward"])]
        print(f"model: {args.model}; {args.seconds:.0f} s stereo 44.1 kHz; medians of {args.repeats} runs")
        print(f"  separation (file -> 5 files): {sep:.2f} s  RTF {sep / args.seconds:.3f}  ({args.seconds / sep:.1f}x real time)")
        print(f"  network forwards alone:       {fwd:.2f} s  RTF {fwd / args.seconds:.3f}")
        print(f"  ratio whole / forwards:       {sep / fwd:.3f} (median of medians); per run {', '.join(f'{r:.3f}' for r in ratios)}")
        print(f"  peak RSS separation: {max(r['peak_rss_mb'] for r in runs['separate']):.0f} MB")
        if args.spatial_iterations:
            spatial = statistics.median(r["seconds"] for r in runs["spatial"])
            over = [a["seconds"] / b["seconds"] for a, b in zip(runs["spatial"], runs["separate"])]
            print(f"  with {args.spatial_iterations} spatial Wiener rounds below {args.spatial_max_hz:g} Hz (-w 1): {spatial:.2f} s"
                  f"  ({args.seconds / spatial:.1f}x real time); over plain separation, per run "
                  f"{', '.join(f'{r:.2f}' for r in over)}; peak RSS {max(r['peak_rss_mb'] for r in runs['spatial']):.0f} MB")
        if args.long_minutes:
            long = Path(tmp) / "long.wav"
            sf.write(long, drum_audio(args.long_minutes * 60, seed=1), 44_100, subtype="PCM_16")
            for mode in ("separate", "spatial") if args.spatial_iterations else ("separate",):
                result = measure(mode, long, args.model, args.spatial_iterations, args.spatial_max_hz)
                label = "" if mode == "separate" else f" with the filter ({args.spatial_iterations} rounds)"
                print(f"  {args.long_minutes:.0f}-minute file{label}: {result['seconds']:.1f} s  RTF "
                      f"{result['seconds'] / result['audio_s']:.3f}  peak RSS {result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
