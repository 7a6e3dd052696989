"""Keyed dynamics: a compressor/ducker and a gate whose gain follows another signal.

Audio is float32 ``(channels, frames)`` as everywhere in drumflow; the ``key`` is the
signal that is listened to, ``x`` the one whose level is changed. Both must already
share a sample rate and a length (:func:`align_key` does that). The chain is::

    key -> level detector (peak |x|, or RMS over a window) -> dB
        -> static curve (compressor: threshold/ratio/knee; gate: open above threshold)
        -> ballistics (attack/release time constants; gate: + hold)
        -> gain, applied to x (one gain for all channels when stereo_link)

Everything is vectorised, with no per-sample Python loop. The attack/release smoother
is a *decoupled* peak follower (Giannoulis, Massberg & Reiss, JAES 2012): first
``y1[n] = max(u[n], r * y1[n-1])`` (instant rise, exponential release), which is a
running maximum in the log domain, ``log y1[n] = max_k<=n (log u[k] - k c) + n c``
with ``c = log r``, so ``np.maximum.accumulate`` computes it exactly (in blocks, to keep
the numbers small); then a linear one-pole low-pass for the attack
(``scipy.signal.lfilter``). Attack and release are time constants (63 % of a step).
The compressor smooths its gain reduction in dB, the gate its linear gain.

Lookahead is latency-compensated: the gain at frame ``n`` is computed from the key at
``n + lookahead``, which is what a compressor that delays its main signal and is then
shifted back by its latency produces. Outputs keep the input's length and alignment.

With a silent key the compressor's gain is exactly 1 (output == input times the makeup
gain), and the gate's is exactly its floor (``range_db``).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

Detector = Literal["peak", "rms"]

FLOOR_DB = -200.0
"""Level reported for digital silence (keeps the curves finite)."""
_BLOCK = 1 << 16


def db_to_amp(db: np.ndarray | float) -> np.ndarray | float:
    return np.power(10.0, np.asarray(db) / 20.0) if isinstance(db, np.ndarray) else 10.0 ** (db / 20.0)


def time_coeff(ms: float, sample_rate: int) -> float:
    """One-pole coefficient for a time constant of ``ms`` milliseconds (0 ms -> 0: instant)."""
    if ms <= 0:
        return 0.0
    return float(np.exp(-1.0 / (ms * 1e-3 * sample_rate)))


def ms_to_frames(ms: float, sample_rate: int) -> int:
    return int(round(ms * 1e-3 * sample_rate))


# --------------------------------------------------------------------------- key alignment


def align_key(key: np.ndarray, key_rate: int, frames: int, sample_rate: int, channels: int, *,
              per_channel: bool = False) -> tuple[np.ndarray, list[str]]:
    """Make ``key`` usable against an input of ``channels`` x ``frames`` at ``sample_rate``.

    A key at another rate is resampled (soxr); a key of another length is padded with
    silence or trimmed; with ``per_channel`` (unlinked detection) a key whose channel
    count is neither 1 nor ``channels`` is downmixed to mono (the mean of its channels).
    Returns the key ``[shape=(key channels, frames)]`` float32 and one note per change.
    """
    key = np.asarray(key, dtype=np.float32)
    notes: list[str] = []
    if key.ndim != 2:
        raise ValueError(f"key must be shaped (channels, frames), got {key.shape}")
    if key_rate != sample_rate:
        import soxr

        before = key.shape[1]
        # soxr works on (frames, channels)
        key = np.ascontiguousarray(soxr.resample(key.T, key_rate, sample_rate, quality="HQ").T, dtype=np.float32)
        notes.append(f"key resampled from {key_rate} Hz to {sample_rate} Hz ({before} -> {key.shape[1]} frames)")
    if key.shape[1] != frames:
        if key.shape[1] < frames:
            what = f"padded with {frames - key.shape[1]} frames of silence"
            key = np.pad(key, ((0, 0), (0, frames - key.shape[1])))
        else:
            what = f"trimmed by {key.shape[1] - frames} frames"
            key = key[:, :frames]
        notes.append(f"key is {'shorter' if 'padded' in what else 'longer'} than the input; {what} "
                     f"to {frames} frames ({frames / sample_rate:.3f} s)")
    if per_channel and key.shape[0] not in (1, channels):
        notes.append(f"key has {key.shape[0]} channels and the input {channels}; key downmixed to mono")
        key = key.mean(axis=0, keepdims=True)
    return key, notes


# --------------------------------------------------------------------------- detector


def level_db(key: np.ndarray, sample_rate: int, *, detector: Detector = "peak", rms_window_ms: float = 10.0,
             link: bool = True) -> np.ndarray:
    """The key's level in dB ``[shape=(1 if link else channels, frames)]`` float64.

    ``peak``: instantaneous ``|x|`` (the ballistics smooth it); linked: the loudest
    channel. ``rms``: mean square through a one-pole of time constant ``rms_window_ms``;
    linked: the mean power of the channels. Silence is :data:`FLOOR_DB`.
    """
    if detector == "peak":
        amp = np.abs(np.asarray(key, dtype=np.float32))
        if link:
            amp = amp.max(axis=0, keepdims=True)
        with np.errstate(divide="ignore"):
            db = np.log10(amp)
        db *= 20.0
        return np.maximum(db, FLOOR_DB).astype(np.float64)
    if detector != "rms":
        raise ValueError(f"detector must be 'peak' or 'rms', got {detector!r}")
    x = np.asarray(key, dtype=np.float64)
    power = x * x
    if link:
        power = power.mean(axis=0, keepdims=True)
    a = time_coeff(rms_window_ms, sample_rate)
    if a > 0:
        power = lfilter([1.0 - a], [1.0, -a], power, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(10.0 * np.log10(np.maximum(power, 0.0)), FLOOR_DB)


# --------------------------------------------------------------------------- static curves


def compressor_curve_db(level: np.ndarray, threshold_db: float, ratio: float, knee_db: float = 0.0) -> np.ndarray:
    """Gain in dB (<= 0) for a level in dB: ``(1/ratio - 1) * (level - threshold)`` above the
    threshold, 0 below, a quadratic blend ``knee_db`` wide around it (soft knee)."""
    over = np.asarray(level, dtype=np.float64) - threshold_db
    slope = 1.0 / ratio - 1.0
    gain = np.where(over > 0, slope * over, 0.0)
    if knee_db > 0:
        in_knee = np.abs(over) <= knee_db / 2
        gain = np.where(in_knee, slope * (over + knee_db / 2) ** 2 / (2 * knee_db), gain)
    return gain


# --------------------------------------------------------------------------- ballistics


def decaying_max(u: np.ndarray, coeff: float) -> np.ndarray:
    """``y[n] = max(u[n], coeff * y[n-1])`` along the last axis, for ``u >= 0``; ``y[-1] = 0``.

    Exact, vectorised: a running maximum in the log domain, block by block (the block's
    first element carries the previous block's last value).
    """
    u = np.asarray(u, dtype=np.float64)
    if coeff <= 0.0:
        return u.copy()
    c = float(np.log(coeff))  # < 0
    out = np.empty_like(u)
    carry = np.zeros(u.shape[:-1] + (1,))
    n = u.shape[-1]
    steps = np.arange(_BLOCK + 1, dtype=np.float64) * c  # k * c for k = 0..block
    with np.errstate(divide="ignore"):
        for start in range(0, n, _BLOCK):
            block = np.concatenate([carry, u[..., start:start + _BLOCK]], axis=-1)
            k = steps[: block.shape[-1]]
            logs = np.log(block) - k  # log u[k] - k c
            np.maximum.accumulate(logs, axis=-1, out=logs)
            y = np.exp(logs + k)[..., 1:]
            out[..., start:start + _BLOCK] = y
            carry = y[..., -1:]
    return out


def ballistics(u: np.ndarray, sample_rate: int, attack_ms: float, release_ms: float) -> np.ndarray:
    """Smooth a non-negative control signal: rises with ``attack_ms``, falls with ``release_ms``.

    Decoupled follower: an instant-attack, exponential-release peak hold, then a one-pole
    low-pass with the attack time constant (which the release passes through too: a
    release is about ``attack_ms`` slower than ``release_ms`` alone). Starts from 0.
    """
    y = decaying_max(u, time_coeff(release_ms, sample_rate))
    a = time_coeff(attack_ms, sample_rate)
    if a > 0:
        y = lfilter([1.0 - a], [1.0, -a], y, axis=-1)
    return y


def _advance(x: np.ndarray, frames: int) -> np.ndarray:
    """``x[..., n + frames]``, silence past the end (lookahead without latency)."""
    if frames <= 0:
        return x
    out = np.zeros_like(x)
    if frames < x.shape[-1]:
        out[..., : x.shape[-1] - frames] = x[..., frames:]
    return out


# --------------------------------------------------------------------------- processors


def duck_gain_db(key: np.ndarray, sample_rate: int, *, threshold_db: float = -30.0, ratio: float = 4.0,
                 attack_ms: float = 5.0, release_ms: float = 150.0, lookahead_ms: float = 0.0,
                 knee_db: float = 0.0, detector: Detector = "peak", rms_window_ms: float = 10.0,
                 stereo_link: bool = True) -> np.ndarray:
    """Gain in dB (<= 0) that the key's loudness asks for ``[shape=(1 or channels, frames)]``."""
    key = _advance(np.asarray(key), ms_to_frames(lookahead_ms, sample_rate))
    level = level_db(key, sample_rate, detector=detector, rms_window_ms=rms_window_ms, link=stereo_link)
    reduction = -compressor_curve_db(level, threshold_db, ratio, knee_db)  # >= 0 dB
    return -ballistics(reduction, sample_rate, attack_ms, release_ms)


def duck(x: np.ndarray, key: np.ndarray, sample_rate: int, *, makeup_db: float = 0.0,
         **settings) -> tuple[np.ndarray, np.ndarray]:
    """Compress ``x`` by the level of ``key`` (same rate and length; see :func:`align_key`).

    Returns ``(out [shape=x.shape] float32, gain [shape=(1 or channels, frames)] float32)``,
    the linear gain applied (makeup included). ``settings``: see :func:`duck_gain_db`.
    """
    gain_db = duck_gain_db(key, sample_rate, **settings)
    if makeup_db:
        gain_db = gain_db + makeup_db
    gain = np.exp(gain_db * (np.log(10.0) / 20.0)).astype(np.float32)
    return np.asarray(x, dtype=np.float32) * gain, gain


def gate_gain(key: np.ndarray, sample_rate: int, *, threshold_db: float = -30.0, attack_ms: float = 0.5,
              hold_ms: float = 50.0, release_ms: float = 100.0, range_db: float = -80.0,
              lookahead_ms: float = 0.0, detector: Detector = "peak", rms_window_ms: float = 10.0,
              stereo_link: bool = True) -> np.ndarray:
    """Linear gain of a keyed gate ``[shape=(1 or channels, frames)]`` float64.

    Open (gain 1) while the key's level is above ``threshold_db`` and for ``hold_ms``
    after; closed, the gain is ``range_db``. Opening follows ``attack_ms``, closing
    ``release_ms`` (time constants on the linear gain).
    """
    key = _advance(np.asarray(key), ms_to_frames(lookahead_ms, sample_rate))
    level = level_db(key, sample_rate, detector=detector, rms_window_ms=rms_window_ms, link=stereo_link)
    is_open = (level > threshold_db).astype(np.float64)
    hold = ms_to_frames(hold_ms, sample_rate)
    if hold > 0:  # open at n if open anywhere in [n - hold, n]
        is_open = maximum_filter1d(is_open, size=hold + 1, axis=-1, origin=hold // 2, mode="constant")
    floor = float(db_to_amp(range_db))
    return floor + (1.0 - floor) * ballistics(is_open, sample_rate, attack_ms, release_ms)


def gate(x: np.ndarray, key: np.ndarray, sample_rate: int, **settings) -> tuple[np.ndarray, np.ndarray]:
    """Gate ``x`` by ``key``; returns ``(out, gain)`` like :func:`duck`. ``settings``: :func:`gate_gain`."""
    gain = gate_gain(key, sample_rate, **settings).astype(np.float32)
    return np.asarray(x, dtype=np.float32) * gain, gain
