"""Benchmark: the MIDI drum sampler and the on-the-fly training dataset, on one core.

Prints
  * the real-time factor of :func:`larsnet.data.sampler.render` (audio seconds rendered
    per second, higher is faster; target >= 200) for full GMD performances: the
    median-length training beat, and the whole of a fixed sample of 20 training
    performances; medians of several runs, with each kit asked for;
  * the throughput of :class:`OnTheFlyDataset` (seconds of training audio produced per
    second) with and without augmentation, and the time to read the MIDI.
Kits come from discovery (Debian kits) when available, else a generated kit. The
process is pinned to one CPU and numeric libraries to one thread.

    python bench/bench_sampler.py [--kits "The Black Pearl 1.0,ForzeeStereo"] [--repeats 5]
        [--examples 60] [--gmd PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import statistics
import time

import numpy as np


def pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def load_kits(names: list[str]):
    from larsnet.data.synthetic import make_synthetic_kit

    try:
        from larsnet.data import discovery

        found = {e.name for e in discovery.find_kits()}
        kits = [discovery.get_kit(n) for n in names if n in found]
        missing = [n for n in names if n not in found]
        if missing:
            print(f"  kits not found (skipped): {', '.join(missing)}")
        if kits:
            return kits
    except Exception as exc:  # noqa: BLE001 - the bench must run without the kit packages
        print(f"  discovery unavailable ({type(exc).__name__}: {exc})")
    print("  using a generated kit (install the Debian kits for real figures)")
    return [make_synthetic_kit("generated", layers=4, round_robin=3)]


def rtf(perf, kit, repeats: int) -> float:
    from larsnet.data.sampler import render

    render(perf, kit)  # warm-up: kit tables, page cache
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = render(perf, kit)
        times.append(time.perf_counter() - t)
    return out.n_samples / 44_100 / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kits", default="The Black Pearl 1.0,ForzeeStereo,BJA_Pacific,AVL Red Zeppelin 4pc")
    parser.add_argument("--train-kits", default="The Black Pearl 1.0,BJA_Pacific,ColomboAcousticDrumkit,"
                        "Millo_MultiLayered2,rumpf_kit_z01_h2,Audiophob")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--gmd", default=None)
    args = parser.parse_args()

    from larsnet.data.dataset import NO_AUGMENTATION, Augmentation, OnTheFlyDataset, load_performances
    from larsnet.data.gmd import read_gmd
    from larsnet.data.midi import read_drum_midi

    print(f"sampler benchmark, {pin_one_core()}, numpy {np.__version__}")
    train = read_gmd(args.gmd, split="train")
    beats = sorted((r for r in train if r.beat_type == "beat"), key=lambda r: r.duration)
    median_beat = beats[len(beats) // 2]
    sample = [train[i] for i in np.random.default_rng(0).choice(len(train), 20, replace=False)]
    perf = read_drum_midi(median_beat.midi_path)
    perfs = [read_drum_midi(r.midi_path) for r in sample]
    total_s = sum(p.duration_s for p in perfs)
    print(f"performance: {median_beat.midi_filename} ({perf.duration_s:.1f} s, {len(perf.hits)} hits); "
          f"sample: 20 training performances, {total_s:.0f} s, {sum(len(p.hits) for p in perfs)} hits")

    print("\nrender() real-time factor (x real time, median of runs; target >= 200):")
    for kit in load_kits([k.strip() for k in args.kits.split(",") if k.strip()]):
        one = rtf(perf, kit, args.repeats)
        t0 = time.perf_counter()
        rendered = 0.0
        for p in perfs:
            from larsnet.data.sampler import render

            rendered += render(p, kit).n_samples / 44_100
        many = rendered / (time.perf_counter() - t0)
        print(f"  {kit.name:<24} median beat {one:7.0f}x   20 performances {many:7.0f}x")

    print("\nOnTheFlyDataset throughput (seconds of audio per second, one core):")
    t0 = time.perf_counter()
    _, train_perfs = load_performances(train)
    print(f"  reading {len(train_perfs)} training MIDI files: {time.perf_counter() - t0:.1f} s (once per run)")
    kits = load_kits([k.strip() for k in args.train_kits.split(",") if k.strip()])
    for label, aug in (("paper augmentation (half the examples)", Augmentation()),
                       ("no augmentation", NO_AUGMENTATION),
                       ("every example augmented", Augmentation(p_example=1.0))):
        ds = OnTheFlyDataset(train_perfs, kits, seed=0, augmentation=aug)
        ds[0]
        t0 = time.perf_counter()
        for i in range(1, args.examples + 1):
            ds[i]
        elapsed = time.perf_counter() - t0
        seconds = args.examples * ds.segment_samples / 44_100
        print(f"  {label:<40} {seconds / elapsed:7.0f} s/s  ({1000 * elapsed / args.examples:.1f} ms per "
              f"{ds.segment_samples / 44_100:.2f} s example, {len(kits)} kits)")


if __name__ == "__main__":
    main()
