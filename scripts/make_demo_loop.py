"""Render the bundled demo loop: a Groove MIDI performance through a CC0 kit.

The loop is what every example graph runs on when no input is given. It is made by
our own sampler so the repository ships no third-party recording: Groove MIDI Dataset
performance (CC BY 4.0, Gillick et al. 2019) x the Audiophob Hydrogen kit (CC0). We
pick the window of a GMD test-split performance where all five stems play, so every
stem of the demo separation has something in it.

    python scripts/make_demo_loop.py [--gmd ../shared/data/groove-midi] [--out drumflow/demo/demo_loop.flac]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from larsnet.data.discovery import get_kit
from larsnet.data.gmd import read_gmd
from larsnet.data.midi import read_drum_midi
from larsnet.data.sampler import render
from larsnet.stems import SAMPLE_RATE, STEM_OF_PIECE, STEMS

KIT = "Audiophob"
SECONDS = 16.0


def best_window(root: Path) -> tuple[str, float]:
    """The test-split performance window (SECONDS long) where the rarest stem plays most."""
    best = (-1, "", 0.0)
    for record in read_gmd(root, split="test"):
        if record.beat_type != "beat" or record.duration < SECONDS + 2:
            continue
        perf = read_drum_midi(root / record.midi_filename)
        for start in np.arange(0.0, perf.duration_s - SECONDS, 2.0):
            counts = dict.fromkeys(STEMS, 0)
            for hit in perf.hits:
                if start <= hit.time_s < start + SECONDS:
                    counts[STEM_OF_PIECE[hit.piece]] += 1
            score = min(counts.values())
            if score > best[0]:
                best = (score, record.midi_filename, float(start))
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gmd", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/groove-midi")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "drumflow/demo/demo_loop.flac")
    args = parser.parse_args()
    midi, start = best_window(args.gmd)
    perf = read_drum_midi(args.gmd / midi)
    rendered = render(perf, get_kit(KIT), start_s=start, duration_s=SECONDS, seed=0)
    mix = rendered.mix
    mix = mix / np.abs(mix).max() * 10 ** (-1 / 20)  # peak -1 dBFS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(args.out, mix.T, SAMPLE_RATE, subtype="PCM_16")
    print(f"{args.out}: {midi} from {start:.1f} s, {SECONDS:.0f} s, kit {KIT}")


if __name__ == "__main__":
    main()
