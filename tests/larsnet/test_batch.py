"""larsnet.batch with a stand-in separator: discovery, output planning, the batch loop.

The stand-in splits its input into five scaled copies and re-chunks the stream with a
lag, as the real separator does, so the length bookkeeping is exercised for real.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from larsnet.audio import resampled_length
from larsnet.batch import (
    BatchReporter,
    Failure,
    InputFile,
    Job,
    SeparateOptions,
    check_name_template,
    find_audio_files,
    output_paths,
    plan_outputs,
    run_batch,
    separate_file,
)
from larsnet.errors import AudioInputError, OptionError
from larsnet.stems import STEMS

RATE = 44_100
GAINS = dict(zip(STEMS, (0.1, 0.2, 0.3, 0.15, 0.25)))


class ScaledCopies:
    """Stand-in for Separator: stem = gain * input, output re-chunked to 1000 frames."""

    stems = STEMS
    sample_rate = RATE

    def __init__(self, fail_after_chunks: int | None = None):
        self.fail_after_chunks = fail_after_chunks
        self.calls: list[str] = []

    def _split(self, wave: np.ndarray) -> dict[str, np.ndarray]:
        return {s: g * wave for s, g in GAINS.items()}

    def separate_stream(
        self,
        blocks: Iterable[np.ndarray],
        *,
        wiener: float | None = None,
        progress=None,
        total_frames: int | None = None,
        **spatial,
    ) -> Iterator[dict[str, np.ndarray]]:
        self.calls.append("stream")
        self.spatial = spatial
        pending = np.zeros((2, 0), np.float32)
        done = 0
        total = None if total_frames is None else -(-total_frames // 1000)
        for block in blocks:
            assert block.ndim == 2 and block.shape[0] == 2 and block.shape[1] > 0
            pending = np.concatenate([pending, block], axis=1)
            while pending.shape[1] > 1000:  # hold the last chunk back: output lags input
                done += 1
                if self.fail_after_chunks is not None and done > self.fail_after_chunks:
                    raise AudioInputError("stand-in", "failed mid-stream")
                if progress:
                    progress(done, total)
                yield self._split(pending[:, :1000])
                pending = pending[:, 1000:]
        if progress:
            progress(done + 1, total)
        yield self._split(pending)

    def separate(self, audio: np.ndarray, *, wiener=None, mode="overlap", progress=None,
                 **spatial) -> dict[str, np.ndarray]:
        self.calls.append(mode)
        self.spatial = spatial
        if progress:
            progress(1, 1)
        return self._split(audio)


def noise(frames: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (channels, frames)).astype(np.float32)


def make_wav(path: Path, frames: int = 3000, channels: int = 2, rate: int = RATE, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "FLOAT" if path.suffix.lower() in (".wav", ".aiff") else None
    sf.write(str(path), noise(frames, channels, seed).T, rate, subtype=subtype)
    return path


def read(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.T, rate


def rel(files: list[InputFile]) -> list[tuple[str, str]]:
    return [(f.root.as_posix(), f.relative.as_posix()) for f in files]


# --------------------------------------------------------------------------- discovery


def test_folder_is_searched_recursively_keeping_subfolders(tmp_path: Path) -> None:
    make_wav(tmp_path / "in" / "a.wav")
    make_wav(tmp_path / "in" / "live" / "a.flac")
    make_wav(tmp_path / "in" / "live" / "deep" / "b.WAV")
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    (tmp_path / "in" / "._a.wav").write_bytes(b"AppleDouble junk")
    make_wav(tmp_path / "in" / ".hidden" / "c.wav")
    found = find_audio_files([tmp_path / "in"])
    assert found.failures == []
    root = (tmp_path / "in").as_posix()
    assert rel(found.files) == [(root, "a.wav"), (root, "live/a.flac"), (root, "live/deep/b.WAV")]
    assert [f.track for f in found.files] == ["a", "a", "b"]


def test_file_given_directly_has_its_name_as_relative_path(tmp_path: Path) -> None:
    path = make_wav(tmp_path / "x" / "take.aiff")
    found = find_audio_files([str(path)])
    assert rel(found.files) == [((tmp_path / "x").as_posix(), "take.aiff")]


def test_quoted_globs_are_expanded_relative_to_their_fixed_prefix(tmp_path: Path) -> None:
    make_wav(tmp_path / "songs" / "a.wav")
    make_wav(tmp_path / "songs" / "sub" / "b.wav")
    (tmp_path / "songs" / "sub" / "c.mp3.txt").write_text("not audio")
    found = find_audio_files([f"{tmp_path}/songs/**/*.wav"])
    root = (tmp_path / "songs").as_posix()
    assert rel(found.files) == [(root, "a.wav"), (root, "sub/b.wav")]
    # a glob matching folders walks them
    found = find_audio_files([f"{tmp_path}/so*"])
    assert rel(found.files) == [(tmp_path.as_posix(), "songs/a.wav"), (tmp_path.as_posix(), "songs/sub/b.wav")]


def test_relative_glob_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_wav(tmp_path / "a.wav")
    assert rel(find_audio_files(["*.wav"]).files) == [(".", "a.wav")]


def test_inputs_that_give_nothing_are_failures_not_exceptions(tmp_path: Path) -> None:
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    good = make_wav(tmp_path / "ok.wav")
    found = find_audio_files(
        [tmp_path / "missing.wav", tmp_path / "empty_dir", f"{tmp_path}/*.ogg", tmp_path / "doc.pdf", good]
    )
    assert [f.path for f in found.files] == [good]
    messages = [f.message for f in found.failures]
    assert messages[0].endswith("missing.wav: no such file or folder")
    assert "no audio files in this folder or below" in messages[1]
    assert messages[2].endswith("*.ogg: no files match this pattern")
    assert "unsupported file type '.pdf'; supported: .wav, .flac" in messages[3]


def test_output_folder_is_not_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``larsnet separate .`` run twice must not separate the first run's stems."""
    monkeypatch.chdir(tmp_path)
    make_wav(tmp_path / "a.wav")
    make_wav(tmp_path / "separated_stems" / "kick" / "a.wav")
    make_wav(tmp_path / "keep" / "b.wav")
    found = find_audio_files([".", "*"], exclude=["separated_stems"])
    assert rel(found.files) == [(".", "a.wav"), (".", "keep/b.wav")]
    named = find_audio_files(["separated_stems/kick/a.wav"], exclude=["separated_stems"])
    assert [f.path for f in named.files] == [Path("separated_stems/kick/a.wav")]
    result = run_batch(["."], ScaledCopies(), SeparateOptions(bit_depth=32))
    assert [j.input.relative.as_posix() for j in result.separated] == ["a.wav", "keep/b.wav"]


def test_same_file_through_two_specs_is_processed_once(tmp_path: Path) -> None:
    path = make_wav(tmp_path / "in" / "a.wav")
    found = find_audio_files([tmp_path / "in", path, f"{tmp_path}/in/*.wav"])
    assert [f.path for f in found.files] == [path]


# --------------------------------------------------------------------------- planning


def _item(relative: str, root: str = "in") -> InputFile:
    return InputFile(Path(root) / relative, Path(root), Path(relative))


def test_stem_layout_is_the_originals_plus_subfolders() -> None:
    out = output_paths(_item("live/take.flac"), Path("out"), STEMS)
    assert out["kick"] == Path("out/kick/live/take.wav")
    assert output_paths(_item("take.wav"), Path("out"), STEMS)["cymbals"] == Path("out/cymbals/take.wav")


def test_track_layout() -> None:
    out = output_paths(_item("live/take.flac"), Path("out"), STEMS, layout="track")
    assert out["snare"] == Path("out/live/take/snare.wav")


def test_name_template() -> None:
    out = output_paths(_item("live/take.flac"), Path("out"), STEMS, name_template="{reldir}/{track}-{stem}.{ext}")
    assert out["hihat"] == Path("out/live/take-hihat.wav")
    top = output_paths(_item("take.flac"), Path("out"), STEMS, name_template="{reldir}/{track}/{stem}.{ext}")
    assert top["toms"] == Path("out/take/toms.wav")  # an empty reldir does not make the path absolute


@pytest.mark.parametrize(
    "template,message",
    [
        ("{track}/{stme}.{ext}", r"unknown placeholder \{stme\}; use \{track\}, \{stem\}, \{ext\}, \{reldir\}"),
        ("{track}.{ext}", r"lacks \{stem\}: all five stems would go to one file"),
        ("/abs/{stem}.wav", "must stay inside the output folder"),
        ("../{stem}.wav", "must stay inside the output folder"),
        ("{stem", "is malformed"),
    ],
)
def test_bad_name_templates(template: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        check_name_template(template)


def test_equal_names_in_subfolders_never_collide(tmp_path: Path) -> None:
    make_wav(tmp_path / "in" / "a" / "take.wav")
    make_wav(tmp_path / "in" / "b" / "take.wav")
    plan = plan_outputs(find_audio_files([tmp_path / "in"]).files, tmp_path / "out", STEMS)
    assert plan.failures == []
    kicks = [job.outputs["kick"] for job in plan.jobs]
    assert kicks == [tmp_path / "out/kick/a/take.wav", tmp_path / "out/kick/b/take.wav"]


def test_two_inputs_mapping_to_one_output_are_detected(tmp_path: Path) -> None:
    a = make_wav(tmp_path / "a" / "take.wav")
    b = make_wav(tmp_path / "b" / "take.wav")
    plan = plan_outputs(find_audio_files([a, b]).files, tmp_path / "out", STEMS)
    assert [job.input.path for job in plan.jobs] == [a]
    assert len(plan.failures) == 1
    assert plan.failures[0].message == (
        f"{b}: its outputs would overwrite those of {a}; pass the folder that holds both "
        "(subfolders are kept) or use separate -o folders"
    )


def test_output_equal_to_an_input_is_refused(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "kick.wav")
    plan = plan_outputs(find_audio_files([src]).files, tmp_path, STEMS, name_template="{stem}.{ext}")
    assert plan.jobs == []
    assert plan.failures[0].message == f"{src}: output {tmp_path / 'kick.wav'} would overwrite an input file; choose another -o folder"


def test_output_onto_another_input_is_refused(tmp_path: Path) -> None:
    """``-o`` pointed at the input folder: stems of a.wav would land on the input kick/a.wav."""
    make_wav(tmp_path / "a.wav")
    make_wav(tmp_path / "kick" / "a.wav")
    plan = plan_outputs(find_audio_files([tmp_path]).files, tmp_path, STEMS)
    refused = [f.source for f in plan.failures]
    assert refused == [str(tmp_path / "a.wav")]
    assert "would overwrite an input file" in plan.failures[0].message


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf")])
def test_wiener_alpha_must_be_positive(alpha: float) -> None:
    with pytest.raises(OptionError, match=r"-w/--wiener must be > 0, got .*; omit -w to disable"):
        SeparateOptions(wiener=alpha)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"layout": "flat"}, "--layout 'flat' is unknown"),
        ({"mode": "fast"}, "--mode 'fast' is unknown"),
        ({"bit_depth": 8}, "--bit-depth 8 is not supported"),
        ({"name_template": "{track}.wav"}, "lacks"),
    ],
)
def test_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        SeparateOptions(**kwargs)


# --------------------------------------------------------------------------- running


def options(tmp_path: Path, **kw) -> SeparateOptions:
    base = {"out_dir": tmp_path / "out", "bit_depth": 32, "block_frames": 777}
    return SeparateOptions(**{**base, **kw})


class Recorder(BatchReporter):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def batch_started(self, jobs: int) -> None:
        self.events.append(("batch", jobs))

    def file_started(self, job: Job, duration_s: float) -> None:
        self.events.append(("start", job.input.relative.as_posix(), round(duration_s, 3)))

    def file_progress(self, done: int, total: int | None) -> None:
        self.events.append(("progress", done, total))

    def file_finished(self, job: Job, failure: Failure | None) -> None:
        self.events.append(("done", job.input.relative.as_posix(), failure is None))

    def error(self, failure: Failure) -> None:
        self.events.append(("error", failure.message))


@pytest.mark.parametrize("frames", [1, 100, 999, 1000, 1001, 5432])
def test_stems_have_the_input_length_and_content(tmp_path: Path, frames: int) -> None:
    src = make_wav(tmp_path / "in" / "x.wav", frames)
    result = run_batch([src], ScaledCopies(), options(tmp_path))
    assert result.exit_code == 0 and result.failures == []
    x, _ = read(src)
    for stem, gain in GAINS.items():
        y, rate = read(tmp_path / "out" / stem / "x.wav")
        assert rate == RATE and y.shape == (2, frames)
        np.testing.assert_allclose(y, gain * x, atol=1e-7)


def test_mono_input_gives_stereo_stems(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "m.wav", 2000, channels=1)
    run_batch([src], ScaledCopies(), options(tmp_path))
    y, _ = read(tmp_path / "out" / "kick" / "m.wav")
    x, _ = read(src)
    assert y.shape == (2, 2000)
    np.testing.assert_allclose(y, 0.1 * np.repeat(x, 2, axis=0), atol=1e-7)


def test_48k_input_is_written_at_44k1_or_back_at_48k(tmp_path: Path) -> None:
    frames = 48_000 + 17
    t = np.arange(frames) / 48_000
    src = tmp_path / "hi.wav"  # band-limited: what survives 44.1 kHz must come back at 48 kHz
    sf.write(str(src), np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 3000 * t)], axis=1) * 0.5, 48_000, subtype="FLOAT")
    run_batch([src], ScaledCopies(), options(tmp_path, out_dir=tmp_path / "a"))
    y, rate = read(tmp_path / "a" / "snare" / "hi.wav")
    assert rate == 44_100 and y.shape == (2, resampled_length(frames, 48_000, 44_100))

    run_batch([src], ScaledCopies(), options(tmp_path, out_dir=tmp_path / "b", keep_rate=True))
    x, _ = read(src)
    for stem, gain in GAINS.items():
        y, rate = read(tmp_path / "b" / stem / "hi.wav")
        assert rate == 48_000 and y.shape == (2, frames)
        # down and up again: equal to the scaled input away from the ends
        np.testing.assert_allclose(y[:, 2000:-2000], gain * x[:, 2000:-2000], atol=2e-3)


@pytest.mark.parametrize("rate,frames", [(22_050, 1), (96_000, 3), (8_000, 4001)])
def test_keep_rate_length_for_odd_rates_and_tiny_files(tmp_path: Path, rate: int, frames: int) -> None:
    src = make_wav(tmp_path / "odd.wav", frames, rate=rate)
    result = run_batch([src], ScaledCopies(), options(tmp_path, keep_rate=True))
    assert result.exit_code == 0
    y, out_rate = read(tmp_path / "out" / "toms" / "odd.wav")
    assert (out_rate, y.shape[1]) == (rate, frames)


def test_official_mode_uses_the_whole_file_path(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "w.wav", 4000, rate=48_000)
    sep = ScaledCopies()
    run_batch([src], sep, options(tmp_path, mode="official", keep_rate=True))
    assert sep.calls == ["official"]
    y, rate = read(tmp_path / "out" / "kick" / "w.wav")
    assert (rate, y.shape) == (48_000, (2, 4000))


def test_layouts_and_bit_depth_reach_the_files(tmp_path: Path) -> None:
    make_wav(tmp_path / "in" / "sub" / "t.wav")
    run_batch([tmp_path / "in"], ScaledCopies(), options(tmp_path, layout="track", bit_depth=24))
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.wav"))
    assert written == sorted(f"sub/t/{s}.wav" for s in STEMS)
    assert sf.info(str(tmp_path / "out" / "sub" / "t" / "kick.wav")).subtype == "PCM_24"


def test_downmix_option(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "quad.wav", 500, channels=4)
    refused = run_batch([src], ScaledCopies(), options(tmp_path))
    assert refused.exit_code == 1
    assert refused.failures[0].message == f"{src}: 4 channels; pass --downmix to mix them to stereo (downmix=True in Python)"
    assert not (tmp_path / "out").exists()
    mixed = run_batch([src], ScaledCopies(), options(tmp_path, downmix=True))
    assert mixed.exit_code == 0
    assert read(tmp_path / "out" / "kick" / "quad.wav")[0].shape == (2, 500)


def test_batch_goes_on_after_failures_and_summarises(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    make_wav(inp / "1_good.wav", 1200)
    (inp / "2_corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    sf.write(str(inp / "3_empty.wav"), np.zeros((0, 2), np.float32), RATE)
    nan = noise(800)
    nan[1, 123] = np.nan
    sf.write(str(inp / "4_nan.wav"), nan.T, RATE, subtype="FLOAT")
    make_wav(inp / "5_short.wav", 50, channels=1)
    make_wav(inp / "sub" / "6_good.flac", 3000)
    recorder = Recorder()
    result = run_batch([inp, tmp_path / "nowhere"], ScaledCopies(), options(tmp_path), recorder)

    assert result.exit_code == 1
    assert [j.input.relative.as_posix() for j in result.separated] == ["1_good.wav", "5_short.wav", "sub/6_good.flac"]
    summary = result.summary()
    assert summary[0] == "3 of 7 files separated; 4 failed:"
    assert summary[1] == f"  {tmp_path / 'nowhere'}: no such file or folder"
    assert summary[2].startswith(f"  {inp / '2_corrupt.wav'}: cannot be decoded: ")
    assert summary[3] == f"  {inp / '3_empty.wav'}: is empty (0 audio frames)"
    assert summary[4] == f"  {inp / '4_nan.wav'}: contains 1 NaN samples, the first at frame 123 (0.003 s); repair or re-export the file"
    # failed files leave no outputs, not even temp files
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*"))
    assert written == sorted(
        [*STEMS]
        + [f"{s}/1_good.wav" for s in STEMS]
        + [f"{s}/5_short.wav" for s in STEMS]
        + [f"{s}/sub" for s in STEMS]
        + [f"{s}/sub/6_good.wav" for s in STEMS]
    )
    errors = [e[1] for e in recorder.events if e[0] == "error"]
    assert errors == [line.strip() for line in summary[1:]]
    assert ("batch", 6) in recorder.events
    assert ("done", "2_corrupt.wav", False) in recorder.events and ("done", "sub/6_good.flac", True) in recorder.events
    assert ("progress", 2, 2) in recorder.events  # 1200 frames: two stand-in chunks, total known


def test_a_failure_mid_file_leaves_no_partial_stems(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "long.wav", 10_000)
    old = tmp_path / "out" / "kick" / "long.wav"
    make_wav(old, 10)
    before = old.read_bytes()
    result = run_batch([src], ScaledCopies(fail_after_chunks=3), options(tmp_path))
    assert result.exit_code == 1 and "failed mid-stream" in result.failures[0].message
    assert old.read_bytes() == before  # an earlier output survives untouched
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p != old]
    assert leftovers == []


def test_interrupt_mid_file_removes_temp_files(tmp_path: Path) -> None:
    class Interrupted(ScaledCopies):
        def separate_stream(self, blocks, **kw):
            yield from super().separate_stream(blocks, **kw)
            raise KeyboardInterrupt

    src = make_wav(tmp_path / "x.wav", 3000)
    with pytest.raises(KeyboardInterrupt):
        run_batch([src], Interrupted(), options(tmp_path))
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_separator_returning_the_wrong_length_is_a_bug_not_silence(tmp_path: Path) -> None:
    class Short(ScaledCopies):
        def separate_stream(self, blocks, **kw):
            for out in super().separate_stream(blocks, **kw):
                yield {s: a[:, 1:] for s, a in out.items()}

    src = make_wav(tmp_path / "x.wav", 3000)
    with pytest.raises(RuntimeError, match="separator returned"):
        run_batch([src], Short(), options(tmp_path))
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_separate_file_directly(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "x.wav", 2500)
    item = find_audio_files([src]).files[0]
    job = plan_outputs([item], tmp_path / "o", STEMS).jobs[0]
    seen: list[tuple[int, int | None]] = []
    written = separate_file(job, ScaledCopies(), options(tmp_path), progress=lambda d, t: seen.append((d, t)))
    assert set(written) == set(STEMS) and all(p.exists() for p in written.values())
    assert seen[-1] == (3, 3)


def test_no_temp_files_remain_after_success(tmp_path: Path) -> None:
    make_wav(tmp_path / "x.wav", 2000)
    run_batch([tmp_path / "x.wav"], ScaledCopies(), options(tmp_path))
    names = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert sorted(names) == ["x.wav"] * 5


def test_a_write_error_in_the_writer_thread_fails_the_file_cleanly(tmp_path: Path, monkeypatch) -> None:
    """Stems are written by a background thread while the next chunk is separated: a
    disk error there must still fail this file, with its message, and leave nothing."""
    from larsnet.audio import AudioWriter

    original, calls = AudioWriter.write, []

    def failing(self: AudioWriter, block: np.ndarray) -> None:
        calls.append(self.path)
        if len(calls) == 7:  # second chunk, second stem
            raise OptionError(f"{self.path}: cannot write: No space left on device")
        original(self, block)

    monkeypatch.setattr(AudioWriter, "write", failing)
    src = make_wav(tmp_path / "long.wav", 10_000)
    result = run_batch([src], ScaledCopies(), options(tmp_path))
    assert result.exit_code == 1 and "No space left on device" in result.failures[0].message
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
