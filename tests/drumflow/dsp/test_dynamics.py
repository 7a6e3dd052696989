"""drumflow.dsp.dynamics: the keyed envelope does what a mixer expects, in numbers."""
from __future__ import annotations

import time

import numpy as np
import pytest

from drumflow.dsp import dynamics as dyn

RATE = 44100


def square(seconds: float, level_db: float, channels: int = 2, hz: float = 100.0) -> np.ndarray:
    """A square wave: |x| is constant, so the peak detector reads exactly ``level_db``."""
    n = int(seconds * RATE)
    x = np.sign(np.sin(2 * np.pi * hz * (np.arange(n) + 0.5) / RATE)) * 10 ** (level_db / 20)
    return np.tile(x.astype(np.float32), (channels, 1))


def noise(seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 * rng.standard_normal((channels, int(seconds * RATE)))).astype(np.float32)


def burst(seconds: float, start_s: float, stop_s: float, level_db: float = -6.0, channels: int = 2) -> np.ndarray:
    key = square(seconds, level_db, channels)
    key[:, : int(start_s * RATE)] = 0
    key[:, int(stop_s * RATE):] = 0
    return key


def to_db(gain: np.ndarray) -> np.ndarray:
    return 20 * np.log10(gain.astype(np.float64))


# --------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("coeff", [0.0, 0.5, 0.999, 0.99999])
def test_decaying_max_equals_the_recursion(coeff: float) -> None:
    rng = np.random.default_rng(1)
    u = rng.random((2, 70_000)) ** 8  # spans several blocks
    u[:, 1000:3000] = 0.0
    ref = np.empty_like(u)
    prev = np.zeros(2)
    for n in range(u.shape[1]):
        prev = np.maximum(u[:, n], coeff * prev)
        ref[:, n] = prev
    np.testing.assert_allclose(dyn.decaying_max(u, coeff), ref, rtol=1e-9, atol=1e-300)  # denormals aside


def test_compressor_curve_hard_and_soft_knee() -> None:
    level = np.array([-50.0, -30.0, -20.0, 0.0])
    np.testing.assert_allclose(dyn.compressor_curve_db(level, -30, 4), [0, 0, -7.5, -22.5])
    np.testing.assert_allclose(dyn.compressor_curve_db(level, -30, 1), 0)
    soft = dyn.compressor_curve_db(np.array([-33.0, -30.0, -27.0, -20.0]), -30, 4, knee_db=6)
    # 0 at the knee's lower edge, slope*knee/8 at the threshold, the hard curve from the upper edge
    np.testing.assert_allclose(soft, [0.0, -0.75 * 6 / 8, -0.75 * 3, -7.5], atol=1e-12)


# --------------------------------------------------------------------------- duck


@pytest.mark.parametrize("settings", [
    {}, {"lookahead_ms": 5}, {"knee_db": 12}, {"detector": "rms"}, {"stereo_link": False},
    {"attack_ms": 0, "release_ms": 0},
])
def test_silent_key_leaves_the_input_exactly_unchanged(settings: dict) -> None:
    x = noise(0.5)
    out, gain = dyn.duck(x, np.zeros_like(x), RATE, threshold_db=-40, ratio=8, **settings)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(out, x) and np.all(gain == 1.0)


def test_key_below_threshold_is_no_reduction() -> None:
    x = noise(0.5)
    out, _ = dyn.duck(x, square(0.5, -40.0), RATE, threshold_db=-30, ratio=4, knee_db=6)
    assert np.array_equal(out, x)


@pytest.mark.parametrize("ratio,level_db,expect_db", [(4.0, -10.0, -15.0), (2.0, -20.0, -5.0), (100.0, -6.0, -23.76)])
def test_loud_key_reduces_by_the_ratio_after_the_attack(ratio: float, level_db: float, expect_db: float) -> None:
    x = noise(1.0)
    attack_ms = 5.0
    out, gain = dyn.duck(x, square(1.0, level_db), RATE, threshold_db=-30, ratio=ratio, attack_ms=attack_ms,
                         release_ms=100)
    settled = to_db(gain[:, int(10 * attack_ms * 1e-3 * RATE):])
    np.testing.assert_allclose(settled, expect_db, atol=0.01)
    # one time constant after the key starts: 63 % of the reduction
    assert to_db(gain[0, int(attack_ms * 1e-3 * RATE)]) == pytest.approx(expect_db * (1 - np.exp(-1)), rel=0.01)
    np.testing.assert_allclose(out, x * gain, rtol=1e-6)


def test_rms_detector_reads_the_rms_level() -> None:
    t = np.arange(RATE) / RATE
    key = np.tile((10 ** (-10 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), (2, 1))  # -10 dB RMS
    gain_db = dyn.duck_gain_db(key, RATE, threshold_db=-30, ratio=4, attack_ms=5, release_ms=200, detector="rms",
                               rms_window_ms=20)
    np.testing.assert_allclose(gain_db[:, RATE // 2:], -15.0, atol=0.1)


def test_release_returns_to_unity() -> None:
    release_ms = 80.0
    key = burst(2.0, 0.2, 0.6)
    gain_db = dyn.duck_gain_db(key, RATE, threshold_db=-30, ratio=4, attack_ms=2, release_ms=release_ms)[0]
    end = int(0.6 * RATE)
    assert gain_db[end - 1] == pytest.approx(-18.0, abs=0.01)
    after = gain_db[end:]
    assert np.all(np.diff(after) >= -1e-12)  # only rising once the key stops
    tau = int(release_ms * 1e-3 * RATE)
    assert after[tau] == pytest.approx(-18.0 * np.exp(-1), rel=0.05)  # one release time constant
    assert after[10 * tau] > -0.01
    assert np.all(gain_db[: int(0.2 * RATE)] == 0.0)  # before the key: untouched


@pytest.mark.parametrize("lookahead_ms", [0.0, 2.0, 10.0])
def test_lookahead_starts_early_and_keeps_alignment(lookahead_ms: float) -> None:
    x = noise(0.5)
    onset = int(0.25 * RATE)
    key = burst(0.5, 0.25, 0.3)
    out, gain = dyn.duck(x, key, RATE, threshold_db=-30, ratio=4, attack_ms=0, release_ms=50,
                         lookahead_ms=lookahead_ms)
    ahead = dyn.ms_to_frames(lookahead_ms, RATE)
    assert out.shape == x.shape  # no latency: same length, same alignment
    first = int(np.argmax(gain[0] < 1.0))
    assert first == onset - ahead
    assert np.array_equal(out[:, :first], x[:, :first])
    # the same as a key that really came earlier
    early = np.zeros_like(key)
    early[:, : key.shape[1] - ahead] = key[:, ahead:]
    _, gain0 = dyn.duck(x, early, RATE, threshold_db=-30, ratio=4, attack_ms=0, release_ms=50)
    np.testing.assert_array_equal(gain, gain0)


def test_stereo_link() -> None:
    x = noise(0.5)
    key = square(0.5, -6.0)
    key[1] = 0.0  # loud on the left only
    _, linked = dyn.duck(x, key, RATE, threshold_db=-30, ratio=4)
    assert linked.shape == (1, x.shape[1]) and linked.min() < 0.5
    out, per_channel = dyn.duck(x, key, RATE, threshold_db=-30, ratio=4, stereo_link=False)
    assert per_channel.shape == x.shape and per_channel[0].min() < 0.5
    assert np.array_equal(out[1], x[1])


def test_makeup_gain() -> None:
    x = noise(0.2)
    out, gain = dyn.duck(x, np.zeros_like(x), RATE, makeup_db=6.0)
    np.testing.assert_allclose(to_db(gain), 6.0, atol=1e-5)


# --------------------------------------------------------------------------- gate


def test_gate_closed_on_a_silent_key_and_open_on_a_loud_one() -> None:
    x = noise(0.5)
    out, gain = dyn.gate(x, np.zeros_like(x), RATE, range_db=-60)
    np.testing.assert_allclose(to_db(gain), -60.0, atol=1e-4)
    np.testing.assert_allclose(out, x * np.float32(1e-3), rtol=1e-5)
    out, gain = dyn.gate(x, square(0.5, -6.0), RATE, threshold_db=-30, attack_ms=0.5, range_db=-60)
    assert np.all(gain[:, int(0.01 * RATE):] > 0.9999)


def test_gate_attack_hold_release() -> None:
    attack_ms, hold_ms, release_ms, range_db = 1.0, 40.0, 30.0, -80.0
    key = burst(1.0, 0.2, 0.4)
    gain = dyn.gate_gain(key, RATE, threshold_db=-30, attack_ms=attack_ms, hold_ms=hold_ms, release_ms=release_ms,
                         range_db=range_db)[0]
    floor = 10 ** (range_db / 20)
    on, off = int(0.2 * RATE), int(0.4 * RATE)
    assert np.all(gain[:on] == pytest.approx(floor))
    assert gain[on + int(attack_ms * 1e-3 * RATE)] == pytest.approx(floor + (1 - floor) * (1 - np.exp(-1)), rel=0.02)
    hold_end = off + dyn.ms_to_frames(hold_ms, RATE)
    assert np.all(gain[on + int(0.02 * RATE): hold_end] > 0.9999)  # open, then held after the key stops
    tau = dyn.ms_to_frames(release_ms, RATE)
    # the release decay passes through the attack low-pass too (decoupled follower): two poles
    ta, tr = attack_ms, release_ms
    decayed = (tr * np.exp(-1) - ta * np.exp(-tr / ta)) / (tr - ta)
    assert gain[hold_end + tau] == pytest.approx(floor + (1 - floor) * decayed, rel=0.01)
    assert gain[-1] < 2 * floor


def test_gate_lookahead_opens_before_the_hit() -> None:
    key = burst(0.5, 0.25, 0.3)
    gain = dyn.gate_gain(key, RATE, threshold_db=-30, attack_ms=0, lookahead_ms=3, range_db=-80)[0]
    assert int(np.argmax(gain > 0.5)) == int(0.25 * RATE) - dyn.ms_to_frames(3, RATE)


# --------------------------------------------------------------------------- key alignment


def test_key_at_another_rate_is_resampled_in_time() -> None:
    key48 = np.zeros((2, 48000), dtype=np.float32)
    key48[:, 24000:26400] = 0.5  # 0.5 s .. 0.55 s at 48 kHz
    key, notes = dyn.align_key(key48, 48000, RATE, RATE, 2)
    assert key.shape == (2, RATE)
    assert notes == ["key resampled from 48000 Hz to 44100 Hz (48000 -> 44100 frames)"]
    gain_db = dyn.duck_gain_db(key, RATE, threshold_db=-30, ratio=4, attack_ms=0, release_ms=10)[0]
    assert abs(int(np.argmax(gain_db < -1)) - RATE // 2) < RATE // 1000  # still at 0.5 s, within 1 ms


def test_key_length_and_channels_are_aligned_with_notes() -> None:
    short, notes = dyn.align_key(np.ones((2, 100), np.float32), RATE, 150, RATE, 2)
    assert short.shape == (2, 150) and np.all(short[:, 100:] == 0)
    assert notes == ["key is shorter than the input; padded with 50 frames of silence to 150 frames (0.003 s)"]
    long, notes = dyn.align_key(np.ones((2, 200), np.float32), RATE, 150, RATE, 2)
    assert long.shape == (2, 150) and notes == ["key is longer than the input; trimmed by 50 frames to 150 frames (0.003 s)"]
    wide = np.stack([np.ones(150), np.zeros(150), -np.ones(150)]).astype(np.float32)
    mono, notes = dyn.align_key(wide, RATE, 150, RATE, 2, per_channel=True)
    assert mono.shape == (1, 150) and notes == ["key has 3 channels and the input 2; key downmixed to mono"]
    same, notes = dyn.align_key(wide, RATE, 150, RATE, 2)  # linked: the detector takes every channel
    assert same.shape == (3, 150) and notes == []
    with pytest.raises(ValueError, match=r"key must be shaped \(channels, frames\)"):
        dyn.align_key(np.ones(10), RATE, 10, RATE, 2)


def test_fast_enough_for_long_files() -> None:
    """At least 100x real time on 60 s of stereo (asserted loosely: CI machines are shared)."""
    x, key = noise(60.0, seed=1), noise(60.0, seed=2)
    t0 = time.perf_counter()
    dyn.duck(x, key, RATE, threshold_db=-30, ratio=4, lookahead_ms=5)
    dyn.gate(x, key, RATE, threshold_db=-30, lookahead_ms=5)
    assert time.perf_counter() - t0 < 6.0  # 20x real time for both; measured ~0.2 s each
