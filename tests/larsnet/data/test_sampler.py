from pathlib import Path

import numpy as np
import pytest

from larsnet.data.gmd import read_gmd
from larsnet.data.midi import read_drum_midi
from larsnet.data.sampler import (
    CHOKE_FADE_S,
    MULTI_LAYER_EXPONENT,
    group_pieces,
    render,
    render_pieces,
)
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.errors import OptionError
from larsnet.stems import PIECES, PIECES_OF_STEM, SAMPLE_RATE, STEMS
from tests.larsnet.data.builders import at, constant_kit, performance, write_midi


def _values_at(stem: np.ndarray, times: list[float]) -> list[float]:
    return [round(float(stem[0, at(t) + 1]), 6) for t in times]


def test_velocity_layer_choice_and_gain_curve():
    kit = constant_kit(round_robin=1)
    perf = performance([(0.0, "snare", 127), (0.1, "snare", 64), (0.2, "snare", 63), (0.3, "snare", 20)])
    out = render(perf, kit, tail_s=0.1).pieces["snare"]
    hi, lo = 0.2 + 0.01, 0.1 + 0.01  # layer 2 (64..127), layer 1 (1..63), rr sample 0
    expected = [hi, hi * (64 / 127) ** MULTI_LAYER_EXPONENT, lo * (63 / 127) ** 0.5, lo * (20 / 127) ** 0.5]
    assert _values_at(out, [0.0, 0.1, 0.2, 0.3]) == pytest.approx(expected, abs=1e-6)


def test_single_layer_instrument_uses_linear_velocity():
    kit = constant_kit(layers=((1, 127),), round_robin=1)
    out = render(performance([(0.0, "kick", 127), (0.1, "kick", 32)]), kit).pieces["kick"]
    assert _values_at(out, [0.0, 0.1]) == pytest.approx([0.11, 0.11 * 32 / 127], abs=1e-6)


def test_round_robin_cycles_per_layer():
    kit = constant_kit(round_robin=3)
    hits = [(0.1 * i, "ride", 100) for i in range(4)] + [(0.05, "ride", 10)]  # a soft hit in between
    out = render(performance(hits), kit, velocity_exponent=0.0).pieces["ride"]
    # loud layer: samples 0, 1, 2, 0 in turn; the soft hit starts its own counter
    assert _values_at(out, [0.0, 0.1, 0.2, 0.3]) == pytest.approx([0.21, 0.22, 0.23, 0.21])
    assert _values_at(out, [0.05]) == pytest.approx([0.11])


def test_random_round_robin_is_seeded():
    kit = constant_kit(round_robin=4)
    perf = performance([(0.01 * i, "crash", 100) for i in range(40)])
    a = render(perf, kit, round_robin="random", seed=1, velocity_exponent=0.0).pieces["crash"]
    b = render(perf, kit, round_robin="random", seed=1, velocity_exponent=0.0).pieces["crash"]
    c = render(perf, kit, round_robin="random", seed=2, velocity_exponent=0.0).pieces["crash"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    picks = set(_values_at(a, [0.01 * i for i in range(40)]))
    assert picks == {0.21, 0.22, 0.23, 0.24}


def test_open_hat_choked_by_next_closed_hit():
    kit = constant_kit(round_robin=1, lengths={"hihat_open": SAMPLE_RATE})  # a 1 s open hat
    perf = performance([(0.0, "hihat_open", 127), (0.2, "hihat_closed", 127), (0.5, "snare", 100)], duration_s=1.0)
    hat = render(perf, kit).pieces["hihat_open"]
    fade = at(CHOKE_FADE_S)
    assert np.all(hat[:, : at(0.2)] == np.float32(0.21))  # rings until the closed hit
    assert np.all(np.diff(hat[0, at(0.2) : at(0.2) + fade]) <= 0)  # then fades
    assert not hat[:, at(0.2) + fade :].any()  # and is silent afterwards
    # without a closed hit it rings for the whole sample
    free = render(performance([(0.0, "hihat_open", 127)], duration_s=1.0), kit).pieces["hihat_open"]
    assert np.all(free[:, : SAMPLE_RATE] == np.float32(0.21))


def test_simultaneous_closed_hit_does_not_choke():
    kit = constant_kit(round_robin=1, lengths={"hihat_open": 4000})
    hat = render(performance([(0.0, "hihat_open", 127), (0.0, "hihat_closed", 127)]), kit).pieces["hihat_open"]
    assert np.all(hat[:, :4000] == np.float32(0.21))


def test_mix_is_exactly_the_sum_of_the_nine_pieces(tmp_path: Path):
    perf = read_drum_midi(write_midi(tmp_path / "g.mid"))
    out = render(perf, make_synthetic_kit(length_scale=0.3), pans={"hi_tom": -0.5}, gains={"crash": 0.5})
    assert list(out.pieces) == list(PIECES)
    total = np.zeros_like(out.mix)
    for piece in PIECES:
        total += out.pieces[piece]
    assert np.array_equal(out.mix, total)
    assert out.mix.dtype == np.float32 and out.mix.shape[0] == 2
    assert all(np.abs(out.pieces[p]).max() > 0 for p in PIECES)


def test_render_is_deterministic(tmp_path: Path):
    perf = read_drum_midi(write_midi(tmp_path / "g.mid"))
    kit = make_synthetic_kit(length_scale=0.3)
    a, b = render(perf, kit, seed=3, round_robin="random"), render(perf, kit, seed=3, round_robin="random")
    assert all(np.array_equal(a.pieces[p], b.pieces[p]) for p in PIECES)


@pytest.mark.parametrize("round_robin", ["cycle", "random"])
@pytest.mark.parametrize("start_s, duration_s", [(0.0, 0.3), (0.37, 0.5), (0.8, 2.0), (5.0, 0.1)])
def test_segment_equals_slice_of_full_render(tmp_path: Path, round_robin, start_s, duration_s):
    perf = read_drum_midi(write_midi(tmp_path / "g.mid"))
    kit = make_synthetic_kit(length_scale=0.3)
    full = render(perf, kit, round_robin=round_robin, seed=5)
    seg = render(perf, kit, round_robin=round_robin, seed=5, start_s=start_s, duration_s=duration_s)
    a, n = at(start_s), at(duration_s)
    for piece in PIECES:
        expected = np.zeros((2, n), np.float32)
        chunk = full.pieces[piece][:, a : a + n]
        expected[:, : chunk.shape[1]] = chunk
        assert np.array_equal(seg.pieces[piece], expected), piece
    assert seg.start_s == pytest.approx(start_s)


def test_full_render_length_includes_tail():
    perf = performance([(0.0, "kick", 100)], duration_s=1.5)
    assert render(perf, constant_kit(), tail_s=0.5).n_samples == at(2.0)


def test_constant_power_pan_and_gain():
    kit = constant_kit(round_robin=1)
    perf = performance([(0.0, "kick", 127)])
    centre = render(perf, kit).pieces["kick"]
    assert centre[0, 1] == pytest.approx(0.21) and centre[1, 1] == pytest.approx(0.21)
    left = render(perf, kit, pans={"kick": -1.0}, gains={"kick": 0.5}).pieces["kick"]
    assert left[0, 1] == pytest.approx(0.21 * 0.5 * np.sqrt(2)) and left[1, 1] == pytest.approx(0.0, abs=1e-9)
    half = render(perf, kit, pans={"kick": 0.5}).pieces["kick"]
    assert half[0, 1] ** 2 + half[1, 1] ** 2 == pytest.approx(2 * 0.21**2)  # constant power
    assert half[1, 1] > half[0, 1]


def test_bad_options():
    kit, perf = constant_kit(), performance([(0.0, "kick", 100)])
    with pytest.raises(OptionError, match="pan of kick must be in"):
        render(perf, kit, pans={"kick": 2.0})
    with pytest.raises(OptionError, match="gains: unknown piece 'cowbell'"):
        render(perf, kit, gains={"cowbell": 1.0})
    with pytest.raises(OptionError, match="round_robin must be 'cycle' or 'random'"):
        render(perf, kit, round_robin="shuffle")
    with pytest.raises(OptionError, match="duration_s must be >= 0"):
        render(perf, kit, duration_s=-1)


def test_missing_piece_stays_silent():
    kit = constant_kit(pieces=("kick", "snare"))
    out = render(performance([(0.0, "kick", 100), (0.1, "ride", 100)]), kit)
    assert out.pieces["kick"].any() and not out.pieces["ride"].any()


def test_pitch_shift_changes_length_not_onset():
    kit = constant_kit(round_robin=1, length=1000)
    perf = performance([(0.01, "kick", 127)])
    up = render_pieces(perf, kit, ["kick"], 0, 3000, pitch_semitones=12.0)[0]
    down = render_pieces(perf, kit, ["kick"], 0, 3000, pitch_semitones=-12.0)[0]
    onset = at(0.01)
    assert not up[:, :onset].any() and not down[:, :onset].any()
    assert np.count_nonzero(np.abs(up[0]) > 0.05) == pytest.approx(500, abs=20)
    assert np.count_nonzero(np.abs(down[0]) > 0.05) == pytest.approx(2000, abs=20)


def test_group_pieces_into_stems():
    pieces = {p: np.full((2, 4), float(i + 1), np.float32) for i, p in enumerate(PIECES)}
    stems = group_pieces(pieces)
    assert list(stems) == list(STEMS)
    for stem in STEMS:
        assert stems[stem][0, 0] == sum(PIECES.index(p) + 1 for p in PIECES_OF_STEM[stem])


def test_render_real_gmd_performance_fast_enough(gmd_root: Path):
    """A smoke check of speed on a real performance (the benchmark measures it properly)."""
    import time

    record = next(r for r in read_gmd(gmd_root, split="train") if 30 < r.duration < 60)
    perf = read_drum_midi(record.midi_path)
    kit = make_synthetic_kit()
    render(perf, kit)  # warm up the kit tables
    t = time.perf_counter()
    out = render(perf, kit)
    elapsed = time.perf_counter() - t
    assert out.n_samples / SAMPLE_RATE / elapsed > 20  # far below the 200x target: CI machines are noisy


def _real_kit(name: str):
    discovery = pytest.importorskip("larsnet.data.discovery")
    names = {e.name for e in discovery.find_kits()}
    if name not in names:
        pytest.skip(f"kit {name!r} not installed (scripts/install-kits.sh)")
    return discovery.get_kit(name)


@pytest.mark.kits
def test_real_kit_renders_all_stems(gmd_root: Path):
    kit = _real_kit("The Black Pearl 1.0")
    record = next(r for r in read_gmd(gmd_root, split="test") if r.duration > 20)
    out = render(read_drum_midi(record.midi_path), kit, start_s=0.0, duration_s=10.0)
    total = np.zeros_like(out.mix)
    for piece in PIECES:
        total += out.pieces[piece]
    assert np.array_equal(out.mix, total)
    stems = out.stems()
    assert np.abs(stems["kick"]).max() > 0.01 and np.abs(stems["snare"]).max() > 0.01
