"""nSDR, presence and the oracle mask on signals whose answer is known in closed form."""
from __future__ import annotations

import math

import numpy as np
import pytest

from larsnet.evaluation.metrics import EPSILON, energy_transfer, nsdr, oracle_irm, piece_transfer, present, rms_db

RATE = 44_100


def tone(freq_hz: float, seconds: float = 1.0, amplitude: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = amplitude * np.sin(2 * np.pi * freq_hz * t + phase)
    return np.stack([wave, 0.8 * wave]).astype(np.float32)  # (2, N), channels differ


@pytest.fixture
def reference(rng: np.random.Generator) -> np.ndarray:
    return (0.3 * rng.standard_normal((2, 22_050))).astype(np.float32)


def test_half_the_reference_scores_6_02_db(reference):
    # error = 0.5 s, so the ratio is 1 / 0.25 up to the 1e-7 floor (power here ~0.09)
    assert nsdr(reference, 0.5 * reference) == pytest.approx(10 * math.log10(1 / 0.25), abs=1e-4)
    assert nsdr(reference, 0.5 * reference) == pytest.approx(6.0206, abs=1e-3)


@pytest.mark.parametrize("gain", [0.0, 0.25, 0.9, 1.5, 2.0])
def test_scaled_reference_scores_minus_20_log_of_the_error_gain(reference, gain):
    power = float(np.mean(reference.astype(np.float64) ** 2))
    exact = 10 * math.log10((power + EPSILON) / ((1 - gain) ** 2 * power + EPSILON))
    assert nsdr(reference, gain * reference.astype(np.float64)) == pytest.approx(exact, abs=1e-9)
    assert nsdr(reference, gain * reference) == pytest.approx(-20 * math.log10(abs(1 - gain)), abs=1e-2)


def test_silence_scores_exactly_zero(reference):
    assert nsdr(reference, np.zeros_like(reference)) == 0.0
    # and silence against silence is 0 dB too, not a division by zero
    assert nsdr(np.zeros((2, 100)), np.zeros((2, 100))) == 0.0


def test_perfect_estimate_is_bounded_by_the_floor(reference):
    power = float(np.mean(reference.astype(np.float64) ** 2))
    assert nsdr(reference, reference) == pytest.approx(10 * math.log10((power + EPSILON) / EPSILON))


def test_mixture_baseline_matches_a_hand_computation(rng):
    kick = (0.2 * rng.standard_normal((2, 5000))).astype(np.float32)
    rest = (0.05 * rng.standard_normal((2, 5000))).astype(np.float32)
    mixture = kick + rest
    # by hand: sums over every element of both channels, divided by the element count
    n = kick.size
    signal = sum(float(x) ** 2 for x in kick.ravel()) / n
    error = sum((float(a) - float(b)) ** 2 for a, b in zip(kick.ravel(), mixture.ravel())) / n
    assert nsdr(kick, mixture) == pytest.approx(10 * math.log10((signal + 1e-7) / (error + 1e-7)), abs=1e-9)


def test_means_run_over_both_channels(reference):
    estimate = reference.copy()
    estimate[1] = 0.0  # right channel silent: error power = half the signal power
    power = float(np.mean(reference.astype(np.float64) ** 2))
    error = float(np.mean(reference[1].astype(np.float64) ** 2)) / 2
    assert nsdr(reference, estimate) == pytest.approx(10 * math.log10((power + 1e-7) / (error + 1e-7)))


def test_shape_mismatch_is_refused(reference):
    with pytest.raises(ValueError, match="same shape"):
        nsdr(reference, reference[:, :-1])
    with pytest.raises(ValueError, match="empty"):
        nsdr(np.zeros((2, 0)), np.zeros((2, 0)))


def test_rms_db_is_relative_to_a_full_scale_square():
    assert rms_db(np.ones((2, 100))) == pytest.approx(0.0)
    assert rms_db(tone(440.0, amplitude=1.0)) == pytest.approx(20 * math.log10(math.sqrt((1 + 0.64) / 4)), abs=1e-3)
    assert rms_db(np.zeros((2, 10))) == -math.inf


def test_presence_threshold():
    quiet = np.full((2, 1000), 10 ** (-70 / 20), np.float32)  # -70 dBFS
    soft = np.full((2, 1000), 10 ** (-50 / 20), np.float32)  # -50 dBFS
    assert not present(quiet)
    assert present(soft)
    assert not present(np.zeros((2, 1000)))
    assert present(quiet, threshold_db=-80)
    assert not present(soft, threshold_db=-40)


def test_oracle_on_disjoint_spectra_is_nearly_perfect():
    low, high = tone(60.0, 2.0), tone(6000.0, 2.0, amplitude=0.2)
    stems = np.stack([low, high, np.zeros_like(low)])
    estimates = oracle_irm(low + high, stems)
    assert estimates.shape == stems.shape
    # only the clip borders (reflect padding splatters both tones) keep it from infinity
    assert nsdr(low, estimates[0]) > 40
    assert nsdr(high, estimates[1]) > 40
    assert np.abs(estimates[2]).max() < 1e-6  # a silent stem gets a zero mask


def test_oracle_masks_sum_to_one_so_estimates_sum_to_the_mixture(rng):
    stems = (0.1 * rng.standard_normal((5, 2, 30_000))).astype(np.float32)
    mixture = stems.sum(0)
    estimates = oracle_irm(mixture, stems)
    assert np.abs(estimates.sum(0) - mixture).max() < 1e-9
    # overlapping spectra: the ratio mask cannot be perfect, but it beats the mixture
    for j in range(5):
        assert nsdr(stems[j], mixture) < nsdr(stems[j], estimates[j]) < 30


def test_oracle_applies_to_the_mixture_with_its_phase():
    # one stem, mixture = stem: the mask is 1 everywhere and the STFT round trip is exact
    stem = tone(220.0, 0.5)
    out = oracle_irm(stem, stem[None])
    assert np.abs(out[0] - stem).max() < 1e-6
    # a mixture that differs from the stems' sum is masked, not replaced: scaling it scales the estimate
    low, high = tone(60.0), tone(6000.0)
    a = oracle_irm(low + high, np.stack([low, high]))
    b = oracle_irm(2 * (low + high), np.stack([low, high]))
    assert np.allclose(b, 2 * a, atol=1e-6)


def test_oracle_takes_a_mapping_in_stem_order():
    low, high = tone(60.0), tone(6000.0)
    out = oracle_irm(low + high, {"hihat": high, "kick": low}, order=("kick", "hihat"))
    assert nsdr(low, out[0]) > 40 and nsdr(high, out[1]) > 40


def test_oracle_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="stems must be shaped"):
        oracle_irm(np.zeros((2, 1000)), np.zeros((5, 2, 999)))


def test_energy_transfer_says_where_each_stem_went():
    """Disjoint spectra: estimate 0 keeps the low tone and takes half the high one's amplitude."""
    low, high = tone(60.0, 2.0), tone(6000.0, 2.0, amplitude=0.2)
    silent = np.zeros_like(low)
    shares = energy_transfer(low + high, np.stack([low, high, silent]),
                             np.stack([low + 0.5 * high, 0.5 * high, silent]))
    assert shares[0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-3)
    assert shares[1] == pytest.approx([0.25, 0.25, 0.0], abs=1e-3)  # half the amplitude = a quarter of the energy
    assert np.isnan(shares[2]).all()  # a silent stem went nowhere
    # mappings are taken in the given order
    by_name = energy_transfer(low + high, {"hihat": high, "kick": low}, {"kick": low, "hihat": high},
                              order=("kick", "hihat"))
    assert by_name == pytest.approx(np.eye(2), abs=1e-3)
    with pytest.raises(ValueError, match="shaped"):
        energy_transfer(low, np.stack([low]), np.stack([low, high]))


def test_piece_transfer_tells_the_pieces_of_one_stem_apart():
    """Two pieces of one stem: the estimate keeps one and hands the other to another stem."""
    closed, open_hat = tone(6000.0, 2.0, amplitude=0.2), tone(9000.0, 2.0, amplitude=0.3)
    shares = piece_transfer(closed + open_hat, {"hihat_closed": closed, "hihat_open": open_hat},
                            {"hihat": closed, "cymbals": open_hat}, order=("hihat", "cymbals"))
    assert shares.shape == (2, 2)
    assert shares[0] == pytest.approx([1.0, 0.0], abs=1e-3)  # the closed hat stayed a hi-hat
    assert shares[1] == pytest.approx([0.0, 1.0], abs=1e-3)  # the open hat went to the cymbals
    with pytest.raises(ValueError, match="shaped"):
        piece_transfer(closed, np.stack([closed[:, :-1]]), np.stack([closed]))
