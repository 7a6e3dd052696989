"""Sample packs: layout, manifests, and the SFZ / Hydrogen kits read back by larsnet's loaders."""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumflow.dsp.onsets import onset_settings
from drumflow.dsp.slicing import Hit, StemSlices, slice_settings, slice_stem
from drumflow.packs import (
    CSV_COLUMNS,
    HYDROGEN_MAX_LAYERS,
    PackSample,
    group_toms,
    plan_kit,
    select_for_kit,
    slug,
    velocity_layers,
    write_pack,
)
from larsnet.data.loaders import load_kit
from larsnet.data.mapping import map_kit
from larsnet.stems import STEMS
from tests.drumflow.drums import SAMPLE_RATE, synthetic_stems

SR = SAMPLE_RATE


def _sliced(**overrides) -> list[StemSlices]:
    stems = synthetic_stems()
    return [slice_stem(stems[s], SR, s, onset_settings(s), replace(slice_settings(s), **overrides)) for s in STEMS]


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory):
    """The rendered groove, every hit kept (no dedupe), written as pack 'groove'."""
    folder = tmp_path_factory.mktemp("packs") / "groove"
    return write_pack(folder, "groove", _sliced(dedupe=None), source="groove_take1")


def test_layout_and_file_names(pack) -> None:
    folder = pack.folder
    for stem in STEMS:
        files = sorted(p.name for p in (folder / stem).iterdir())
        assert files and files == [f"groove_{stem}_{i:02d}.wav" for i in range(1, len(files) + 1)]
    assert {p.name for p in folder.iterdir() if p.is_file()} == {
        "groove.sfz", "drumkit.xml", "manifest.json", "manifest.csv"}
    assert not list(folder.rglob(".*.tmp"))  # atomic writes leave no temp files
    assert sorted(pack.files) == sorted(p for p in folder.rglob("*") if p.is_file())


def test_wavs_hold_the_normalised_hits(pack) -> None:
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    for row in manifest["hits"]:
        data, rate = sf.read(pack.folder / row["file"], always_2d=True)
        assert rate == SR and data.shape[1] == 2
        assert data.shape[0] / SR == pytest.approx(row["duration_s"], abs=1e-6)
        assert 20 * np.log10(np.abs(data).max()) == pytest.approx(row["peak_dbfs"], abs=0.01)
        assert sf.info(pack.folder / row["file"]).subtype == "PCM_24"


def test_manifest_json_and_csv_agree(pack) -> None:
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    with open(pack.folder / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["file"] for r in rows] == [h["file"] for h in manifest["hits"]]
    assert manifest["pack"] == "groove" and manifest["kits"] == {"sfz": "groove.sfz", "hydrogen": "drumkit.xml"}
    for row in manifest["hits"]:
        assert row["source_track"] == "groove_take1"
        assert set(row) == set(CSV_COLUMNS)
        assert 1 <= row["velocity"] <= 127 and row["loudness_lufs"] < 0 and row["in_kit"]
    assert manifest["stems"]["hihat"]["kept"] == manifest["stems"]["hihat"]["onsets"] == 14
    assert manifest["notes"] == []


def _layers(inst) -> list[tuple[int, int, int]]:
    return [(layer.lo, layer.hi, len(layer.samples)) for layer in inst.layers]


def test_sfz_and_hydrogen_kits_round_trip_through_the_loaders(pack) -> None:
    sfz = load_kit(pack.folder / "groove.sfz")
    hydrogen = load_kit(pack.folder)  # the folder: drumkit.xml wins
    assert (sfz.format, hydrogen.format) == ("sfz", "hydrogen")
    by_name = {i.name: i for i in sfz.instruments}
    assert sorted(by_name) == sorted(i.name for i in hydrogen.instruments)
    for inst in hydrogen.instruments:
        assert _layers(inst) == _layers(by_name[inst.name]), inst.name  # same samples per layer
        assert inst.midi_notes == by_name[inst.name].midi_notes
    planned = {i.name: sum(len(la.samples) for la in i.layers) for i in pack.instruments}
    assert {i.name: sum(len(la.samples) for la in i.layers) for i in sfz.instruments} == planned
    assert sum(planned.values()) == len(pack.manifest["hits"])

    expected = {"kick": "Kick", "snare": "Snare", "hihat_closed": "Hi-Hat", "crash": "Cymbal",
                "floor_tom": "Low Tom", "mid_tom": "Mid Tom", "hi_tom": "High Tom"}
    for kit in (sfz, hydrogen):
        report = map_kit(kit).report
        assert {p: report.mapped[p] for p in expected} == expected
        assert report.derived == {}


def test_kit_samples_are_the_pack_files(pack) -> None:
    kit = load_kit(pack.folder / "groove.sfz")
    kick = kit.instrument("Kick")
    written = [sf.read(pack.folder / s.file, dtype="float32", always_2d=True)[0].T
               for s in sorted((s for i in pack.instruments if i.name == "Kick" for s in i.samples),
                               key=lambda s: (s.layer, s.round_robin))]
    loaded = [a for layer in kick.layers for a in layer.samples]
    assert len(loaded) == len(written)
    for a, b in zip(loaded, written):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_toms_spread_over_gm_keys_by_pitch(pack) -> None:
    toms = {i.name: (i.key, [s.hit.onset_s for s in i.samples]) for i in pack.instruments if i.stem == "toms"}
    assert toms == {"High Tom": (50, pytest.approx([2.5], abs=0.01)), "Mid Tom": (47, pytest.approx([2.625], abs=0.01)),
                    "Low Tom": (45, pytest.approx([2.75, 2.875], abs=0.01))}


def test_velocity_layers_cover_every_velocity_once() -> None:
    velocities = [30, 35, 90, 100, 101, 127]
    layers = velocity_layers(velocities, tolerance=12)
    assert [(lo, hi) for lo, hi, _ in layers] == [(1, 62), (63, 114), (115, 127)]
    assert [sorted(velocities[i] for i in idx) for _, _, idx in layers] == [[30, 35], [90, 100, 101], [127]]
    for lo, hi, idx in layers:
        assert all(lo <= velocities[i] <= hi for i in idx)
    assert velocity_layers([64], 12) == [(1, 127, [0])]
    assert velocity_layers([], 12) == []


def _sample(velocity: int, quality: float, onset: int, stem: str = "snare", pitch_hz: float = 200.0) -> PackSample:
    t = np.arange(4410) / SR
    audio = np.stack([np.sin(2 * np.pi * pitch_hz * t) * np.exp(-t / 0.03)] * 2).astype(np.float32)
    hit = Hit(onset, onset, audio, SR, False, quality, 0.1, velocity)
    return PackSample(stem, onset, f"{stem}/x_{onset}.wav", hit)


def test_kit_selection_covers_every_velocity_layer_first() -> None:
    samples = [_sample(100, q, i) for i, q in enumerate(range(20))] + [_sample(30, 5, 100), _sample(60, 1, 101)]
    chosen = select_for_kit(samples, 4, tolerance=12)
    assert {s.hit.velocity for s in chosen} == {30, 60, 100}
    assert sorted(s.hit.isolation_db for s in chosen if s.hit.velocity == 100) == [18, 19]  # the best two
    instruments = plan_kit(samples, kit_max_samples=HYDROGEN_MAX_LAYERS)
    (snare,) = instruments
    assert sum(len(la.samples) for la in snare.layers) == HYDROGEN_MAX_LAYERS
    assert sum(s.layer is not None for s in samples) == HYDROGEN_MAX_LAYERS
    loud = snare.layers[-1]
    assert [s.round_robin for s in loud.samples] == [(i, len(loud.samples)) for i in range(1, len(loud.samples) + 1)]
    with pytest.raises(ValueError, match="Hydrogen's layer limit"):
        plan_kit(samples, kit_max_samples=17)


def test_group_toms() -> None:
    assert group_toms([100, 101, 150, 220, 222], "auto") == [0, 0, 1, 2, 2]
    assert group_toms([100, 102, 101], "auto") == [0, 0, 0]  # one drum: under 2 semitones apart
    assert group_toms([100, 102, 101], "spread") == [0, 2, 1]
    assert group_toms([100, 150, 220], "single") == [0, 0, 0]
    assert group_toms([], "auto") == []


def test_silent_stems_give_an_empty_pack_with_notes(tmp_path: Path) -> None:
    silent = [slice_stem(np.zeros((2, SR), np.float32), SR, s, onset_settings(s), slice_settings(s)) for s in STEMS]
    pack = write_pack(tmp_path / "empty", "empty", silent, source="nothing")
    assert sorted(p.name for p in pack.folder.iterdir()) == ["drumkit.xml", "empty.sfz", "manifest.csv", "manifest.json"]
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    assert manifest["hits"] == [] and len(manifest["notes"]) == len(STEMS) + 1
    assert all(manifest["stems"][s]["folder"] is None for s in STEMS)
    assert "pack is empty" in manifest["notes"][-1]
    assert (pack.folder / "manifest.csv").read_text().strip() == ",".join(CSV_COLUMNS)


def test_rewriting_a_pack_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_pack(folder, "p", _sliced(dedupe=None), source="t")
    (folder / "hihat" / "my_notes.txt").write_text("keep me")
    before = len(list((folder / "hihat").glob("*.wav")))
    second = write_pack(folder, "p", _sliced(), source="t")  # dedupe: fewer hats
    after = sorted(p.name for p in (folder / "hihat").glob("*.wav"))
    assert len(after) < before
    assert after == sorted(Path(s["file"]).name for s in second.manifest["hits"] if s["stem"] == "hihat")
    assert (folder / "hihat" / "my_notes.txt").read_text() == "keep me"


def test_never_overwrites_a_protected_file(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="is an input file"):
        write_pack(folder, "p", [], source="t", protected=[folder / "manifest.json"])


def test_slug() -> None:
    assert slug("My Take #3 (live)") == "My_Take_3_live"
    assert slug("../..") == "pack"
