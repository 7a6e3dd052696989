"""``drumflow run ... --report``: one HTML page to look at and listen to what a run produced.

``<out>/report.html`` holds the graph picture (inline SVG from Graphviz ``dot`` when it
is installed, else the Mermaid text), the run summary, every error, and per track:

- a table of every file written (sample peak in dBFS, integrated loudness in LUFS via
  pyloudnorm, duration, format);
- an audio player, a waveform and a spectrogram per output, and per stem (each audio
  port of a node that outputs stems, i.e. ``separate``);
- the nodes: status (ran / cached / ...), why, seconds (with a bar), warnings.

Everything the page refers to lies in the output folder, by relative URL, so the
folder can be opened from disk or moved as a whole; CSS is inline, there is no network
access and no external script. Files it adds, under ``<out>/report_assets/<NNN>-<track>/``:

- ``*.wave.png``, ``*.spec.png``: pictures (numpy + zlib, see :mod:`drumflow.report_assets`);
- ``*.ogg``: preview audio (Ogg Vorbis) for stems, which are not files of their own
  unless exported, and for outputs a browser cannot play (AIFF). Exported WAV, FLAC,
  Ogg and MP3 files are played where they are.

Stems come from the node-result cache (their keys are in the manifest); with
``--no-cache`` the page says they are not available. Media (players and pictures) are
made for the first :data:`MAX_MEDIA_TRACKS` tracks and the first
:data:`MAX_MEDIA_PER_TRACK` audio outputs of each; the tables list everything.

A small inline script marks each player ``data-status="ok"`` once its metadata loads,
or ``"error"`` (and shows a warning next to it) when its file is missing or cannot be
played; the browser test reads those marks.
"""
from __future__ import annotations

import html
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import numpy as np

from drumflow.graph import Graph
from drumflow.ports import Audio

REPORT_NAME = "report.html"
ASSETS_DIR = "report_assets"
MAX_MEDIA_TRACKS = 50
MAX_MEDIA_PER_TRACK = 24
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
BROWSER_PLAYS = {".wav", ".flac", ".ogg", ".mp3"}


@dataclass
class Media:
    """One player card: a stem or an output file, with its pictures and levels."""

    kind: str  # "stem" | "output"
    label: str
    audio_src: str  # URL relative to the report
    waveform_src: str
    spectrogram_src: str
    seconds: float
    sample_rate: int
    channels: int
    peak_dbfs: float
    lufs: float | None
    note: str = ""


@dataclass
class OutputRow:
    """One file written by the run (a row of the outputs table)."""

    node: str
    path: str  # relative to the output folder
    href: str
    exists: bool
    audio: bool
    seconds: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    format: str = ""
    peak_dbfs: float | None = None
    lufs: float | None = None
    error: str | None = None


@dataclass
class TrackPage:
    name: str
    status: str
    seconds: float
    error: str | None
    nodes: list[tuple[str, dict[str, Any]]]
    outputs: list[OutputRow] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:60] or "x"


def _url(out_dir: Path, path: Path) -> str:
    rel = os.path.relpath(Path(path).resolve(), out_dir.resolve())
    return quote(Path(rel).as_posix())


class _Builder:
    """Collects the per-track pages: reads outputs, loads stems from the cache, writes assets."""

    def __init__(self, graph: Graph, manifest: Mapping[str, Any], out_dir: Path, cache_dir: Path | None):
        self.graph, self.manifest, self.out_dir = graph, manifest, Path(out_dir)
        self.assets = self.out_dir / ASSETS_DIR
        self.cache = None
        if cache_dir is not None:
            from drumflow.cache import Cache

            self.cache = Cache(cache_dir)

    def pages(self) -> list[TrackPage]:
        pages = []
        for i, t in enumerate(self.manifest.get("tracks", [])):
            page = TrackPage(t["track"], t["status"], t.get("seconds", 0.0), t.get("error"),
                             list(t.get("nodes", {}).items()))
            with_media = i < MAX_MEDIA_TRACKS
            folder = self.assets / f"{i:03d}-{_slug(t['track'])}"
            if not with_media and i == MAX_MEDIA_TRACKS:
                page.notes.append(f"players and pictures are made for the first {MAX_MEDIA_TRACKS} tracks only")
            self.outputs(page, t.get("outputs", []), folder if with_media else None)
            if with_media:
                self.stems(page, t, folder)
            pages.append(page)
        return pages

    # -- outputs --------------------------------------------------------------------------
    def outputs(self, page: TrackPage, outputs: list[dict[str, Any]], folder: Path | None) -> None:
        import soundfile as sf

        made = 0
        for o in outputs:
            path = Path(o["path"])
            rel = os.path.relpath(path.resolve(), self.out_dir.resolve())
            row = OutputRow(o["node"], Path(rel).as_posix(), _url(self.out_dir, path), path.is_file(),
                            path.suffix.lower() in AUDIO_SUFFIXES)
            page.outputs.append(row)
            if not (row.exists and row.audio):
                continue
            try:
                data, rate = sf.read(str(path), dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                row.error = f"cannot read: {exc}"
                continue
            x = data.T  # [channels, frames]
            info = sf.info(str(path))
            row.seconds, row.sample_rate, row.channels = x.shape[1] / rate, rate, x.shape[0]
            row.format = f"{info.format} {info.subtype}"
            row.peak_dbfs, row.lufs = _levels(x, rate)
            if folder is None:
                continue
            if made == MAX_MEDIA_PER_TRACK:
                page.notes.append(f"players and pictures are made for the first {MAX_MEDIA_PER_TRACK} "
                                  "audio outputs of a track; the table lists all")
            if made >= MAX_MEDIA_PER_TRACK:
                continue
            made += 1
            name = f"out{made:02d}-{_slug(rel)}"
            src, note = row.href, ""
            if path.suffix.lower() not in BROWSER_PLAYS:
                src = self.preview(folder / f"{name}.ogg", x, rate)
                note = f"{path.suffix.lstrip('.').upper()} is not playable in browsers: the player has an Ogg preview"
            page.media.append(self.media("output", rel, x, rate, folder / name, src, row.peak_dbfs, row.lufs, note))

    # -- stems ----------------------------------------------------------------------------
    def stems(self, page: TrackPage, track: Mapping[str, Any], folder: Path) -> None:
        for nid, node in self.graph.nodes.items():
            if not node.type.stem_outputs:
                continue
            info = track.get("nodes", {}).get(nid)
            if info is None:
                continue
            if info["status"] in ("failed", "skipped"):
                page.notes.append(f"no stems from '{nid}': it {info['status']}")
                continue
            values = self.cached(info.get("key", ""))
            if values is None:
                page.notes.append(f"stems of '{nid}' are not shown: they are read from the cache, and it has "
                                  "no entry for them (run without --no-cache)")
                continue
            for port in node.type.outputs:
                audio = values.get(port.name)
                if not isinstance(audio, Audio):
                    continue
                label = port.name if len(self.stem_nodes()) == 1 else f"{nid}.{port.name}"
                name = f"stem-{_slug(nid)}-{_slug(port.name)}"
                x = audio.samples
                src = self.preview(folder / f"{name}.ogg", x, audio.sample_rate)
                peak, lufs = _levels(x, audio.sample_rate)
                page.media.append(self.media("stem", label, x, audio.sample_rate, folder / name, src, peak, lufs))

    def stem_nodes(self) -> list[str]:
        return [nid for nid, node in self.graph.nodes.items() if node.type.stem_outputs]

    def cached(self, key: str) -> dict[str, Any] | None:
        if self.cache is None or not key or not self.cache.has(key):
            return None
        from drumflow.errors import CacheError

        try:
            return self.cache.load(key)
        except CacheError:
            return None

    # -- files ----------------------------------------------------------------------------
    def preview(self, path: Path, x: np.ndarray, rate: int) -> str:
        from drumflow.report_assets import write_preview

        write_preview(path, x, rate)
        return _url(self.out_dir, path)

    def media(self, kind: str, label: str, x: np.ndarray, rate: int, stem_path: Path, audio_src: str,
              peak: float, lufs: float | None, note: str = "") -> Media:
        from drumflow.report_assets import spectrogram_image, waveform_image, write_png

        wave = write_png(stem_path.with_name(stem_path.name + ".wave.png"), waveform_image(x))
        spec = write_png(stem_path.with_name(stem_path.name + ".spec.png"), spectrogram_image(x, rate))
        return Media(kind, label, audio_src, _url(self.out_dir, wave), _url(self.out_dir, spec), x.shape[1] / rate,
                     rate, x.shape[0], peak, lufs, note)


def _levels(x: np.ndarray, rate: int) -> tuple[float, float | None]:
    from drumflow.report_assets import loudness_lufs, peak_dbfs

    return peak_dbfs(x), loudness_lufs(x, rate)


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --fg: #1d2433; --muted: #5d6679; --line: #dde2ea; --bg: #f5f7fa; --card: #fff;
        --ok: #1d7a46; --bad: #b3261e; --warn: #8a5a00; --accent: #345ca0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
header { background: #1d2433; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
header .sub { color: #c3cad8; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { font-size: 17px; margin: 26px 0 10px; }
h3 { font-size: 14px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.badges { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
.badge { background: #2c3548; border-radius: 12px; padding: 3px 10px; font-size: 12px; }
.badge.bad { background: var(--bad); }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.graph svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.status { font-weight: 600; }
.status.ran { color: var(--accent); } .status.cached, .status.ok { color: var(--ok); }
.status.failed { color: var(--bad); } .status.skipped, .status.unneeded { color: var(--muted); }
.bar { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px; vertical-align: middle; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .title { font-weight: 600; word-break: break-all; }
.card .kind { font-size: 11px; text-transform: uppercase; color: #fff; background: var(--accent);
              border-radius: 3px; padding: 1px 5px; margin-right: 6px; }
.card .kind.stem { background: #7a4da0; }
.card .meta { color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.card audio { width: 100%; height: 36px; }
.card img { display: block; width: 100%; height: auto; margin-top: 6px; border-radius: 3px; image-rendering: auto; }
.media-error { color: var(--bad); font-size: 12px; font-weight: 600; }
.note { color: var(--warn); font-size: 12px; }
.muted { color: var(--muted); font-size: 12px; font-weight: normal; }
.errors { border-left: 4px solid var(--bad); }
.errors li { margin: 4px 0; }
pre { background: #eef1f6; padding: 10px; border-radius: 6px; overflow: auto; font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); }
.track { border-top: 2px solid var(--line); margin-top: 28px; }
"""

_SCRIPT = """
for (const a of document.querySelectorAll('audio')) {
  const mark = (status) => {
    a.dataset.status = status;
    const warn = a.parentElement.querySelector('.media-error');
    if (warn) warn.hidden = status !== 'error';
  };
  a.addEventListener('loadedmetadata', () => mark('ok'));
  a.addEventListener('error', () => mark('error'));
  if (a.readyState >= 1) mark('ok');
  else if (a.error) mark('error');
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _db(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if not np.isfinite(value):
        return f"&minus;&infin; {unit}"
    return f"{value:.1f} {unit}"


def _media_card(m: Media) -> str:
    meta = (f"{m.seconds:.2f} s &middot; {m.sample_rate} Hz &middot; {m.channels} ch &middot; "
            f"peak {_db(m.peak_dbfs, 'dBFS')} &middot; {_db(m.lufs, 'LUFS')}")
    note = f'<div class="note">{_e(m.note)}</div>' if m.note else ""
    return (f'<div class="card {m.kind}" data-kind="{m.kind}">'
            f'<div class="title"><span class="kind {m.kind}">{m.kind}</span>{_e(m.label)}</div>'
            f'<div class="meta">{meta}</div>{note}'
            f'<audio controls preload="metadata" src="{_e(m.audio_src)}" data-label="{_e(m.label)}"></audio>'
            f'<div class="media-error" hidden>cannot play: the file is missing or its format is not supported</div>'
            f'<img class="waveform" src="{_e(m.waveform_src)}" alt="waveform of {_e(m.label)}" loading="lazy">'
            f'<img class="spectrogram" src="{_e(m.spectrogram_src)}" alt="spectrogram of {_e(m.label)}" '
            f'loading="lazy"></div>')


def _outputs_table(rows: list[OutputRow]) -> str:
    if not rows:
        return '<p class="note">no files written</p>'
    body = []
    for r in rows:
        fmt = _e(r.format) if r.format else ("" if r.audio else "not audio")
        if not r.exists:
            fmt = '<span class="media-error">missing</span>'
        elif r.error:
            fmt = f'<span class="media-error">{_e(r.error)}</span>'
        secs = f"{r.seconds:.2f} s" if r.seconds is not None else ""
        body.append(f'<tr class="output-row" data-path="{_e(r.path)}"><td><a href="{_e(r.href)}">{_e(r.path)}</a></td>'
                    f"<td>{_e(r.node)}</td><td class=\"num\">{_db(r.peak_dbfs, 'dBFS') if r.audio else ''}</td>"
                    f"<td class=\"num\">{_db(r.lufs, 'LUFS') if r.audio and r.exists else ''}</td>"
                    f'<td class="num">{secs}</td><td>{fmt}</td></tr>')
    return ('<table class="outputs"><thead><tr><th>file</th><th>node</th><th>sample peak</th>'
            '<th>integrated loudness</th><th>duration</th><th>format</th></tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def _nodes_table(nodes: list[tuple[str, dict[str, Any]]]) -> str:
    longest = max([float(n.get("seconds", 0.0)) for _, n in nodes] + [1e-9])
    body = []
    for nid, n in nodes:
        secs = float(n.get("seconds", 0.0))
        why = _e(n.get("reason", ""))
        for w in n.get("warnings", []):
            why += f'<div class="note">warning: {_e(w)}</div>'
        if n.get("error"):
            why += f'<div class="media-error">{_e(n["error"])}</div>'
        width = max(1, round(120 * secs / longest)) if secs > 0 else 0
        body.append(f'<tr class="node-row" data-node="{_e(nid)}"><td>{_e(nid)}</td><td>{_e(n.get("type", ""))}</td>'
                    f'<td class="status {_e(n.get("status", ""))}">{_e(n.get("status", ""))}</td>'
                    f'<td class="num">{secs:.3f} s</td><td><span class="bar" style="width:{width}px"></span></td>'
                    f"<td>{why}</td></tr>")
    return ('<table class="nodes"><thead><tr><th>node</th><th>type</th><th>status</th><th>time</th><th></th>'
            '<th>why / notes</th></tr></thead><tbody>' + "".join(body) + "</tbody></table>")


def _errors(manifest: Mapping[str, Any]) -> str:
    items = []
    for t in manifest.get("tracks", []):
        if t.get("error"):
            items.append(f"<li>track <b>{_e(t['track'])}</b>: {_e(t['error'])}</li>")
        for nid, n in t.get("nodes", {}).items():
            if n.get("status") == "failed":
                tb = f"<details><summary>traceback</summary><pre>{_e(n['traceback'])}</pre></details>" \
                    if n.get("traceback") else ""
                items.append(f"<li>track <b>{_e(t['track'])}</b>: node <b>{_e(nid)}</b> ({_e(n.get('type', ''))}): "
                             f"{_e(n.get('error', ''))}{tb}</li>")
    for name in manifest.get("summary", {}).get("tracks_not_started", []):
        items.append(f"<li>track <b>{_e(name)}</b>: not started (the run stopped after a failure)</li>")
    if not items:
        return ""
    return f'<h2>Errors</h2><div class="panel errors"><ul>{"".join(items)}</ul></div>'


def _graph_picture(graph: Graph) -> str:
    from drumflow import draw

    svg = draw.to_svg(graph)
    if svg is not None:
        return f'<div class="panel graph">{svg}</div>'
    return ('<div class="panel graph"><p class="note">install Graphviz (apt install graphviz) for a picture; '
            f'the graph as Mermaid text:</p><pre class="mermaid">{_e(draw.to_mermaid(graph))}</pre></div>')


def render(graph: Graph, manifest: Mapping[str, Any], pages: list[TrackPage], footer: str = "") -> str:
    """The report page as one HTML string."""
    s = manifest.get("summary", {})
    g = manifest.get("graph", {})
    failed = s.get("tracks_failed", 0) + len(s.get("tracks_not_started", []))
    badges = [f"{s.get('tracks', len(pages))} track(s)", f"{s.get('tracks', 0) - failed} ok",
              f"{s.get('nodes_run', 0)} node(s) ran", f"{s.get('cache_hits', 0)} cache hit(s)",
              f"{s.get('files_written', 0)} file(s) written", f"{manifest.get('seconds', 0):.2f} s"]
    badge_html = "".join(f'<span class="badge">{_e(b)}</span>' for b in badges)
    if failed or s.get("nodes_failed"):
        badge_html += f'<span class="badge bad">{failed} track(s) failed, {s.get("nodes_failed", 0)} node(s) failed</span>'
    overrides = ", ".join(g.get("overrides", []))
    sub = (f"{_e(g.get('path', ''))}{' &middot; --set ' + _e(overrides) if overrides else ''} &middot; "
           f"started {_e(manifest.get('started', ''))} &middot; {manifest.get('jobs', 1)} job(s) &middot; "
           f"drumflow {_e(manifest.get('drumflow', ''))}")
    desc = f"<p>{_e(graph.spec.description)}</p>" if graph.spec.description else ""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>drumflow report: {_e(graph.spec.path.name)}</title><style>{_CSS}</style></head><body>",
        f'<header><h1>drumflow run report &mdash; {_e(graph.spec.path.name)}</h1><div class="sub">{sub}</div>'
        f'<div class="badges">{badge_html}</div></header><main>',
        _errors(manifest),
        f"<h2>Graph</h2>{desc}{_graph_picture(graph)}",
    ]
    for p in pages:
        status = "ok" if p.status == "ok" else "failed"
        hits = sum(n.get("status") == "cached" for _, n in p.nodes)
        ran = sum(n.get("status") == "ran" for _, n in p.nodes)
        parts.append(f'<section class="track" data-track="{_e(p.name)}"><h2>{_e(p.name)} '
                     f'<span class="status {status}">{status}</span> '
                     f'<small class="muted">{p.seconds:.2f} s &middot; {ran} ran &middot; {hits} cached</small></h2>')
        if p.error:
            parts.append(f'<p class="media-error">{_e(p.error)}</p>')
        for note in p.notes:
            parts.append(f'<p class="note">{_e(note)}</p>')
        parts.append(f"<h3>Outputs</h3>{_outputs_table(p.outputs)}")
        for kind, title in (("output", "Output players"), ("stem", "Stems")):
            cards = [m for m in p.media if m.kind == kind]
            if cards:
                parts.append(f'<h3>{title}</h3><div class="cards">{"".join(_media_card(m) for m in cards)}</div>')
        parts.append(f"<h3>Nodes</h3>{_nodes_table(p.nodes)}</section>")
    if footer:
        parts.append(f'<p class="note">{_e(footer)}</p>')
    parts.append(f"</main><script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def write_report(graph: Graph, manifest: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None) -> Path:
    """Write ``<out_dir>/report.html`` (and its assets) for a finished run; returns its path.

    ``manifest`` is the run manifest (:attr:`drumflow.runner.RunResult.manifest`);
    ``cache_dir`` the run's cache, where the stems are read from (None: no stems).
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    pages = _Builder(graph, manifest, out_dir, cache_dir).pages()
    text = render(graph, manifest, pages, footer=f"report made in {time.perf_counter() - t0:.1f} s")
    path = out_dir / REPORT_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
