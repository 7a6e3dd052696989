"""``larsnet separate`` and ``larsnet convert`` end to end, with a tiny random LarsNet.

Every bad input of issue 2 item 6 goes through the real command line here: one
``error:`` line each, the batch goes on, a summary, a non-zero exit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from larsnet.audio import read_audio, resampled_length
from larsnet.batch import SeparateOptions, run_batch
from larsnet.checkpoint import load_model_file, save_model
from larsnet.cli import main
from larsnet.separator import Separator
from larsnet.spatial_options import SPATIAL_ITERATIONS
from larsnet.stems import STEMS
from larsnet.unet import UNet

from tests.larsnet.helpers import drum_like, tiny_model, tiny_model_file

RATE = 44_100


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny model gains nothing from threads; on a shared 2-core machine they contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.pt")


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, audio: np.ndarray, rate: int = RATE, **kw: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T, rate, **kw)
    return path


def stem_files(out: Path, relative: str) -> dict[str, Path]:
    return {s: out / s / relative for s in STEMS}


def frames_and_rate(path: Path) -> tuple[int, int]:
    info = sf.info(str(path))
    return info.frames, info.samplerate


# --------------------------------------------------------------------------- the happy paths


def test_folder_of_mixed_formats_end_to_end(tmp_path: Path, model_file: Path, capsys) -> None:
    inp = tmp_path / "in"
    x = drum_like(1.0)
    write(inp / "a.wav", x)
    write(inp / "sub" / "a.flac", drum_like(0.7, rate=48_000, seed=1)[:1], 48_000)  # mono, 48k, same name
    write(inp / "sub" / "b.ogg", x, format="OGG", subtype="VORBIS")
    write(inp / "c.mp3", x, format="MP3", subtype="MPEG_LAYER_III")
    write(inp / "d.aiff", x)
    write(inp / "tiny.wav", x[:, :100])  # shorter than one STFT frame (4096): padded, not refused
    code, out, err = run(capsys, "separate", "-i", inp, "-o", tmp_path / "out", "--model", model_file, "-q")
    assert (code, out, err) == (0, "", "")
    expected = {
        "a.wav": RATE, "sub/a.wav": resampled_length(int(0.7 * 48_000), 48_000, RATE),
        "sub/b.wav": RATE, "c.wav": RATE, "d.wav": RATE, "tiny.wav": 100,
    }
    for relative, frames in expected.items():
        for path in stem_files(tmp_path / "out", relative).values():
            info = sf.info(str(path))
            assert (info.frames, info.samplerate, info.channels, info.subtype) == (frames, RATE, 2, "PCM_16")


def test_cli_output_equals_the_library_and_wiener_is_applied(tmp_path: Path, model_file: Path, capsys) -> None:
    x = drum_like(1.0)
    src = write(tmp_path / "x.wav", x, subtype="FLOAT")
    separator = Separator(load_model_file(model_file))
    for alpha, folder in ((None, "plain"), (1.0, "wiener")):
        args = ["separate", src, "-o", tmp_path / folder, "--model", model_file, "--bit-depth", "32", "-q",
                "--spatial-iterations", "0"]
        assert run(capsys, *args, *(["-w", str(alpha)] if alpha else []))[0] == 0
        stems = {s: read_audio(p, sample_rate=None)[0] for s, p in stem_files(tmp_path / folder, "x.wav").items()}
        expected = separator.separate(x, wiener=alpha)
        for s in STEMS:
            np.testing.assert_allclose(stems[s], expected[s], atol=1e-5)
        total = sum(stems.values())
        if alpha is None:
            assert np.abs(total - x).max() > 0.05  # plain masks do not sum to the mix ...
        else:
            np.testing.assert_allclose(total, x, atol=2e-3)  # ... alpha-Wiener outputs do


def test_cli_spatial_wiener_equals_the_library_and_sums_to_the_mix(tmp_path: Path, model_file: Path, capsys) -> None:
    x = drum_like(1.0)
    x[1] = np.roll(x[1], 30) * 0.8  # a stereo image the filter can use
    src = write(tmp_path / "x.wav", x, subtype="FLOAT")
    args = ["separate", src, "-o", tmp_path / "o", "--model", model_file, "--bit-depth", "32", "-q", "-w", "1",
            "--spatial-iterations", "2"]
    assert run(capsys, *args)[0] == 0
    stems = {s: read_audio(p, sample_rate=None)[0] for s, p in stem_files(tmp_path / "o", "x.wav").items()}
    expected = Separator(load_model_file(model_file)).separate(x, wiener=1.0, spatial_iterations=2)
    for s in STEMS:
        np.testing.assert_allclose(stems[s], expected[s], atol=1e-5)
    np.testing.assert_allclose(sum(stems.values()), x, atol=2e-3)


@pytest.mark.parametrize("mode, rounds", [("overlap", SPATIAL_ITERATIONS), ("official", 0)])
def test_cli_runs_the_spatial_filter_by_default_except_in_the_official_mode(tmp_path: Path, model_file: Path,
                                                                             capsys, mode: str, rounds: int) -> None:
    """Users get the filter (below SPATIAL_MAX_HZ) unless they ask otherwise; the official mode stays the
    authors' inference path."""
    x = drum_like(1.0)
    x[1] = np.roll(x[1], 30) * 0.8
    src = write(tmp_path / "x.wav", x, subtype="FLOAT")
    assert run(capsys, "separate", src, "-o", tmp_path / "o", "--model", model_file, "--bit-depth", "32", "-q",
               "--mode", mode)[0] == 0
    stems = {s: read_audio(p, sample_rate=None)[0] for s, p in stem_files(tmp_path / "o", "x.wav").items()}
    expected = Separator(load_model_file(model_file)).separate(x, mode=mode, spatial_iterations=rounds)
    for s in STEMS:
        np.testing.assert_allclose(stems[s], expected[s], atol=1e-5)
    if rounds:
        np.testing.assert_allclose(sum(stems.values()), x, atol=2e-3)  # the filter's stems sum to the mix


def test_streaming_batch_equals_whole_file_separation_across_chunks(tmp_path: Path) -> None:
    """Small chunks and blocks: many reads, two cross-faded chunks, same result."""
    separator = Separator(tiny_model(), chunk_frames=128, overlap_frames=64)  # ~3 s chunks, ~1.5 s hop
    x = drum_like(3.2)
    assert separator.chunks_for(x.shape[1]) == 2
    src = write(tmp_path / "long.wav", x, subtype="FLOAT")
    options = SeparateOptions(out_dir=tmp_path / "out", bit_depth=32, block_frames=10_000)
    assert run_batch([src], separator, options).exit_code == 0
    expected = separator.separate(x, spatial_iterations=SPATIAL_ITERATIONS)  # the filter runs by default
    for stem, path in stem_files(tmp_path / "out", "long.wav").items():
        np.testing.assert_allclose(read_audio(path, sample_rate=None)[0], expected[stem], atol=1e-5)


def test_keep_rate_writes_back_at_48k_with_the_input_length(tmp_path: Path, model_file: Path, capsys) -> None:
    n = 48_000 + 333
    src = write(tmp_path / "hi.wav", drum_like(n / 48_000, rate=48_000)[:, :n], 48_000)
    assert run(capsys, "separate", src, "-o", tmp_path / "a", "--model", model_file, "-q")[0] == 0
    assert run(capsys, "separate", src, "-o", tmp_path / "b", "--model", model_file, "-q", "--keep-rate")[0] == 0
    for stem in STEMS:
        assert frames_and_rate(tmp_path / "a" / stem / "hi.wav") == (resampled_length(n, 48_000, RATE), RATE)
        assert frames_and_rate(tmp_path / "b" / stem / "hi.wav") == (n, 48_000)


def test_mono_gives_stereo_stems(tmp_path: Path, model_file: Path, capsys) -> None:
    src = write(tmp_path / "m.wav", drum_like(0.5)[:1])
    assert run(capsys, "separate", src, "-o", tmp_path / "o", "--model", model_file, "-q")[0] == 0
    assert sf.info(str(tmp_path / "o" / "kick" / "m.wav")).channels == 2


def test_layouts_templates_bit_depths_and_official_mode(tmp_path: Path, model_file: Path, capsys) -> None:
    src = write(tmp_path / "in" / "live" / "t.wav", drum_like(0.5))
    base = ["separate", tmp_path / "in", "--model", model_file, "-q"]
    assert run(capsys, *base, "-o", tmp_path / "track", "--layout", "track", "--bit-depth", "24")[0] == 0
    assert sf.info(str(tmp_path / "track" / "live" / "t" / "kick.wav")).subtype == "PCM_24"
    template = "{track}__{stem}.{ext}"
    assert run(capsys, *base, "-o", tmp_path / "tpl", "--name-template", template, "--mode", "official")[0] == 0
    assert sorted(p.name for p in (tmp_path / "tpl").iterdir()) == sorted(f"t__{s}.wav" for s in STEMS)
    assert frames_and_rate(tmp_path / "tpl" / "t__toms.wav") == (sf.info(str(src)).frames, RATE)


def test_no_dither_flag_reaches_the_writer(tmp_path: Path, model_file: Path, capsys) -> None:
    src = write(tmp_path / "x.wav", drum_like(0.5), subtype="FLOAT")
    base = ["separate", src, "--model", model_file, "-q"]
    assert run(capsys, *base, "-o", tmp_path / "d")[0] == 0
    assert run(capsys, *base, "-o", tmp_path / "n", "--no-dither")[0] == 0
    d, _ = sf.read(str(tmp_path / "d" / "snare" / "x.wav"), dtype="int16")
    n, _ = sf.read(str(tmp_path / "n" / "snare" / "x.wav"), dtype="int16")
    diff = np.abs(d.astype(int) - n.astype(int))
    assert diff.max() <= 2 and diff.mean() > 0.3  # TPDF moves most samples by at most a step or two


def test_quoted_glob_and_positional_inputs(tmp_path: Path, model_file: Path, capsys) -> None:
    write(tmp_path / "s" / "one.wav", drum_like(0.3))
    write(tmp_path / "s" / "deep" / "two.flac", drum_like(0.3))
    write(tmp_path / "other.wav", drum_like(0.3))
    code, _, _ = run(
        capsys, "separate", f"{tmp_path}/s/**/*.*", "-i", tmp_path / "other.wav", "-o", tmp_path / "o",
        "--model", model_file, "-q",
    )
    assert code == 0
    assert sorted(p.relative_to(tmp_path / "o" / "kick").as_posix() for p in (tmp_path / "o" / "kick").rglob("*.wav")) == [
        "deep/two.wav", "one.wav", "other.wav",
    ]


def test_progress_and_summary_without_quiet(tmp_path: Path, model_file: Path, capsys) -> None:
    write(tmp_path / "a.wav", drum_like(0.3))
    write(tmp_path / "b.wav", drum_like(0.3))
    code, out, err = run(capsys, "separate", tmp_path / "a.wav", tmp_path / "b.wav", "-o", tmp_path / "o", "--model", model_file)
    assert code == 0 and out == ""
    assert "files: 100%" in err and "2/2" in err
    assert err.rstrip().endswith(f"2 of 2 files separated into {tmp_path / 'o'}")


# --------------------------------------------------------------------------- bad input (issue 2, item 6)


def test_bad_inputs_each_get_one_line_and_the_batch_goes_on(tmp_path: Path, model_file: Path, capsys) -> None:
    inp = tmp_path / "in"
    write(inp / "1_ok.wav", drum_like(0.4))
    (inp / "2_corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE" + bytes(range(256)) * 4)
    (inp / "3_zero_bytes.flac").write_bytes(b"")
    write(inp / "4_no_frames.wav", np.zeros((2, 0), np.float32))
    bad = drum_like(0.2)
    bad[0, 4410] = np.inf
    write(inp / "5_inf.wav", bad, subtype="FLOAT")
    write(inp / "6_surround.wav", np.repeat(drum_like(0.2)[:1], 6, axis=0))
    write(inp / "7_short.wav", drum_like(0.2)[:, :1])  # a single frame works
    code, out, err = run(capsys, "separate", inp, tmp_path / "missing.wav", "-o", tmp_path / "out", "--model", model_file, "-q")
    assert code == 1
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [
        f"error: {tmp_path / 'missing.wav'}: no such file or folder",
        f"error: {inp / '2_corrupt.wav'}: cannot be decoded: {errors[1].split('cannot be decoded: ')[1]}",
        f"error: {inp / '3_zero_bytes.flac'}: is empty (0 bytes)",
        f"error: {inp / '4_no_frames.wav'}: is empty (0 audio frames)",
        f"error: {inp / '5_inf.wav'}: contains 1 infinite samples, the first at frame 4410 (0.100 s); repair or re-export the file",
        f"error: {inp / '6_surround.wav'}: 6 channels; pass --downmix to mix them to stereo (downmix=True in Python)",
    ]
    assert errors[1].endswith("— is it really audio?")
    summary = lines[lines.index("2 of 8 files separated; 6 failed:"):]
    assert [s.strip() for s in summary[1:]] == [e.removeprefix("error: ") for e in errors]
    assert sorted(p.name for p in (tmp_path / "out" / "kick").iterdir()) == ["1_ok.wav", "7_short.wav"]
    assert frames_and_rate(tmp_path / "out" / "kick" / "7_short.wav") == (1, RATE)

    code, _, err = run(capsys, "separate", inp / "6_surround.wav", "--downmix", "-o", tmp_path / "dm", "--model", model_file, "-q")
    assert (code, err) == (0, "")
    assert sf.info(str(tmp_path / "dm" / "kick" / "6_surround.wav")).channels == 2


@pytest.mark.parametrize("alpha", ["0", "-0.5", "nan"])
def test_wiener_alpha_must_be_positive(tmp_path: Path, capsys, alpha: str) -> None:
    src = write(tmp_path / "x.wav", drum_like(0.2))
    # checked before the model loads: the missing model is not even looked at
    code, _, err = run(capsys, "separate", src, "-w", alpha, "-o", tmp_path / "o", "--model", tmp_path / "none.pt")
    assert code == 2
    assert err.strip().splitlines() == [f"error: -w/--wiener must be > 0, got {float(alpha)}; omit -w to disable the Wiener filter"]
    assert not (tmp_path / "o").exists()


def test_missing_model(tmp_path: Path, capsys) -> None:
    src = write(tmp_path / "x.wav", drum_like(0.2))
    code, _, err = run(capsys, "separate", src, "--model", tmp_path / "none.pt", "-o", tmp_path / "o")
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'none.pt'}: no such model file or folder")


def test_checkpoint_with_wrong_keys_names_them(tmp_path: Path, model_file: Path, capsys) -> None:
    payload = torch.load(model_file, weights_only=True)
    state = payload["state_dict"]
    state["unets.kick.extra.weight"] = torch.zeros(1)
    del state["unets.snare.enc3.conv.weight"]
    state["unets.toms.dec2.bn.weight"] = torch.zeros(7)
    payload["sha256"] = None  # the digest check would catch the edit first
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    src = write(tmp_path / "x.wav", drum_like(0.2))
    code, _, err = run(capsys, "separate", src, "--model", bad, "-o", tmp_path / "o")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "missing keys unets.snare.enc3.conv.weight" in err
    assert "unexpected keys unets.kick.extra.weight" in err
    assert "wrong shapes unets.toms.dec2.bn.weight (7,) != (16,)" in err


def test_official_folder_with_wrong_shapes_names_them(tmp_path: Path, capsys) -> None:
    for stem in STEMS:  # right layout, wrong size: width-2 U-Nets where width 16 is expected
        folder = tmp_path / "release" / "pretrained_larsnet_models" / stem
        folder.mkdir(parents=True)
        torch.save({"epoch": 1, "model_state_dict": UNet(width=2).state_dict()}, folder / f"pretrained_{stem}_unet.pth")
    src = write(tmp_path / "x.wav", drum_like(0.2))
    code, _, err = run(capsys, "separate", src, "--model", tmp_path / "release", "-o", tmp_path / "o")
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'release' / 'pretrained_larsnet_models' / 'kick' / 'pretrained_kick_unet.pth'}: ")
    assert "kick U-Net does not match the model: wrong shapes enc1.conv.weight (2, 2, 5, 5) != (16, 2, 5, 5)" in err


def test_output_that_would_overwrite_an_input_is_refused(tmp_path: Path, model_file: Path, capsys) -> None:
    src = write(tmp_path / "snare.wav", drum_like(0.3))
    before = src.read_bytes()
    code, _, err = run(capsys, "separate", src, "-o", tmp_path, "--name-template", "{stem}.{ext}", "--model", model_file, "-q")
    assert code == 1
    assert f"error: {src}: output {src} would overwrite an input file; choose another -o folder" in err
    assert src.read_bytes() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_one_clear_line(tmp_path: Path, model_file: Path, capsys) -> None:
    src = write(tmp_path / "x.wav", drum_like(0.2))
    code, _, err = run(capsys, "separate", src, "-d", "cuda", "--model", model_file, "-o", tmp_path / "o")
    assert code == 2
    assert err.strip().splitlines() == ["error: device 'cuda' requested but CUDA is not available here; use -d cpu or -d auto"]
    assert run(capsys, "separate", src, "-d", "auto", "--model", model_file, "-o", tmp_path / "o", "-q")[0] == 0


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "give at least one input"),
        (["x.wav", "-d", "tpu"], "'tpu' is not one of 'cpu', 'cuda', 'mps', 'auto'"),
        (["x.wav", "--bit-depth", "8"], "'8' is not one of '16', '24', '32'"),
        (["x.wav", "--spatial-iterations", "-1"], "-1 is not in the range x>=0"),
        (["x.wav", "--name-template", "{track}.{ext}"], r"error: --name-template '{track}.{ext}' lacks {stem}"),
    ],
)
def test_usage_errors(capsys, args: list[str], message: str) -> None:
    code, _, err = run(capsys, "separate", *args)
    assert code == 2 and message in err


def test_help_lists_the_commands(capsys) -> None:
    code, out, _ = run(capsys, "-h")
    assert code == 0 and "separate" in out and "convert" in out


# --------------------------------------------------------------------------- convert


def test_convert_official_folder(tmp_path: Path, capsys) -> None:
    states = {}
    for i, stem in enumerate(STEMS):
        torch.manual_seed(i)
        unet = UNet()
        states[stem] = unet.state_dict()
        folder = tmp_path / "release" / "pretrained_larsnet_models" / stem
        folder.mkdir(parents=True)
        torch.save({"epoch": 22, "model_state_dict": states[stem], "optimizer_state_dict": {}}, folder / f"pretrained_{stem}_unet.pth")
    code, out, err = run(capsys, "convert", tmp_path / "release", tmp_path / "larsnet.pt")
    assert (code, out, err) == (0, f"wrote {tmp_path / 'larsnet.pt'}\n", "")
    model = load_model_file(tmp_path / "larsnet.pt")
    for stem in STEMS:
        for key, value in states[stem].items():
            assert torch.equal(model.unets[stem].state_dict()[key], value), (stem, key)


def test_convert_errors_are_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "convert", tmp_path / "nothing", tmp_path / "o.pt")
    assert code == 1 and err == f"error: {tmp_path / 'nothing'}: no such folder\n"
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "convert", tmp_path / "empty", tmp_path / "o.pt")
    assert code == 1 and "no official LarsNet checkpoints found" in err
    assert not (tmp_path / "o.pt").exists()


def test_our_model_file_round_trips_through_save(tmp_path: Path, model_file: Path) -> None:
    """The fixture model is a real file of ours (guards the other tests' premise)."""
    again = save_model(load_model_file(model_file), tmp_path / "again.pt")
    assert load_model_file(again).config == load_model_file(model_file).config
