"""Onset detection on stems rendered by larsnet's sampler, where every onset is known."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drumflow.dsp.onsets import (
    ONSET_DEFAULTS,
    OnsetSettings,
    backtrack,
    band_matrix,
    detect_onsets,
    gate,
    onset_settings,
    onset_strength,
)
from larsnet.stems import STEMS
from tests.drumflow.drums import SAMPLE_RATE, match, onsets_of, render_stems, synthetic_stems

SR = SAMPLE_RATE


def _detect(audio: np.ndarray, stem: str, **overrides) -> list[float]:
    settings = onset_settings(stem, **overrides)
    return list(detect_onsets(gate(audio, SR, settings.gate_db), SR, settings) / SR)


@pytest.mark.parametrize("stem", STEMS)
def test_every_onset_of_a_rendered_groove_is_found_within_10_ms(stem: str) -> None:
    found = _detect(synthetic_stems()[stem], stem)
    missed, extra, worst = match(found, onsets_of(stem))
    assert not missed and not extra, f"{stem}: missed {missed}, extra {extra}"
    assert worst <= 0.010
    assert len(found) == len(set(found)) == len(onsets_of(stem))  # no duplicates


def test_onsets_of_a_hydrogen_kit_with_short_sine_one_shots(tmp_path: Path) -> None:
    """A loaded and mapped kit (kitfactory: 50 ms decaying sines at 48 kHz, resampled)."""
    from larsnet.data.loaders import load_kit
    from larsnet.data.mapping import map_kit
    from tests.larsnet.data.kitfactory import make_hydrogen_kit

    stems = render_stems(map_kit(load_kit(make_hydrogen_kit(tmp_path / "kit"))))
    for stem in STEMS:
        missed, extra, worst = match(_detect(stems[stem], stem), onsets_of(stem))
        assert (missed, extra) == ([], []), stem
        assert worst <= 0.010, stem


def _burst(n: int, freq: float, decay_s: float, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(n) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t) * np.exp(-t / decay_s)).astype(np.float32)


def _place(frames: int, hits: list[tuple[float, np.ndarray]]) -> np.ndarray:
    x = np.zeros(frames, dtype=np.float32)
    for t, burst in hits:
        i = int(round(t * SR))
        x[i:i + burst.size] += burst[:frames - i]
    return np.stack([x, x])


def test_gate_removes_bleed_that_would_be_a_hit() -> None:
    hit, bleed = _burst(8000, 200, 0.03), _burst(8000, 200, 0.03, amplitude=0.03)  # bleed at -30 dB
    audio = _place(SR, [(0.1, hit), (0.5, bleed), (0.8, hit)])
    assert _detect(audio, "snare", gate_db=-24.0) == pytest.approx([0.1, 0.8], abs=0.002)
    ungated = OnsetSettings(gate_db=None)
    assert len(detect_onsets(gate(audio, SR, None), SR, ungated)) == 3


def test_gate_passes_the_attack_and_leaves_silence_alone() -> None:
    audio = _place(SR // 2, [(0.1, _burst(8000, 100, 0.05))])
    gated = gate(audio, SR, -30.0)
    start = int(0.1 * SR)
    np.testing.assert_array_equal(gated[:, start:start + 2000], audio[:, start:start + 2000])
    assert gated.dtype == np.float32 and gated is not audio
    np.testing.assert_array_equal(gate(np.zeros((2, 100), np.float32), SR, -30.0), 0.0)
    np.testing.assert_array_equal(gate(audio, SR, None), audio)


def test_hit_at_sample_zero_and_at_the_very_end() -> None:
    audio = _place(SR, [(0.0, _burst(4000, 300, 0.02)), (0.95, _burst(4000, 300, 0.02))])
    assert _detect(audio, "kick") == pytest.approx([0.0, 0.95], abs=0.002)


def test_silence_and_empty_input_give_no_onsets() -> None:
    for audio in (np.zeros((2, SR), np.float32), np.zeros((2, 0), np.float32)):
        assert detect_onsets(audio, SR).size == 0
        env, _ = onset_strength(audio, SR)
        assert not env.any()


def test_hits_closer_than_min_gap_are_one_onset() -> None:
    flam = _place(SR // 2, [(0.1, _burst(6000, 250, 0.02)), (0.13, _burst(6000, 2000, 0.02))])
    assert len(_detect(flam, "snare", min_gap_ms=50.0)) == 1
    assert _detect(flam, "snare", min_gap_ms=15.0) == pytest.approx([0.1, 0.13], abs=0.002)


def test_energy_method_on_isolated_hits() -> None:
    audio = _place(SR, [(0.1, _burst(6000, 120, 0.03)), (0.4, _burst(6000, 120, 0.03, 0.5)), (0.7, _burst(6000, 120, 0.03))])
    assert _detect(audio, "kick", method="energy") == pytest.approx([0.1, 0.4, 0.7], abs=0.003)


def test_backtrack_finds_the_attack_over_a_ringing_tail() -> None:
    """The attack of a new hit starts where the energy leaves the previous hit's decay."""
    tail = _burst(SR, 90, 0.15, amplitude=0.5)  # still ringing at -10 dB when the next hit comes
    audio = _place(SR, [(0.0, tail), (0.3, _burst(8000, 400, 0.03))])[0]
    onset = backtrack(audio, int(0.25 * SR), int(0.33 * SR), window=441)
    assert onset is not None and abs(onset - int(0.3 * SR)) <= 64
    assert backtrack(np.zeros(SR, np.float32), 0, SR, window=441) is None  # nothing rises


def test_band_matrix_sums_every_bin_once_into_wide_enough_bands() -> None:
    bands = band_matrix(1024, SR)
    assert bands.shape[0] == 513 and (bands.sum(axis=1) == 1).all()
    assert bands.sum(axis=0).min() >= 3


def test_settings_defaults_per_stem_and_overrides() -> None:
    assert set(ONSET_DEFAULTS) == set(STEMS)
    assert onset_settings("hihat").min_gap_ms < onset_settings("cymbals").min_gap_ms
    assert onset_settings("kick", threshold=0.2, min_gap_ms=None).threshold == 0.2
    assert onset_settings("room") == OnsetSettings()
    with pytest.raises(ValueError, match="threshold must be in 0..1"):
        OnsetSettings(threshold=2.0)
    with pytest.raises(ValueError, match="'flux' or 'energy'"):
        OnsetSettings(method="hfc")  # type: ignore[arg-type]
