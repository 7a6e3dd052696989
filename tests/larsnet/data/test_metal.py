"""Procedural metal kits: the modal sum is right, kits are reproducible and behave like hats
and cymbals, and training draws them for the metal stems only."""
import numpy as np
import pytest

from larsnet.data import metal
from larsnet.data.dataset import OnTheFlyDataset, _kits_by_name
from larsnet.data.midi import Hit, Performance
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.stems import SAMPLE_RATE


def _centroid_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x.mean(axis=0))) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / SAMPLE_RATE)
    return float((freqs * spectrum).sum() / spectrum.sum())


def _time_to_db(x: np.ndarray, db: float) -> float:
    env = np.sqrt(np.convolve(x.mean(axis=0) ** 2, np.ones(441) / 441, mode="same"))
    level = 20 * np.log10(env / env.max() + 1e-12)
    peak = int(env.argmax())
    below = np.flatnonzero(level[peak:] < db)
    return (below[0] if len(below) else len(level) - peak) / SAMPLE_RATE


def test_modes_is_the_sum_of_decaying_sines():
    rng = np.random.default_rng(0)
    freqs, amps = rng.uniform(200, 15000, 7), rng.uniform(0.1, 1.0, 7)
    taus, phases = rng.uniform(0.01, 0.5, 7), rng.uniform(0, 2 * np.pi, 7)
    n = 3000  # not a multiple of the block
    t = np.arange(n) / SAMPLE_RATE
    direct = sum(a * np.exp(-t / tau) * np.sin(2 * np.pi * f * t + ph) for f, a, tau, ph in zip(freqs, amps, taus, phases))
    np.testing.assert_allclose(metal._modes(freqs, amps, taus, phases, n, block=256), direct, atol=1e-9)


def test_names_round_trip_and_other_names_are_not_metal():
    assert metal.metal_kit_seed(metal.metal_kit_name(12)) == 12
    assert metal.metal_kit_seed("Audiophob") is None
    assert metal.metal_kit_seed("synthetic-metal-") is None


@pytest.fixture(scope="module")
def kit3():
    return metal.make_metal_kit(3)


def test_a_metal_kit_has_hats_and_cymbals_only_and_sounds(kit3):
    assert set(kit3.pieces) == set(metal.METAL_PIECES)
    assert kit3.name == "synthetic-metal-3"
    for inst in kit3.pieces.values():
        assert len(inst.layers) == metal.LAYERS
        for layer in inst.layers:
            for s in layer.samples:
                assert s.dtype == np.float32 and s.shape[0] == 2 and np.isfinite(s).all()
                assert 0.05 < np.abs(s).max() <= 0.5
                assert not np.allclose(s[0], s[1])  # two microphones, not mono


def test_the_same_seed_gives_the_same_samples_and_another_seed_other_metal(kit3):
    metal.make_metal_kit.cache_clear()
    again = metal.make_metal_kit(3)
    assert again is not kit3
    np.testing.assert_array_equal(again.pieces["crash"].layers[1].samples[0], kit3.pieces["crash"].layers[1].samples[0])
    other = metal.make_metal_kit(4)
    a, b = kit3.pieces["hihat_open"].layers[-1].samples[0], other.pieces["hihat_open"].layers[-1].samples[0]
    assert a.shape != b.shape or not np.allclose(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hats_close_fast_open_hats_ring_and_soft_strokes_are_darker(seed):
    kit = metal.make_metal_kit(seed)
    closed = kit.pieces["hihat_closed"].layers[-1].samples[0]
    opened = kit.pieces["hihat_open"].layers[-1].samples[0]
    assert _time_to_db(closed, -30) < 0.5 < _time_to_db(opened, -30)
    assert _time_to_db(opened, -30) < _time_to_db(kit.pieces["crash"].layers[-1].samples[0], -30) + 3.0
    for piece in ("hihat_open", "crash"):
        layers = kit.pieces[piece].layers
        assert _centroid_hz(layers[0].samples[0]) < _centroid_hz(layers[-1].samples[0])


def test_training_names_generate_metal_kits_drawn_only_for_the_metal_stems():
    base = make_synthetic_kit("Base", length_scale=0.2)
    metals = _kits_by_name(["synthetic-metal-0", "synthetic-metal-1"])
    assert [k.name for k in metals] == ["synthetic-metal-0", "synthetic-metal-1"]
    hits = [Hit(t, piece, 100, 0) for t in np.arange(0.0, 3.0, 0.25)
            for piece in ("kick", "snare", "hihat_closed", "crash", "hi_tom")]
    perf = Performance(hits=sorted(hits, key=lambda h: h.time_s), duration_s=3.0, source="test")
    ds = OnTheFlyDataset([perf], [base, *metals], segment_samples=SAMPLE_RATE, seed=0, examples_per_epoch=30)
    drawn = {stem: set() for stem in ("kick", "snare", "toms", "hihat", "cymbals")}
    for i in range(30):
        _, stems, info = ds.render_example(i)
        assert np.isfinite(stems).all()
        for stem, kit in info["stems"].items():
            drawn[stem].add(kit["kit"])
    assert drawn["kick"] == drawn["snare"] == drawn["toms"] == {"Base"}
    assert {"synthetic-metal-0", "synthetic-metal-1"} <= drawn["hihat"]
    assert {"synthetic-metal-0", "synthetic-metal-1"} <= drawn["cymbals"]
