"""Each built-in node type on its own: what users rely on, in numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from drumflow.node import CheckInfo, RunContext
from drumflow.nodes.export import Export, ExportParams
from drumflow.nodes.fx import Fx, FxParams, builtin_plugins
from drumflow.nodes.gain import Gain, GainParams
from drumflow.nodes.mix import Mix, MixParams, pan_gains
from drumflow.nodes.normalize import Normalize, NormalizeParams
from drumflow.nodes.resample import Resample, ResampleParams
from drumflow.nodes.separate import Separate, SeparateParams
from drumflow.ports import STEMS, Audio, StemSet

RATE = 44100


def ctx(tmp_path: Path | None = None, **kw) -> RunContext:
    return RunContext(kw.pop("node_id", "n"), kw.pop("track", "t"), tmp_path or Path("."), kw.pop("seed", 1), **kw)


def noise(frames: int = RATE, channels: int = 2, seed: int = 0, level: float = 0.1) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((level * rng.standard_normal((channels, frames))).astype(np.float32), RATE)


def test_audio_is_frozen_float32() -> None:
    a = Audio(np.zeros((2, 10), dtype=np.float64), 44100.0)
    assert a.samples.dtype == np.float32 and a.sample_rate == 44100 and (a.channels, a.frames) == (2, 10)
    with pytest.raises(ValueError):
        a.samples[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"\(channels, frames\)"):
        Audio(np.zeros(10), RATE)


@pytest.mark.parametrize("db", [-6.0, 0.0, 3.5])
def test_gain_db(db: float) -> None:
    a = noise()
    out = Gain().run({"in": a}, GainParams(gain_db=db), ctx())["out"]
    np.testing.assert_allclose(out.samples, a.samples * 10 ** (db / 20), rtol=1e-6)
    assert out.sample_rate == RATE


def test_mix_sums_with_gain_pan_mute_solo() -> None:
    a, b = noise(seed=1), noise(RATE // 2, seed=2)
    out = Mix().run({"a": a, "b": b}, MixParams(), ctx())["out"].samples
    expect = a.samples.copy()
    expect[:, : RATE // 2] += b.samples
    np.testing.assert_allclose(out, expect, atol=1e-6)  # shorter input zero-padded
    out = Mix().run({"a": a, "b": b}, MixParams(gain_db={"a": -6}, mute=["b"]), ctx())["out"].samples
    np.testing.assert_allclose(out, a.samples * 10 ** (-6 / 20), rtol=1e-5)
    out = Mix().run({"a": a, "b": b}, MixParams(solo=["b"]), ctx())["out"].samples
    np.testing.assert_allclose(out[:, : RATE // 2], b.samples, atol=1e-7)
    hard_right = Mix().run({"a": a}, MixParams(pan={"a": 1.0}), ctx())["out"].samples
    assert np.abs(hard_right[0]).max() < 1e-6
    np.testing.assert_allclose(hard_right[1], a.samples[1] * np.sqrt(2), rtol=1e-5)


def test_pan_law_is_constant_power_and_unity_at_centre() -> None:
    assert pan_gains(0.0) == pytest.approx((1.0, 1.0))
    for p in np.linspace(-1, 1, 9):
        left, right = pan_gains(p)
        assert left**2 + right**2 == pytest.approx(2.0)


def test_mix_rejects_different_rates_with_a_fix() -> None:
    a = noise()
    b = Audio(a.samples, 48000)
    with pytest.raises(ValueError, match=r"different sample rates .* add a resample node"):
        Mix().run({"a": a, "b": b}, MixParams(), ctx())


def test_mix_mono_input_is_centred() -> None:
    mono = noise(channels=1)
    out = Mix().run({"m": mono}, MixParams(), ctx())["out"].samples
    np.testing.assert_allclose(out, np.repeat(mono.samples, 2, axis=0))


def test_normalize_peak() -> None:
    out = Normalize().run({"in": noise()}, NormalizeParams(peak_dbfs=-1.0), ctx())["out"].samples
    assert 20 * np.log10(np.abs(out).max()) == pytest.approx(-1.0, abs=1e-4)


def test_normalize_loudness_measured_by_pyloudnorm() -> None:
    out = Normalize().run({"in": noise(3 * RATE)}, NormalizeParams(loudness_lufs=-23.0), ctx())["out"]
    measured = pyloudnorm.Meter(RATE).integrated_loudness(out.samples.T.astype(np.float64))
    assert measured == pytest.approx(-23.0, abs=0.05)


def test_normalize_loudness_respects_the_ceiling() -> None:
    c = ctx()
    out = Normalize().run({"in": noise(3 * RATE)}, NormalizeParams(loudness_lufs=-5, ceiling_dbfs=-3), c)["out"]
    assert 20 * np.log10(np.abs(out.samples).max()) == pytest.approx(-3.0, abs=1e-4)
    assert "ceiling_dbfs" in c.warnings[0]


def test_normalize_silence_passes_through_with_a_warning() -> None:
    silent = Audio(np.zeros((2, RATE), np.float32), RATE)
    c = ctx()
    out = Normalize().run({"in": silent}, NormalizeParams(loudness_lufs=-14), c)["out"]
    assert out is silent and "silent" in c.warnings[0]


def test_resample_changes_rate_and_length() -> None:
    t = np.arange(RATE) / RATE
    tone = Audio(np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32), RATE)
    out = Resample().run({"in": tone}, ResampleParams(sample_rate=48000), ctx())["out"]
    assert out.sample_rate == 48000 and out.frames == 48000
    spectrum = np.abs(np.fft.rfft(out.samples[0]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)  # 1 s of audio: bin = Hz
    same = Resample().run({"in": tone}, ResampleParams(sample_rate=RATE), ctx())["out"]
    assert same is tone


def test_fx_chain_runs_built_in_plugins() -> None:
    a = noise(level=0.5)
    params = FxParams(chain=[{"plugin": "Gain", "gain_db": -6}, {"plugin": "Compressor", "threshold_db": -30, "ratio": 8}])
    out = Fx().run({"in": a}, params, ctx())["out"]
    assert out.samples.shape == a.samples.shape and out.samples.dtype == np.float32
    assert np.sqrt(np.mean(out.samples**2)) < 0.5 * np.sqrt(np.mean(a.samples**2))
    empty = Fx().run({"in": a}, FxParams(), ctx())["out"]
    np.testing.assert_allclose(empty.samples, a.samples)


def test_fx_is_deterministic_per_call() -> None:
    a = noise()
    params = FxParams(chain=[{"plugin": "Reverb", "room_size": 0.8}])
    one = Fx().run({"in": a}, params, ctx())["out"].samples
    two = Fx().run({"in": a}, params, ctx())["out"].samples
    np.testing.assert_array_equal(one, two)  # a fresh chain per call: no state carried over


def test_fx_enum_and_path_parameters(tmp_path: Path) -> None:
    ir = np.zeros((2, 64), np.float32)
    ir[:, 0] = 1.0
    sf.write(tmp_path / "ir.wav", ir.T, RATE)
    fx = Fx()
    raw = fx.prepare({"chain": [{"plugin": "Convolution", "impulse_response_filename": "ir.wav"},
                                {"plugin": "LadderFilter", "mode": "HPF12", "cutoff_hz": 100}]}, tmp_path)
    params = FxParams.model_validate(raw)
    assert raw["chain"][0]["impulse_response_filename"] == str(tmp_path / "ir.wav")
    assert list(fx.check(params, CheckInfo("f", ("in",), {}))) == []
    out = fx.run({"in": noise()}, params, ctx())["out"]
    assert np.isfinite(out.samples).all()
    assert "files" in fx.fingerprint(params)  # the IR's content is part of the cache key


def test_fx_plugin_catalogue_comes_from_pedalboard() -> None:
    plugins = builtin_plugins()
    assert {"Compressor", "Limiter", "HighpassFilter", "Reverb", "PeakFilter"} <= set(plugins)
    assert set(plugins["Compressor"].params) == {"threshold_db", "ratio", "attack_ms", "release_ms"}
    assert plugins["Convolution"].params["impulse_response_filename"].required


def test_separate_gives_five_stems_and_a_stem_set(tiny_model: Path) -> None:
    node = Separate()
    params = SeparateParams(model=str(tiny_model), wiener=1.0)
    mono_48k = Audio(np.random.default_rng(0).standard_normal((1, 48000)).astype(np.float32) * 0.1, 48000)
    out = node.run({"in": mono_48k}, params, ctx())
    assert set(out) == {"kick", "snare", "toms", "hihat", "cymbals", "stems"}
    assert isinstance(out["stems"], StemSet) and list(out["stems"]) == ["kick", "snare", "toms", "hihat", "cymbals"]
    for name in ("kick", "cymbals"):
        assert out[name].sample_rate == 44100 and out[name].samples.shape == (2, 44100)
        assert out["stems"][name] is out[name]
    assert node.fingerprint(params)["model_sha256"]


def test_separate_spatial_wiener_sums_to_the_input_and_refuses_negative_rounds(tiny_model: Path) -> None:
    rng = np.random.default_rng(1)
    wide = Audio((rng.standard_normal((2, 44100)) * 0.1).astype(np.float32), 44100)
    out = Separate().run({"in": wide}, SeparateParams(model=str(tiny_model), wiener=1.0, spatial_iterations=2), ctx())
    total = sum(out[s].samples for s in ("kick", "snare", "toms", "hihat", "cymbals"))
    assert abs(10 * np.log10(np.mean(total ** 2) / np.mean(wide.samples ** 2))) < 0.1
    assert 10 * np.log10(np.mean((total - wide.samples) ** 2) / np.mean(wide.samples ** 2)) < -30  # (no Nyquist bin)
    plain = Separate().run({"in": wide}, SeparateParams(model=str(tiny_model), wiener=1.0, spatial_iterations=0), ctx())
    assert np.abs(out["kick"].samples - plain["kick"].samples).max() > 1e-4
    with pytest.raises(ValueError, match="spatial_iterations"):
        SeparateParams(spatial_iterations=-1)


@pytest.mark.parametrize("params, expected", [
    ({}, {"spatial_iterations": 2, "spatial_max_hz": 1378.125}),
    ({"spatial_max_hz": 22050.0}, {"spatial_iterations": 2, "spatial_max_hz": 22050.0}),
    ({"mode": "official"}, {}),
    ({"mode": "official", "spatial_iterations": 3}, {"spatial_iterations": 3, "spatial_max_hz": 1378.125}),
    ({"spatial_iterations": 0}, {}),
])
def test_separate_runs_the_spatial_filter_unless_told_otherwise(fast_separation, params, expected) -> None:
    """The node gives users the filter by default; the official mode stays the authors' path."""
    Separate().run({"in": noise()}, SeparateParams(**params), ctx())
    assert fast_separation.spatial == expected
    with pytest.raises(ValueError, match="spatial_max_hz"):
        SeparateParams(spatial_max_hz=0)


def test_separate_prepare_resolves_model_paths(tmp_path: Path) -> None:
    assert Separate().prepare({"model": "default"}, tmp_path) == {"model": "default"}
    assert Separate().prepare({"model": "m.pt"}, tmp_path) == {"model": str(tmp_path / "m.pt")}


@pytest.mark.parametrize("ext, bit_depth, subtype", [
    ("wav", 16, "PCM_16"), ("wav", 24, "PCM_24"), ("wav", 32, "FLOAT"), ("flac", 24, "PCM_24"),
    ("ogg", 16, "VORBIS"), ("mp3", 16, "MPEG_LAYER_III"),
])
def test_export_formats(tmp_path: Path, ext: str, bit_depth: int, subtype: str) -> None:
    a = noise()
    c = ctx(tmp_path, node_id="out", track="song")
    Export().run({"in": a}, ExportParams(path=f"{{track}}/{{node}}.{ext}", bit_depth=bit_depth), c)
    (path,) = c.written
    assert path == tmp_path / "song" / f"out.{ext}"
    info = sf.info(str(path))
    assert info.subtype == subtype and info.samplerate == RATE and info.channels == 2
    if ext in ("wav", "flac"):
        data, _ = sf.read(str(path), dtype="float32")
        np.testing.assert_allclose(data.T, a.samples, atol=2.5 / 2 ** (bit_depth - 1))
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_export_stem_set_writes_one_file_per_stem(tmp_path: Path) -> None:
    stems = StemSet({s: noise(seed=i) for i, s in enumerate(["kick", "snare"])})
    c = ctx(tmp_path, track="t")
    Export().run({"in": stems}, ExportParams(path="{track}/{stem}.wav"), c)
    assert sorted(p.name for p in c.written) == ["kick.wav", "snare.wav"]


def test_export_dither_is_seeded_not_path_dependent(tmp_path: Path) -> None:
    a = noise(level=0.01)
    for folder in ("x", "y"):
        Export().run({"in": a}, ExportParams(path="o.wav", bit_depth=16), ctx(tmp_path / folder, seed=42))
    assert (tmp_path / "x/o.wav").read_bytes() == (tmp_path / "y/o.wav").read_bytes()
    Export().run({"in": a}, ExportParams(path="o.wav", bit_depth=16), ctx(tmp_path / "z", seed=43))
    assert (tmp_path / "x/o.wav").read_bytes() != (tmp_path / "z/o.wav").read_bytes()
    Export().run({"in": a}, ExportParams(path="o.wav", bit_depth=16, dither=False), ctx(tmp_path / "u", seed=1))
    Export().run({"in": a}, ExportParams(path="o.wav", bit_depth=16, dither=False), ctx(tmp_path / "v", seed=2))
    assert (tmp_path / "u/o.wav").read_bytes() == (tmp_path / "v/o.wav").read_bytes()


def test_export_never_overwrites_an_input(tmp_path: Path) -> None:
    song = tmp_path / "t.wav"
    sf.write(song, np.zeros((10, 2)), RATE)
    before = song.read_bytes()
    c = ctx(tmp_path, track="t", protected=frozenset({song}))
    with pytest.raises(ValueError, match=r"is an input file; refusing to overwrite"):
        Export().run({"in": noise()}, ExportParams(path="{track}.wav"), c)
    assert song.read_bytes() == before


def test_export_check_traces_stem(tmp_path: Path) -> None:
    issues = list(Export().check(ExportParams(path="{track}/{stem}.wav"), CheckInfo("o", ("in",), {"in": STEMS})))
    assert issues == []
    planned = Export().planned_outputs(ExportParams(path="{track}/{stem}.wav"), "song", tmp_path, "o", None, STEMS)
    assert [p.name for p in planned] == ["kick.wav", "snare.wav", "toms.wav", "hihat.wav", "cymbals.wav"]
