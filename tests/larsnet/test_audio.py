"""larsnet.audio: formats, errors users hit, streaming = whole-file, atomic writes, dither."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from larsnet.audio import (
    AudioWriter,
    StreamResampler,
    audio_info,
    file_sha256,
    iter_audio_blocks,
    read_audio,
    resample,
    resampled_length,
    to_stereo,
    write_audio,
)
from larsnet.errors import AudioInputError, OptionError

RATE = 44_100


def tone(frames: int, channels: int = 2, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    """``[channels, frames]`` sines, a different phase per channel so channels differ."""
    t = np.arange(frames) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * freq * t + c) for c in range(channels)]).astype(np.float32)


def write_sf(path: Path, audio: np.ndarray, rate: int = RATE, **kw: str) -> Path:
    """Write with soundfile directly, so reading is tested independently of our writer."""
    sf.write(str(path), audio.T, rate, **kw)
    return path


# --------------------------------------------------------------------------- reading formats

LOSSLESS = [("wav", {}), ("flac", {}), ("aiff", {}), ("aif", {"format": "AIFF"})]
LOSSY = [("ogg", {"format": "OGG", "subtype": "VORBIS"}), ("mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"})]


@pytest.mark.parametrize("ext,kw", LOSSLESS)
def test_read_lossless_formats_round_trip(tmp_path: Path, ext: str, kw: dict) -> None:
    x = tone(4000)
    path = write_sf(tmp_path / f"x.{ext}", x, **kw)
    y, rate = read_audio(path, sample_rate=None)
    assert rate == RATE and y.dtype == np.float32 and y.shape == (2, 4000)
    np.testing.assert_allclose(y, x, atol=2 / 32768)


@pytest.mark.parametrize("ext,kw", LOSSY)
def test_read_lossy_formats_keep_length_and_content(tmp_path: Path, ext: str, kw: dict) -> None:
    x = tone(RATE)
    path = write_sf(tmp_path / f"x.{ext}", x, **kw)
    y, rate = read_audio(path, sample_rate=None)
    assert rate == RATE and y.shape == x.shape
    for c in range(2):
        assert np.corrcoef(x[c, 5000:-5000], y[c, 5000:-5000])[0, 1] > 0.95


def test_upper_case_extension_is_read(tmp_path: Path) -> None:
    path = write_sf(tmp_path / "LOUD.WAV", tone(100))
    assert read_audio(path)[0].shape == (2, 100)


def test_mono_is_duplicated_to_stereo(tmp_path: Path) -> None:
    x = tone(1000, channels=1)
    y, _ = read_audio(write_sf(tmp_path / "m.wav", x, subtype="FLOAT"))
    assert y.shape == (2, 1000)
    np.testing.assert_array_equal(y[0], x[0])
    np.testing.assert_array_equal(y[1], x[0])


def test_audio_shorter_than_one_stft_frame_reads(tmp_path: Path) -> None:
    y, _ = read_audio(write_sf(tmp_path / "tiny.wav", tone(10)))
    assert y.shape == (2, 10)


def test_audio_info(tmp_path: Path) -> None:
    info = audio_info(write_sf(tmp_path / "i.flac", tone(22050, channels=1)))
    assert (info.frames, info.sample_rate, info.channels, info.format) == (22050, RATE, 1, "FLAC")
    assert info.duration_s == pytest.approx(0.5)
    assert info.subtype == "PCM_16"


# --------------------------------------------------------------------------- resampling


def test_48k_is_resampled_to_44k1_keeping_pitch_and_duration(tmp_path: Path) -> None:
    x = tone(48000, rate=48000, freq=1000.0)
    y, rate = read_audio(write_sf(tmp_path / "r.wav", x, 48000, subtype="FLOAT"))
    assert rate == 48000
    assert y.shape == (2, 44100)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert np.argmax(spectrum) * RATE / y.shape[1] == pytest.approx(1000.0, abs=2)


@pytest.mark.parametrize("block", [1, 777, 4096, 100_000])
def test_streamed_blocks_equal_whole_file_read(tmp_path: Path, block: int) -> None:
    """Stateful resampling: block borders leave no trace, whatever the block size."""
    x = tone(9_001, rate=48000)
    path = write_sf(tmp_path / "s.wav", x, 48000, subtype="FLOAT")
    whole, _ = read_audio(path)
    reader = iter_audio_blocks(path, block_frames=block)
    blocks = list(reader)
    assert all(b.shape[0] == 2 and b.shape[1] > 0 and b.dtype == np.float32 for b in blocks)
    streamed = np.concatenate(blocks, axis=1)
    assert streamed.shape == whole.shape == (2, resampled_length(9_001, 48000, RATE))
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    assert (reader.frames_read, reader.frames_out) == (9_001, streamed.shape[1])


def test_streaming_without_resampling_is_exact(tmp_path: Path) -> None:
    x = tone(5000)
    path = write_sf(tmp_path / "s.wav", x, subtype="FLOAT")
    streamed = np.concatenate(list(iter_audio_blocks(path, block_frames=1024, sample_rate=None)), axis=1)
    np.testing.assert_array_equal(streamed, x)


@pytest.mark.parametrize("frames", [1, 7, 1000, 44_099])
@pytest.mark.parametrize("rates", [(48000, 44100), (44100, 48000), (22050, 44100), (96000, 44100)])
def test_resample_lengths(frames: int, rates: tuple[int, int]) -> None:
    a, b = rates
    y = resample(np.ones((2, frames), np.float32), a, b)
    assert y.shape == (2, resampled_length(frames, a, b)) and y.shape[1] >= 1


def test_stream_resampler_hits_a_requested_total() -> None:
    """Writing back at the input rate must restore the input length exactly."""
    n = 12_345
    down = StreamResampler(48000, 44100)
    mid = np.concatenate([down.process(tone(n, rate=48000)), down.flush()], axis=1)
    up = StreamResampler(44100, 48000)
    parts = [up.process(mid[:, i : i + 1000]) for i in range(0, mid.shape[1], 1000)]
    back = np.concatenate(parts + [up.flush(total_frames=n)], axis=1)
    assert back.shape == (2, n)


# --------------------------------------------------------------------------- channels


def test_more_than_two_channels_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = write_sf(tmp_path / "six.wav", tone(500, channels=6))
    with pytest.raises(AudioInputError, match=r"six\.wav: 6 channels; pass --downmix to mix them to stereo"):
        read_audio(path)
    with pytest.raises(AudioInputError, match="6 channels"):
        iter_audio_blocks(path, block_frames=100)


def test_downmix_spreads_channels_and_keeps_level(tmp_path: Path) -> None:
    n = 500
    same = np.repeat(tone(n, channels=1), 4, axis=0)
    y, _ = read_audio(write_sf(tmp_path / "same.wav", same, subtype="FLOAT"), downmix=True)
    np.testing.assert_allclose(y, same[:2], atol=1e-6)  # a signal on every channel keeps its level

    first_only = np.zeros((4, n), np.float32)
    first_only[0] = same[0]
    y = to_stereo(first_only, downmix=True)
    assert np.abs(y[0]).max() > 0 and np.abs(y[1]).max() < 1e-6  # channel 1 is hard left
    last_only = np.zeros((4, n), np.float32)
    last_only[3] = same[0]
    y = to_stereo(last_only, downmix=True)
    assert np.abs(y[1]).max() > 0 and np.abs(y[0]).max() < 1e-6  # the last channel is hard right


def test_downmix_streamed_equals_whole(tmp_path: Path) -> None:
    path = write_sf(tmp_path / "five.wav", tone(3000, channels=5), subtype="FLOAT")
    whole, _ = read_audio(path, downmix=True)
    streamed = np.concatenate(list(iter_audio_blocks(path, block_frames=512, downmix=True)), axis=1)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match=r"nope\.wav: no such file"):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioInputError, match="no such file"):
        iter_audio_blocks(tmp_path / "nope.wav", block_frames=10)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(AudioInputError, match="is a folder, not an audio file"):
        audio_info(tmp_path / "d.wav")


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "z.wav").write_bytes(b"")
    with pytest.raises(AudioInputError, match=r"is empty \(0 bytes\)"):
        read_audio(tmp_path / "z.wav")


def test_file_with_zero_frames(tmp_path: Path) -> None:
    path = write_sf(tmp_path / "e.wav", np.zeros((2, 0), np.float32))
    with pytest.raises(AudioInputError, match=r"e\.wav: is empty \(0 audio frames\)"):
        read_audio(path)
    with pytest.raises(AudioInputError, match="0 audio frames"):
        iter_audio_blocks(path, block_frames=10)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"this is not audio at all " * 40)
    with pytest.raises(AudioInputError, match=r"junk\.mp3: cannot be decoded: .+ — is it really audio\?$"):
        read_audio(path)


def test_truncated_flac_fails_cleanly_while_streaming(tmp_path: Path) -> None:
    path = write_sf(tmp_path / "t.flac", np.random.default_rng(0).uniform(-0.5, 0.5, (2, RATE)).astype(np.float32))
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(AudioInputError, match=r"t\.flac: cannot be decoded"):
        read_audio(path)
    with pytest.raises(AudioInputError, match=r"t\.flac: cannot be decoded"):
        list(iter_audio_blocks(path, block_frames=4096))


def test_nan_and_inf_are_counted_and_located(tmp_path: Path) -> None:
    x = tone(RATE)
    x[0, 22050] = np.nan
    x[1, 30000] = np.nan
    x[1, 40000] = np.inf
    path = write_sf(tmp_path / "bad.wav", x, subtype="FLOAT")
    expected = r"bad\.wav: contains 2 NaN and 1 infinite samples, the first at frame 22050 \(0\.500 s\)"
    with pytest.raises(AudioInputError, match=expected):
        read_audio(path)
    # the streaming reader refuses the file before yielding anything, with the same totals
    with pytest.raises(AudioInputError, match=expected):
        iter_audio_blocks(path, block_frames=1000)


def test_only_inf(tmp_path: Path) -> None:
    x = tone(100)
    x[:, 5] = -np.inf
    with pytest.raises(AudioInputError, match=r"contains 2 infinite samples, the first at frame 5 "):
        read_audio(write_sf(tmp_path / "inf.wav", x, subtype="DOUBLE"))


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("bits,subtype,tol", [(16, "PCM_16", 1.6 / 32768), (24, "PCM_24", 0.51 / 2**23), (32, "FLOAT", 0)])
def test_bit_depths(tmp_path: Path, bits: int, subtype: str, tol: float) -> None:
    x = tone(2000)
    path = write_audio(tmp_path / "o.wav", x, RATE, bit_depth=bits)
    assert sf.info(str(path)).subtype == subtype
    y, _ = read_audio(path, sample_rate=None)
    assert np.abs(y - x).max() <= tol


@pytest.mark.parametrize("ext,fmt", [("wav", "WAV"), ("flac", "FLAC"), ("aiff", "AIFF"), ("ogg", "OGG"), ("mp3", "MP3")])
def test_writer_formats_from_extension(tmp_path: Path, ext: str, fmt: str) -> None:
    x = tone(RATE)
    path = write_audio(tmp_path / f"o.{ext}", x, RATE)
    info = audio_info(path)
    assert info.format == fmt and info.frames == RATE and info.channels == 2
    y, _ = read_audio(path, sample_rate=None)
    assert np.corrcoef(x[0, 5000:-5000], y[0, 5000:-5000])[0, 1] > 0.95


def test_long_ogg_write_does_not_crash(tmp_path: Path) -> None:
    """libsndfile's Vorbis encoder segfaulted on one 60 s write; the writer now writes in blocks."""
    import subprocess
    import sys

    code = ("import numpy as np, sys; from larsnet.audio import AudioWriter\n"
            "x = (np.random.default_rng(0).standard_normal((2, 44100 * 60)) * 0.1).astype(np.float32)\n"
            "with AudioWriter(sys.argv[1], 44100, 2) as w: w.write(x)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "long.ogg")], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert audio_info(tmp_path / "long.ogg").frames == 44100 * 60


def test_explicit_format_overrides_extension(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "o.bin", tone(100), RATE, format="flac")
    assert sf.info(str(path)).format == "FLAC"


def test_unwritable_format_and_flac_float_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"cannot write '\.m4a'; use one of"):
        write_audio(tmp_path / "o.m4a", tone(10), RATE)
    with pytest.raises(OptionError, match="FLAC cannot hold 32-bit float"):
        write_audio(tmp_path / "o.flac", tone(10), RATE, bit_depth=32)
    with pytest.raises(OptionError, match="bit depth 8 is not supported"):
        write_audio(tmp_path / "o.wav", tone(10), RATE, bit_depth=8)
    with pytest.raises(OptionError, match="MP3 MPEG_LAYER_III at 96000 Hz: .*only supports sample rates"):
        write_audio(tmp_path / "o.mp3", tone(10), 96_000)
    with pytest.raises(OptionError, match="Ogg Vorbis cannot be written at 384000 Hz"):
        write_audio(tmp_path / "o.ogg", tone(10), 384_000)  # libvorbis would crash the process
    assert list(tmp_path.iterdir()) == []


def _int16(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="int16", always_2d=True)
    return data


def test_tpdf_dither_only_at_16_bit(tmp_path: Path) -> None:
    level = 0.1 + 0.3 / 32768  # between two 16-bit steps
    x = np.full((2, 20_000), level, np.float32)
    dithered = _int16(write_audio(tmp_path / "d16.wav", x, RATE, bit_depth=16))
    plain = _int16(write_audio(tmp_path / "p16.wav", x, RATE, bit_depth=16, dither=False))
    assert len(np.unique(plain)) == 1
    # TPDF: error within +-1.5 LSB, unbiased, variance 1/6 (dither) + 1/12 (rounding) = 1/4 LSB^2
    err = dithered.astype(np.float64) - level * 32768
    assert len(np.unique(dithered)) >= 3
    assert np.abs(err).max() < 1.5
    assert abs(err.mean()) < 0.02
    assert err.std() == pytest.approx(0.5, abs=0.03)
    # 24 bit and float get no dither even when asked
    y24, _ = sf.read(str(write_audio(tmp_path / "d24.wav", x, RATE, bit_depth=24)), dtype="int32")
    assert len(np.unique(y24)) == 1
    y32, _ = sf.read(str(write_audio(tmp_path / "d32.wav", x, RATE, bit_depth=32)), dtype="float32")
    assert np.all(y32 == np.float32(level))


def test_dither_is_reproducible_per_path(tmp_path: Path) -> None:
    x = np.full((2, 1000), 0.1, np.float32)
    a = _int16(write_audio(tmp_path / "a.wav", x, RATE))
    a2 = _int16(write_audio(tmp_path / "a.wav", x, RATE))
    b = _int16(write_audio(tmp_path / "b.wav", x, RATE))
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("bits", [16, 24])
def test_integer_output_clips_without_wrapping(tmp_path: Path, bits: int) -> None:
    x = np.array([[1.0, 1.5, -1.0, -1.5, 0.999]] * 2, np.float32)
    y, _ = read_audio(write_audio(tmp_path / "c.wav", x, RATE, bit_depth=bits, dither=False), sample_rate=None)
    top = 1 - 2.0 ** (1 - bits)
    np.testing.assert_allclose(y[0], [top, top, -1.0, -1.0, 0.999], atol=2.0 ** (1 - bits))
    assert y.max() < 1.0


def test_float_output_keeps_overs(tmp_path: Path) -> None:
    x = np.array([[1.5, -2.0]] * 2, np.float32)
    y, _ = read_audio(write_audio(tmp_path / "f.wav", x, RATE, bit_depth=32), sample_rate=None)
    np.testing.assert_array_equal(y, x)


def test_writer_streams_blocks_and_creates_folders(tmp_path: Path) -> None:
    x = tone(10_000)
    target = tmp_path / "a" / "b" / "out.flac"
    with AudioWriter(target, RATE, bit_depth=24) as w:
        for i in range(0, 10_000, 3_000):
            w.write(x[:, i : i + 3_000])
        w.write(np.zeros((2, 0), np.float32))
    assert w.frames_written == 10_000
    y, _ = read_audio(target, sample_rate=None)
    np.testing.assert_allclose(y, x, atol=1e-6)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.flac"]


def test_atomic_write_leaves_nothing_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    with pytest.raises(KeyboardInterrupt):
        with AudioWriter(target, RATE) as w:
            w.write(tone(1000))
            assert len(list(tmp_path.iterdir())) == 1  # the temp file, hidden, beside the target
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_on_exception(tmp_path: Path) -> None:
    target = write_sf(tmp_path / "out.wav", tone(50))
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with AudioWriter(target, RATE) as w:
            w.write(tone(1000))
            raise RuntimeError("boom")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_target_that_is_a_folder_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "out.wav").mkdir()
    with pytest.raises(OptionError, match=r"out\.wav: cannot write: Is a directory"):
        write_audio(tmp_path / "out.wav", tone(100), RATE)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_writer_refuses_bad_blocks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"expected a block shaped \(2, frames\)"):
        with AudioWriter(tmp_path / "o.wav", RATE) as w:
            w.write(np.zeros((3, 10), np.float32))
    with pytest.raises(ValueError, match="NaN/inf"):
        with AudioWriter(tmp_path / "o.wav", RATE) as w:
            w.write(np.full((2, 10), np.nan, np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_mono_vector(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "m.wav", tone(100, channels=1)[0], RATE)
    assert audio_info(path).channels == 1


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path, chunk_bytes=7) == hashlib.sha256(data).hexdigest()
