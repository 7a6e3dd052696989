"""A small StemGMD-style folder rendered by our own synth: two performances x two kits."""
from __future__ import annotations

from pathlib import Path

import pytest

from larsnet.data.gmd import GmdRecord
from larsnet.data.synth import synthesize
from larsnet.data.synthetic import make_synthetic_kit

from tests.larsnet.data.builders import write_midi

# four bars of kick/snare/hats with a tom fill in bar 2, at 120 bpm (2 s per bar)
NOTES = [(float(b), 36 if b % 2 == 0 else 38, 100) for b in range(16)] + [(b + 0.5, 42, 70) for b in range(16)]
TOM_FILL = [(4.0 + 0.25 * i, (48, 45, 43)[i % 3], 90) for i in range(8)]


def record(midi_root: Path, drummer: str, name: str, split: str) -> GmdRecord:
    return GmdRecord(drummer=drummer, session=f"{drummer}/eval_session", id=f"{drummer}/eval_session/{name}",
                     style="rock", bpm=120, beat_type="beat", time_signature="4-4",
                     midi_filename=f"{drummer}/eval_session/{name}.mid", duration=8.0, split=split, root=midi_root)


@pytest.fixture(scope="session")
def stem_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``drummer{1,2}/eval_session/<perf>/{forzeestereo,train_kit}/<piece>.wav`` + metadata.csv.

    drummer1's performance (test split) has a tom fill, drummer2's (validation) none.
    """
    base = tmp_path_factory.mktemp("stems")
    midi_root = base / "midi"
    write_midi(midi_root / "drummer1/eval_session/1_rock_120_beat_4-4.mid", NOTES + TOM_FILL)
    write_midi(midi_root / "drummer2/eval_session/2_rock_120_beat_4-4.mid", NOTES)
    records = [record(midi_root, "drummer1", "1_rock_120_beat_4-4", "test"),
               record(midi_root, "drummer2", "2_rock_120_beat_4-4", "validation")]
    kits = [make_synthetic_kit("ForzeeStereo", length_scale=0.3),
            make_synthetic_kit("Train Kit", seed=1, length_scale=0.3, pitch_offset_semitones=3)]
    report = synthesize(records, kits, base / "data", tail_s=0.5)
    assert report.ok and report.rendered == 4
    return base / "data"
