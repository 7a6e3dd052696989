from pathlib import Path

import numpy as np
import pytest

from larsnet.data.kit import Instrument, Kit, VelocityLayer
from larsnet.data.kitinfo import InstrumentInfo
from larsnet.data.mapping import format_report, map_kit, plan_mapping, summarize
from larsnet.data.naming import classify, words
from larsnet.errors import KitError
from larsnet.stems import PIECES, SAMPLE_RATE


def infos(*specs) -> list[InstrumentInfo]:
    """("Name", note, ...) or "Name" -> InstrumentInfo list."""
    out = []
    for spec in specs:
        name, *notes = spec if isinstance(spec, tuple) else (spec,)
        out.append(InstrumentInfo(name=name, midi_notes=tuple(notes)))
    return out


def mapped(instruments, mapping=None) -> dict[str, str]:
    return plan_mapping(instruments, mapping, kit_name="k").report.mapped


def sine_kit(names_notes: list[tuple[str, tuple[int, ...]]], seconds: float = 0.1) -> Kit:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = np.stack([np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32)
    return Kit(name="k", source="k.xml", instruments=[
        Instrument(name=n, layers=[VelocityLayer(1, 127, [wave])], midi_notes=notes) for n, notes in names_notes])


@pytest.mark.parametrize("name, expected", [
    ("SabianRockHatCl", ("sabian", "rock", "hat", "cl")),
    ("tomhi2", ("tom", "hi", "2")),
    ("closehihat3", ("close", "hihat", "3")),
    ("c3 - bass drum 1", ("c", "3", "bass", "drum", "1")),
])
def test_words(name: str, expected: tuple[str, ...]):
    assert words(name) == expected


@pytest.mark.parametrize("name, piece", [
    ("Pearl Kick", "kick"), ("BD_01", "kick"), ("Snare Jazz", "snare"), ("Hi-Hat Closed (Paiste 14\")", "hihat_closed"),
    ("HHOpen", "hihat_open"), ("drum_cymbal_closed", "hihat_closed"), ("Crash Left", "crash"), ("Paiste Ride", "ride"),
])
def test_names_vote_for_pieces(name: str, piece: str):
    votes = classify(name)
    assert max(votes.pieces, key=votes.pieces.get) == piece


@pytest.mark.parametrize("name", ["Cowbell", "Hand Clap", "Stick", "Djembe1 Bass", "Tambourine"])
def test_other_percussion_is_never_a_piece(name: str):
    assert classify(name).other


def test_black_pearl_style_names_without_notes():
    kit = infos("Pearl Kick", "Pearl Side Stick", "Pearl Snare", "Pearl Snare Rimshot", "Pearl Tom Floor",
                "Sabian Hat Closed", "Pearl Tom 2", "Sabian Hat Pedal", "Pearl Tom 1", "Sabian Hat Semi-Open",
                "Sabian Hat Open", "Sabian Hat Choke", "Cowbell", "Paiste Ride", "Paiste Bell", "Sabian Crash",
                "Sabian Crash Flink")
    assert mapped(kit) == {
        "kick": "Pearl Kick", "snare": "Pearl Snare", "hi_tom": "Pearl Tom 1", "mid_tom": "Pearl Tom 2",
        "floor_tom": "Pearl Tom Floor", "hihat_closed": "Sabian Hat Closed", "hihat_open": "Sabian Hat Open",
        "crash": "Sabian Crash", "ride": "Paiste Ride"}


def test_gm_notes_map_unnamed_instruments():
    kit = infos(*[(f"note {n}", n) for n in (35, 36, 38, 40, 41, 42, 43, 45, 46, 47, 48, 49, 50, 51, 57, 59)])
    assert mapped(kit) == {
        "kick": "note 36", "snare": "note 38", "hi_tom": "note 50", "mid_tom": "note 47", "floor_tom": "note 43",
        "hihat_closed": "note 42", "hihat_open": "note 46", "crash": "note 49", "ride": "note 51"}


def test_names_beat_non_standard_notes():
    """AVL style: a hi-hat swish on 48 (a GM tom note) and a crash choke on 50."""
    kit = infos(("Pearl22Kick", 36), ("PearlSnare", 38), ("Pearl16FloorTom (41)", 41), ("SabianRockHatCl", 42),
                ("Pearl16FloorTom (43)", 43), ("Pearl12Tom", 45), ("SabianRockHatSe", 46), ("Pearl12TomEdge", 47),
                ("SabianRockHatSw", 48), ("ZildjianA20Cras", 49), ("ZildjianA20CrashC", 50), ("SabianAAX20Ride", 51))
    plan = plan_mapping(kit, kit_name="avl")
    report = plan.report
    assert report.mapped["crash"] == "ZildjianA20Cras" and report.mapped["hihat_open"] == "SabianRockHatSe"
    assert report.mapped["floor_tom"] == "Pearl16FloorTom (41)"  # one floor tom on two keys counts once
    assert report.mapped["mid_tom"] == "Pearl12Tom"
    assert report.derived == {"hi_tom": "Pearl12Tom +3 semitones"}
    assert "SabianRockHatSw" in report.unused


def test_tom_heights_from_words_fluid_style():
    kit = infos("Kick", "Snare", ("Low Flr Studio", 41), ("Flr Studio", 43), ("Low Studio", 45), ("Md Studio", 47),
                ("MdHi Studio", 48), ("Hi Studio", 50))
    assert {p: n for p, n in mapped(kit).items() if p.endswith("_tom")} == {
        "floor_tom": "Flr Studio", "mid_tom": "Md Studio", "hi_tom": "Hi Studio"}


def test_overrides_dict_list_note_and_null():
    kit = infos("Kick", "Snare", ("Tom A", 48), ("Tom B", 45), ("Tom C", 43), "Hat", "Crash 1", "Crash 2", "Ride")
    plan = plan_mapping(kit, {"hi_tom": "tom b", "mid_tom": 48, "crash": ["Crash 9", "Crash 2"], "ride": None},
                        kit_name="k")
    assert plan.report.mapped["hi_tom"] == "Tom B" and plan.report.mapped["mid_tom"] == "Tom A"
    assert plan.report.mapped["crash"] == "Crash 2" and plan.report.mapped["floor_tom"] == "Tom C"
    assert "ride" in plan.report.missing and "ride left silent by the mapping" in plan.report.notes


def test_override_from_yaml_file(tmp_path: Path):
    path = tmp_path / "map.yaml"
    path.write_text('kick: "Pearl Kick"\nsnare: Weird Name\n')
    kit = infos("Pearl Kick", "Weird Name", "Other Snare")
    assert mapped(kit, path) == {"kick": "Pearl Kick", "snare": "Weird Name"}


@pytest.mark.parametrize("mapping, message", [
    ({"hitom": "Tom"}, r"mapping: unknown piece 'hitom'; did you mean 'hi_tom'\?"),
    ({"hi_tom": "Nope"}, r"mapping: hi_tom: no instrument 'Nope' in kit 'k' \(instruments: Kick, Snare\)"),
    ({"hi_tom": 3.5}, r"hi_tom: expected an instrument name, a MIDI note or a list of them"),
    (["kick"], r"a mapping must be a dict of piece: instrument name"),
])
def test_bad_overrides(mapping, message: str):
    with pytest.raises(KitError, match=message):
        plan_mapping(infos("Kick", "Snare"), mapping, kit_name="k")


def test_bad_yaml_reports_line_and_column(tmp_path: Path):
    path = tmp_path / "map.yaml"
    path.write_text("kick: Kick\nsnare: [unclosed\n")
    with pytest.raises(KitError, match=r"map.yaml: line 3, column 1: .*a mapping file looks like"):
        plan_mapping(infos("Kick", "Snare"), path)


def test_missing_mapping_file(tmp_path: Path):
    with pytest.raises(KitError, match=r"nope.yaml: cannot read mapping file"):
        plan_mapping(infos("Kick"), tmp_path / "nope.yaml")


def test_third_tom_is_pitch_shifted_from_a_neighbour():
    kit = sine_kit([("Kick", (36,)), ("Snare", (38,)), ("Tom Hi", ()), ("Tom Floor", ())])
    result = map_kit(kit)
    assert set(result.pieces) == {"kick", "snare", "hi_tom", "mid_tom", "floor_tom"}
    assert result.report.derived == {"mid_tom": "Tom Hi -3 semitones"}
    source = result.pieces["hi_tom"].layers[0].samples[0]
    derived = result.pieces["mid_tom"].layers[0].samples[0]
    assert derived.shape[1] == pytest.approx(source.shape[1] * 2 ** (3 / 12), rel=0.01)  # lower = longer
    assert result.report.missing == ["hihat_closed", "hihat_open", "crash", "ride"]
    assert list(result.pieces) == [p for p in PIECES if p in result.pieces]


def test_one_tom_fills_both_others():
    result = map_kit(sine_kit([("Kick", ()), ("Snare", ()), ("Tom", (45,))]))
    assert result.report.mapped["mid_tom"] == "Tom"
    assert result.report.derived == {"floor_tom": "Tom -3 semitones", "hi_tom": "Tom +3 semitones"}


@pytest.mark.parametrize("names, piece", [
    (["Snare", "Tom", "Cowbell"], "kick"),
    (["Kick", "Tom", "Hand Clap"], "snare"),
])
def test_no_kick_or_snare_is_an_error(names: list[str], piece: str):
    kit = sine_kit([(n, ()) for n in names])
    with pytest.raises(KitError, match=rf"k.xml: kit 'k' maps no {piece}: .* e.g. `{piece}: \"<instrument>\"`"):
        map_kit(kit)


def test_a_piece_needing_a_broken_instrument_is_an_error():
    kit = sine_kit([("Kick", ()), ("Cowbell", ())])
    kit.broken = {"Snare": ["snare.wav"]}
    with pytest.raises(KitError, match=r"the snare would be instrument 'Snare', whose samples are missing or unreadable: snare.wav"):
        map_kit(kit)
    kit.broken = {"Gong": ["gong.wav"]}
    kit.instruments.append(sine_kit([("Snare", ())]).instruments[0])
    assert "Gong" not in map_kit(kit).report.unused


def test_report_formatting():
    report = plan_mapping(infos("Kick", "Snare", "Tom", "Cowbell"), kit_name="k").report
    text = format_report(report)
    assert "kick          <- Kick" in text and "hi_tom        <- Tom" in text  # a lone rack tom is high
    assert "mid_tom       <- derived: Tom -3 semitones" in text and "floor_tom     <- derived: Tom -6 semitones" in text
    assert "crash         -- missing" in text and "unused: Cowbell" in text
    assert summarize(report) == "5/9 (2 derived) -hihat_closed -hihat_open -crash -ride"
