"""``drumflow run --report``: the page's structure, its numbers, and the page in a real headless browser."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from .helpers import make_loop, registry_with_boom, run_file, write_graph

GRAPH = """
description: report test graph
nodes:
  split: {type: separate, in: drums, params: {model: MODEL}}
  ducked: {type: duck, in: {in: split.cymbals, key: split.kick}, params: {threshold_db: -40, ratio: 6}}
  mix: {type: mix, in: {kick: split.kick, snare: split.snare, cymbals: ducked}}
  out: {type: export, in: mix, params: {path: "{track}/mix.wav"}}
  cym: {type: export, in: ducked, params: {path: "{track}/{stem}.aiff", bit_depth: 16}}
  stems: {type: export, in: split.stems, params: {path: "{track}/stems/{stem}.flac"}}
"""
STEMS = ("kick", "snare", "toms", "hihat", "cymbals")


class Page(HTMLParser):
    """What the tests look at in report.html."""

    def __init__(self, text: str):
        super().__init__()
        self.audio: list[dict[str, str]] = []
        self.images: list[str] = []
        self.output_rows: list[str] = []
        self.node_rows: list[str] = []
        self.tracks: list[str] = []
        self.links: list[str] = []
        self.scripts_with_src: list[str] = []
        self.has_svg = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "audio":
            self.audio.append(a)
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "tr" and a.get("class") == "output-row":
            self.output_rows.append(a["data-path"])
        elif tag == "tr" and a.get("class") == "node-row":
            self.node_rows.append(a["data-node"])
        elif tag == "section" and a.get("class") == "track":
            self.tracks.append(a["data-track"])
        elif tag in ("link", "a") and "href" in a:
            self.links.append(a["href"])
        elif tag == "script" and "src" in a:
            self.scripts_with_src.append(a["src"])
        elif tag == "svg":
            self.has_svg = True


@pytest.fixture
def songs(tmp_path: Path, loop: Path) -> list[Path]:
    return [loop, make_loop(tmp_path / "songs" / "groove two.wav", seconds=1.0, seed=5)]


@pytest.fixture
def graph_file(tmp_path: Path, tiny_model: Path) -> Path:
    return write_graph(tmp_path, GRAPH.replace("MODEL", str(tiny_model)))


def run_report(cli, graph_file: Path, songs: list[Path], out: Path, *extra: str) -> tuple[Page, dict]:
    code, _, err = cli("run", graph_file, *songs, "--out", out, "--report", "--quiet", *extra)
    assert code == 0, err
    manifest = json.loads(max((out / "manifests").glob("*.json"), key=os.path.getmtime).read_text())
    return Page((out / "report.html").read_text(encoding="utf-8")), manifest


def local(out: Path, src: str) -> Path:
    return out / unquote(src)


def test_every_player_and_picture_points_at_a_file_and_every_output_has_a_row(
        cli, graph_file: Path, songs: list[Path], tmp_path: Path, fast_separation) -> None:
    out = tmp_path / "out"
    page, manifest = run_report(cli, graph_file, songs, out)
    assert page.tracks == ["loop", "groove two"]
    for src in [a["src"] for a in page.audio] + page.images + [h for h in page.links if not h.startswith("#")]:
        assert not re.match(r"[a-z]+://", src), src  # relative: opens from disk, no network
        assert local(out, src).is_file(), src
    assert page.scripts_with_src == []
    written = [os.path.relpath(o["path"], out) for t in manifest["tracks"] for o in t["outputs"]]
    assert sorted(page.output_rows) == sorted(written) and len(written) == 2 * (1 + 1 + 5)
    assert page.node_rows == [n for t in manifest["tracks"] for n in t["nodes"]]
    # per track: 7 outputs + 5 stems; stems and the AIFF get Ogg previews, the rest play in place
    assert len(page.audio) == 2 * 12
    by_label = {(a["src"].split("/")[1 if "report_assets" in a["src"] else 0], a["data-label"]): a["src"]
                for a in page.audio}
    assert by_label[("loop", "loop/mix.wav")] == "loop/mix.wav"
    assert by_label[("groove%20two", "groove two/stems/snare.flac")] == "groove%20two/stems/snare.flac"
    assert by_label[("000-loop", "loop/cymbals.aiff")].endswith(".ogg")
    for stem in STEMS:
        assert by_label[("001-groove_two", stem)].startswith("report_assets/001-groove_two/stem-split-")
    assert page.has_svg == bool(shutil.which("dot"))


def test_levels_in_the_table_are_the_files_levels(cli, graph_file: Path, songs: list[Path], tmp_path: Path,
                                                  fast_separation) -> None:
    out = tmp_path / "out"
    run_report(cli, graph_file, songs[:1], out)
    text = (out / "report.html").read_text(encoding="utf-8")
    row = re.search(r'<tr class="output-row" data-path="loop/mix.wav">(.*?)</tr>', text).group(1)
    peak, lufs = (float(v) for v in re.findall(r'<td class="num">(-?[\d.]+) (?:dBFS|LUFS)</td>', row))
    data, rate = sf.read(str(out / "loop" / "mix.wav"), always_2d=True)
    assert peak == pytest.approx(20 * np.log10(np.abs(data).max()), abs=0.05)
    assert lufs == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(data), abs=0.05)


def test_second_run_shows_cache_hits(cli, graph_file: Path, songs: list[Path], tmp_path: Path,
                                     fast_separation) -> None:
    out = tmp_path / "out"
    run_report(cli, graph_file, songs[:1], out)
    page, manifest = run_report(cli, graph_file, songs[:1], out)
    assert manifest["tracks"][0]["nodes"]["split"]["status"] == "cached"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert '<td class="status cached">cached</td>' in text and "1 cache hit(s)" in text
    assert sum(1 for a in page.audio if a["data-label"] in STEMS) == 5  # stems from the cache


def test_without_the_cache_the_report_says_why_there_are_no_stems(cli, graph_file: Path, songs: list[Path],
                                                                  tmp_path: Path, fast_separation) -> None:
    out = tmp_path / "out"
    page, _ = run_report(cli, graph_file, songs[:1], out, "--no-cache")
    assert not any(a["data-label"] in STEMS for a in page.audio)
    assert "stems of &#x27;split&#x27; are not shown" in (out / "report.html").read_text(encoding="utf-8")


def test_errors_are_listed_with_tracebacks(tmp_path: Path, loop: Path) -> None:
    from drumflow.graph import build_graph
    from drumflow.report import write_report
    from drumflow.spec import load_graph

    g = write_graph(tmp_path, """
        nodes:
          bad: {type: boom, in: drums}
          out: {type: export, in: bad}
          good: {type: export, in: drums, params: {path: "{track}/copy.wav"}}
        """)
    out = tmp_path / "out"
    result = run_file(g, [loop], out, registry=registry_with_boom())
    graph = build_graph(load_graph(g), registry_with_boom())
    text = write_report(graph, result.manifest, out, cache_dir=None).read_text(encoding="utf-8")
    errors = text[text.index("<h2>Errors</h2>"):text.index("<h2>Graph</h2>")]
    assert "node <b>bad</b> (boom): boom: the plugin crashed" in errors and "<summary>traceback</summary>" in errors
    assert '<td class="status failed">failed</td>' in text and '<td class="status skipped">skipped</td>' in text
    assert Page(text).output_rows == ["loop/copy.wav"]


def test_png_writer_round_trip() -> None:
    from drumflow.report_assets import png_bytes, spectrogram_image, waveform_image

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    data = png_bytes(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (5, 7, 8, 2)
    length = struct.unpack(">I", data[33:37])[0]
    raw = np.frombuffer(zlib.decompress(data[41:41 + length]), np.uint8).reshape(7, 1 + 5 * 3)
    assert np.all(raw[:, 0] == 0) and np.array_equal(raw[:, 1:].reshape(7, 5, 3), img)
    x = (0.5 * np.sin(np.arange(44100) / 10)).astype(np.float32)[None].repeat(2, 0)
    assert waveform_image(x).shape == (96, 800, 3) and spectrogram_image(x, 44100).shape == (160, 800, 3)
    assert spectrogram_image(np.zeros((1, 10), np.float32), 8000).shape == (160, 800, 3)  # short and silent


# --------------------------------------------------------------------------- in a real browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180, check=False)


def statuses(dom: str) -> dict[str, str]:
    """data-label -> data-status of every <audio> in a dumped DOM."""
    page = Page(dom)
    return {a["data-label"]: a.get("data-status", "") for a in page.audio}


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
def test_report_in_headless_chromium(cli, graph_file: Path, songs: list[Path], tmp_path: Path,
                                     fast_separation) -> None:
    out = tmp_path / "out"
    page, _ = run_report(cli, graph_file, songs[:1], out)
    url = (out / "report.html").resolve().as_uri()
    done = chromium(tmp_path / "profile", "--dump-dom", url)
    assert done.returncode == 0, done.stderr[-2000:]
    marks = statuses(done.stdout)
    assert len(marks) == len(page.audio) == 12
    assert set(marks.values()) == {"ok"}, marks  # every player loaded its file's metadata
    assert done.stdout.count('<div class="media-error">cannot play') == 0  # every warning still hidden
    shot = Path(os.environ.get("DRUMFLOW_SCREENSHOT_DIR", tmp_path)) / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    done = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert struct.unpack(">II", shot.read_bytes()[16:24]) == (1280, 2000)
    # a missing file is caught, and the page says so next to the player
    (out / "loop" / "mix.wav").unlink()
    done = chromium(tmp_path / "profile", "--dump-dom", url)
    marks = statuses(done.stdout)
    assert marks.pop("loop/mix.wav") == "error" and set(marks.values()) == {"ok"}
    assert done.stdout.count('<div class="media-error">cannot play') == 1  # the one unhidden warning
