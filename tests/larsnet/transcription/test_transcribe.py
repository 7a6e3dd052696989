"""transcribe() on drum audio rendered from MIDI written here: onsets, pieces, velocities, bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from larsnet.errors import OptionError
from larsnet.stems import STEMS
from larsnet.transcription import Note, TranscriptionSettings, transcribe, transcribe_stem
from larsnet.transcription.classify import crashes, open_hihats, tom_classes
from larsnet.transcription.evaluation import score_notes
from larsnet.transcription.notes import PIECE_PITCH

from .conftest import Rendered, render_midi

# Measured on the groove of conftest.py (true stems, generated kit): 1.0 for every stem
# but the hi-hat (0.979: the closed hat struck as an open one is choked is missed).
MIN_F = {"kick": 0.97, "snare": 0.97, "toms": 0.97, "hihat": 0.93, "cymbals": 0.95}


def test_true_stems_give_the_known_onsets(rendered: Rendered) -> None:
    notes = transcribe(rendered.stems, 44_100, settings=TranscriptionSettings.for_source("recorded"))
    counts, correct, _ = score_notes(rendered.performance.hits, notes)
    for stem in STEMS:
        assert counts[stem].f_measure >= MIN_F[stem], (stem, counts[stem])
    assert notes == sorted(notes)
    assert all(1 <= n.velocity <= 127 and n.stem in STEMS for n in notes)
    # onsets within 20 ms of the truth (the F-measure allows 50)
    for stem in ("kick", "snare", "toms"):
        est = np.array([n.time_s for n in notes if n.stem == stem])
        for t in rendered.onsets(stem):
            assert np.abs(est - t).min() < 0.02, (stem, t)
    # pieces: toms by pitch, open hats by their decay
    assert correct["toms"] == counts["toms"].tp
    assert correct["hihat"] >= counts["hihat"].tp - 1


def test_recorded_and_separated_stems_get_their_own_tuned_settings() -> None:
    from larsnet.transcription.bleed import BLEED_DB, RECORDED_BLEED_DB
    from larsnet.transcription.transcribe import DEFAULT_STEM_SETTINGS, SEPARATED_ONSET_CHANGES

    separated, recorded = TranscriptionSettings.for_source("separated"), TranscriptionSettings.for_source("recorded")
    assert separated == TranscriptionSettings()  # what users transcribe is the default
    assert separated.bleed_db == BLEED_DB and recorded.bleed_db == RECORDED_BLEED_DB
    assert recorded.stems == DEFAULT_STEM_SETTINGS
    # a separated cymbal stem carries the hats' wash: it needs a larger rise to count as an onset
    assert separated.stems["cymbals"].delta == SEPARATED_ONSET_CHANGES["cymbals"]["delta"] > recorded.stems[
        "cymbals"].delta
    assert all(separated.stems[s] == recorded.stems[s] for s in STEMS if s not in SEPARATED_ONSET_CHANGES)
    with pytest.raises(OptionError, match="separated or recorded"):
        TranscriptionSettings.for_source("multitrack")


def test_every_stem_alone_gives_its_pitches(rendered: Rendered) -> None:
    pitches = {stem: {n.pitch for n in transcribe_stem(rendered.stems[stem], 44_100, stem)} for stem in STEMS}
    assert pitches["kick"] == {36} and pitches["snare"] == {38}
    assert pitches["toms"] == {48, 45, 43}
    assert pitches["hihat"] == {42, 46}


def test_a_subset_of_stems_without_a_kick(rendered: Rendered) -> None:
    notes = transcribe({s: rendered.stems[s] for s in ("snare", "hihat")}, 44_100)
    assert notes and {n.stem for n in notes} == {"snare", "hihat"}


def test_silence_and_empty_audio_give_no_notes() -> None:
    silent = {s: np.zeros((2, 44_100), np.float32) for s in STEMS}
    assert transcribe(silent, 44_100) == []
    assert transcribe({"kick": np.zeros((2, 0), np.float32)}, 44_100) == []
    assert transcribe({}, 44_100) == []
    quiet_noise = np.random.default_rng(0).standard_normal((2, 44_100)).astype(np.float32) * 1e-5
    assert transcribe_stem(quiet_noise, 44_100, "snare") == []  # below -70 dB: silence


def test_level_mono_and_sample_rate_do_not_move_the_onsets(rendered: Rendered) -> None:
    import soxr

    snare = rendered.stems["snare"]
    base = [n.time_s for n in transcribe_stem(snare, 44_100, "snare")]
    assert [n.time_s for n in transcribe_stem(snare * 0.05, 44_100, "snare")] == base  # -26 dB
    assert [n.time_s for n in transcribe_stem(snare.mean(axis=0), 44_100, "snare")] == base  # mono (N,)
    at_48k = soxr.resample(snare.T, 44_100, 48_000).T
    moved = [n.time_s for n in transcribe_stem(at_48k, 48_000, "snare")]
    assert len(moved) == len(base) and np.abs(np.array(moved) - base).max() <= 0.011


def test_louder_hits_get_higher_velocities(tmp_path: Path) -> None:
    velocities = [20, 45, 70, 95, 120]
    r = render_midi(tmp_path / "ramp.mid", [(float(i), 38, v) for i, v in enumerate(velocities)])
    found = [n.velocity for n in transcribe_stem(r.stems["snare"], 44_100, "snare")]
    assert len(found) == 5 and found == sorted(found) and found[0] < found[-1]


def test_thresholds_drop_soft_hits(rendered: Rendered) -> None:
    snare = rendered.stems["snare"]
    all_hits = transcribe({"snare": snare}, 44_100)
    strict = transcribe({"snare": snare}, 44_100, thresholds={"snare": 0.5})
    assert len(strict) < len(all_hits)
    assert {round(n.time_s, 2) for n in strict} <= {round(n.time_s, 2) for n in all_hits}


def test_bleed_from_a_louder_stem_is_dropped(rendered: Rendered) -> None:
    """The snare leaking into the toms stem 40 dB down gives no tom notes; alone it would."""
    leaky = {"snare": rendered.stems["snare"], "toms": rendered.stems["snare"] * 0.01}
    assert not [n for n in transcribe(leaky, 44_100) if n.stem == "toms"]
    assert [n for n in transcribe(leaky, 44_100, settings=TranscriptionSettings(bleed_db=None)) if n.stem == "toms"]


def test_bad_input_is_refused_with_the_fix() -> None:
    with pytest.raises(OptionError, match="unknown stem 'bass'; stems are kick, snare"):
        transcribe({"bass": np.zeros((2, 10))}, 44_100)
    with pytest.raises(OptionError, match=r"stem kick: audio must be shaped \(channels, frames\)"):
        transcribe({"kick": np.zeros((2, 2, 10))}, 44_100)
    with pytest.raises(OptionError, match="stem kick: audio holds NaN"):
        transcribe({"kick": np.full((2, 10), np.nan)}, 44_100)
    with pytest.raises(OptionError, match="threshold of snare must be in"):
        transcribe({"snare": np.zeros((2, 10))}, 44_100, thresholds={"snare": 2.0})


def test_tom_classes_follow_the_number_of_drums() -> None:
    three = np.array([200.0, 201, 150, 151, 100, 99, 202])
    assert tom_classes(three).tolist() == ["hi_tom", "hi_tom", "mid_tom", "mid_tom", "floor_tom", "floor_tom", "hi_tom"]
    assert tom_classes(np.array([200.0, 100, 200, 100])).tolist() == ["hi_tom", "floor_tom"] * 2  # an octave apart
    assert tom_classes(np.array([200.0, 170, 200, 170])).tolist() == ["hi_tom", "mid_tom"] * 2  # 3 semitones
    # one drum (and one mismeasured hit an octave up): named by absolute pitch
    assert set(tom_classes(np.array([90.0] * 12 + [180.0]))[:12]) == {"floor_tom"}
    assert tom_classes(np.array([np.nan, 120.0])).tolist() == ["mid_tom", "mid_tom"]


def test_open_hihats_and_crashes_from_their_features() -> None:
    rates = np.array([200.0, 190, 210, 40, 205, np.nan])
    centroids = np.array([9000.0, 9100, 8900, 7000, 9050, 9000])
    assert open_hihats(rates, centroids).tolist() == [False, False, False, True, False, False]
    assert not open_hihats(np.array([]), np.array([])).size
    assert crashes(np.array([2500.0, 6000.0, np.nan])).tolist() == [True, False, False]


def test_piece_pitches_are_gm_drum_notes_on_the_gmd_map() -> None:
    from larsnet.stems import GMD_PITCH_TO_PIECE, PIECES

    assert set(PIECE_PITCH) == set(PIECES)
    assert all(GMD_PITCH_TO_PIECE[pitch] == piece for piece, pitch in PIECE_PITCH.items())
    assert Note(1.0, 46, 90, "hihat").piece == "hihat_open"


def test_bleed_gate_is_per_stem_and_pair(rendered: Rendered) -> None:
    """The snare heard 6 dB down in the toms stem: the separated-stem gate of toms against the
    snare drops it; loosening that pair (or all of toms' pairs) keeps it, loosening another does not."""
    leaky = {"snare": rendered.stems["snare"], "toms": rendered.stems["snare"] * 0.5}

    def toms(bleed_db: object) -> list[Note]:
        settings = TranscriptionSettings(bleed_db=bleed_db)  # type: ignore[arg-type]
        return [n for n in transcribe(leaky, 44_100, settings=settings) if n.stem == "toms"]

    assert not [n for n in transcribe(leaky, 44_100) if n.stem == "toms"]
    assert toms({"toms": 16.0}) and toms({"toms": {"snare": 16.0}})
    assert not toms({"toms": {"kick": 16.0, "hihat": 16.0, "cymbals": 16.0}})
    assert toms(None)


def test_bleed_gates_merge_over_the_defaults_and_refuse_bad_values() -> None:
    from larsnet.transcription.bleed import BLEED_DB, bleed_gates, describe_gates

    defaults = bleed_gates(BLEED_DB)
    assert defaults is not None and set(defaults) == set(STEMS)
    assert all(set(pairs) == set(STEMS) - {stem} for stem, pairs in defaults.items())
    assert bleed_gates({"toms": 16.0}) == {**defaults, "toms": {o: 16.0 for o in defaults["toms"]}}
    assert bleed_gates({"cymbals": {"hihat": -20}})["cymbals"] == {**defaults["cymbals"], "hihat": -20.0}
    assert bleed_gates(3) == {s: {o: 3.0 for o in STEMS if o != s} for s in STEMS} and bleed_gates(None) is None
    assert describe_gates(bleed_gates(3)).startswith("kick 3 dB, snare 3 dB")
    assert describe_gates(bleed_gates({"kick": {"snare": 1, "toms": 2, "hihat": 3, "cymbals": 4}})).startswith(
        "kick (snare 1, toms 2, hihat 3, cymbals 4 dB), snare")
    assert describe_gates(None) == "off"
    for bad, message in (({"tom": 1.0}, "unknown stem 'tom'"), ({"toms": {"tom": 1.0}}, "unknown stem 'tom'"),
                         ({"toms": {"toms": 1.0}}, "not gated against itself"),
                         ({"toms": float("nan")}, "finite number"), ({"toms": {"snare": "x"}}, "a number of dB")):
        with pytest.raises(OptionError, match=message):
            bleed_gates(bad)
