"""Aggregate per-clip scores into the paper's tables; write them as Markdown, CSV and JSON.

Aggregation rules (the paper's, plus the baseline-to-oracle fraction of issue 4):

- a stem's figure for a group of clips is its nSDR averaged over the clips of the
  group where that stem is *present* (reference RMS above the threshold); every
  method is averaged over the same clips, so rows compare like with like;
- ``mean`` is the mean over stems of those per-stem averages, over the stems present
  in at least one clip of the group (a group without toms averages four stems);
- ``fraction`` per stem is ``(model - mixture) / (oracle - mixture)`` of the
  averages: 0 = no better than the mixture, 1 = as good as the oracle mask; its
  ``mean`` is the same ratio of the ``mean`` column. Silence usually lands about a
  third of the way, so a third means nothing was learned;
- groups: all clips, unseen kits, seen kits (when the clips say), and each kit.

:class:`Report` renders them; :func:`write_report` writes ``results.md``,
``results.csv`` (one row per group and method, stems as columns), ``results.json``
(settings, groups and every clip's scores; :func:`read_report_json` reads it back)
and ``scores.csv`` (one row per clip and stem).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from larsnet.evaluation.protocol import METHOD_LABELS, ClipScores, Evaluation
from larsnet.stems import PIECES, STEM_OF_PIECE

FORMAT = "larsnet-evaluation"
FORMAT_VERSION = 1
MEAN = "mean"
FRACTION_LABEL = "fraction of the way, baseline to oracle"
FILES: dict[str, str] = {"markdown": "results.md", "csv": "results.csv", "json": "results.json", "scores": "scores.csv"}


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def fraction_of_way(model: float | None, baseline: float | None, oracle: float | None) -> float | None:
    """``(model - baseline) / (oracle - baseline)``; None if a value is missing or oracle == baseline."""
    if model is None or baseline is None or oracle is None or oracle == baseline:
        return None
    return (model - baseline) / (oracle - baseline)


@dataclass(frozen=True)
class GroupSummary:
    """Averages over one group of clips.

    ``nsdr[method][stem]`` and ``nsdr[method]["mean"]`` in dB (None: stem present in
    no clip of the group); ``present[stem]``: clips counted for that stem;
    ``fraction[stem | "mean"]``: baseline-to-oracle fraction (None without a model).
    """

    name: str
    kind: str  # "all" | "unseen" | "seen" | "kit"
    clips: int
    present: dict[str, int]
    nsdr: dict[str, dict[str, float | None]]
    fraction: dict[str, float | None]
    kit: str | None = None
    seen: bool | None = None
    transfer: dict[str, dict[str, float | None]] | None = None
    """``transfer[true][estimate]``: mean share of the true stem's energy in each estimate,
    over the group's clips where the true stem is present (None without a model)."""
    piece_transfer: dict[str, dict[str, float]] | None = None
    """``piece_transfer[piece][estimate]``: the same for each drum piece, over the clips
    where the piece is present (None when the clips carry no pieces)."""
    piece_clips: dict[str, int] | None = None
    """Clips counted for each piece of :attr:`piece_transfer`."""

    def worst_fraction(self) -> tuple[str, float] | None:
        """The stem furthest from the oracle, as ``(stem, fraction)``, or None."""
        values = [(s, f) for s, f in self.fraction.items() if s != MEAN and f is not None]
        return min(values, key=lambda item: item[1]) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "kit": self.kit,
            "seen": self.seen,
            "clips": self.clips,
            "present": dict(self.present),
            "nsdr": {m: {s: _finite(v) for s, v in row.items()} for m, row in self.nsdr.items()},
            "fraction": {s: _finite(v) for s, v in self.fraction.items()},
            "transfer": None if self.transfer is None else {
                i: {j: _finite(v) for j, v in row.items()} for i, row in self.transfer.items()
            },
            "piece_transfer": self.piece_transfer,
            "piece_clips": self.piece_clips,
        }


def _piece_means(clips: Sequence[ClipScores], stems: Sequence[str]) -> tuple[dict, dict] | tuple[None, None]:
    """Mean piece -> estimate shares over the clips where each piece is present, pieces
    in :data:`larsnet.stems.PIECES` order (others after, by name)."""
    rows: dict[str, list[dict[str, float]]] = {}
    for clip in clips:
        for piece, row in (clip.piece_transfer or {}).items():
            rows.setdefault(piece, []).append(row)
    if not rows:
        return None, None
    order = sorted(rows, key=lambda p: (PIECES.index(p) if p in PIECES else len(PIECES), p))
    means = {p: {s: math.fsum(r[s] for r in rows[p]) / len(rows[p]) for s in stems} for p in order}
    return means, {p: len(rows[p]) for p in order}


def summarize(
    clips: Sequence[ClipScores],
    stems: Sequence[str],
    methods: Sequence[str],
    *,
    name: str = "all clips",
    kind: str = "all",
    kit: str | None = None,
    seen: bool | None = None,
) -> GroupSummary:
    """Average ``clips`` per method and stem over the clips where the stem is present."""
    present = {stem: [c for c in clips if c.present[stem]] for stem in stems}
    nsdr: dict[str, dict[str, float | None]] = {}
    for method in methods:
        row: dict[str, float | None] = {stem: _mean([c.nsdr[method][stem] for c in present[stem]]) for stem in stems}
        row[MEAN] = _mean([v for s, v in row.items() if v is not None])
        nsdr[method] = row
    fraction: dict[str, float | None] = {}
    if {"model", "mixture", "oracle"} <= set(methods):
        for key in (*stems, MEAN):
            fraction[key] = fraction_of_way(nsdr["model"][key], nsdr["mixture"][key], nsdr["oracle"][key])
    transfer = None
    if any(c.transfer is not None for c in clips):
        transfer = {
            i: {j: _mean([c.transfer[i][j] for c in present[i] if c.transfer is not None]) for j in stems}
            for i in stems
        }
    piece_means, piece_clips = _piece_means(clips, stems)
    return GroupSummary(
        name=name,
        kind=kind,
        clips=len(clips),
        present={stem: len(present[stem]) for stem in stems},
        nsdr=nsdr,
        fraction=fraction,
        kit=kit,
        seen=seen,
        transfer=transfer,
        piece_transfer=piece_means,
        piece_clips=piece_clips,
    )


def group_summaries(evaluation: Evaluation) -> list[GroupSummary]:
    """All clips; unseen kits; seen kits; then each kit (unseen first, then by name)."""
    clips = evaluation.clips
    args = (evaluation.stems, evaluation.methods)
    groups = [summarize(clips, *args)]
    for seen, label in ((False, "unseen kits"), (True, "seen kits")):
        subset = [c for c in clips if c.seen is seen]
        if subset:
            groups.append(summarize(subset, *args, name=label, kind="seen" if seen else "unseen", seen=seen))
    kits: dict[str, bool | None] = {}
    for c in clips:
        kits.setdefault(c.kit, c.seen)
    order = sorted(kits, key=lambda k: ({False: 0, True: 1, None: 2}[kits[k]], k.lower()))
    for kit in order:
        subset = [c for c in clips if c.kit == kit]
        groups.append(summarize(subset, *args, name=f"kit {kit}", kind="kit", kit=kit, seen=kits[kit]))
    return groups


def _db(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _clips(n: int) -> str:
    return f"{n} clip" if n == 1 else f"{n} clips"


def _seen_label(seen: bool | None) -> str:
    return {True: "seen", False: "unseen", None: "seen in training unknown"}[seen]


class Report:
    """Tables of an :class:`Evaluation`: ``groups`` (see :func:`group_summaries`)."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.groups = group_summaries(evaluation)

    @property
    def stems(self) -> tuple[str, ...]:
        return self.evaluation.stems

    def group(self, name: str) -> GroupSummary:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"no group {name!r}; groups are {[g.name for g in self.groups]}")

    # --- Markdown -----------------------------------------------------------------
    def table_markdown(self, group: GroupSummary) -> str:
        """One group as a Markdown table: a row per method, stems and mean as columns."""
        header = ["", *self.stems, MEAN]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines.append("| clips with the stem present | " + " | ".join(str(group.present[s]) for s in self.stems) + " | |")
        for method in self.evaluation.methods:
            row = group.nsdr[method]
            cells = [_db(row[s]) for s in (*self.stems, MEAN)]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
        if group.fraction:
            cells = [_percent(group.fraction[s]) for s in (*self.stems, MEAN)]
            lines.append(f"| {FRACTION_LABEL} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def transfer_markdown(self, group: GroupSummary) -> str:
        """Where each true stem's energy went: rows true stems, columns the model's estimates."""
        assert group.transfer is not None
        lines = ["| true stem \\ estimate | clips | " + " | ".join(self.stems) + " |",
                 "|" + " --- |" * (len(self.stems) + 2)]
        for i in self.stems:
            cells = ["n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"
                     for v in (group.transfer[i][j] for j in self.stems)]
            lines.append(f"| {i} | {group.present[i]} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def piece_transfer_markdown(self, group: GroupSummary) -> str:
        """Where each drum piece's energy went: rows pieces, columns the model's estimates."""
        assert group.piece_transfer is not None and group.piece_clips is not None
        lines = ["| piece \\ estimate | stem | clips | " + " | ".join(self.stems) + " |",
                 "|" + " --- |" * (len(self.stems) + 3)]
        for piece, row in group.piece_transfer.items():
            cells = [f"{100 * row[s]:.1f}%" for s in self.stems]
            lines.append(f"| {piece} | {STEM_OF_PIECE.get(piece, '?')} | {group.piece_clips[piece]} | "
                         + " | ".join(cells) + " |")
        return "\n".join(lines)

    def kits_markdown(self, kits: Sequence[GroupSummary]) -> str:
        """One row per kit: the model's nSDR with its fraction of the way, per stem and mean."""
        header = ["kit", "seen", "clips", *self.stems, MEAN]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for g in kits:
            cells = [
                f"{_db(g.nsdr['model'][s])} ({_percent(g.fraction.get(s))})" for s in (*self.stems, MEAN)
            ]
            seen = {True: "yes", False: "no", None: "?"}[g.seen]
            lines.append(f"| {g.kit} | {seen} | {g.clips} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Settings, the per-kit overview, then one table per group (groups holding all
        the clips, e.g. "unseen kits" when every kit is unseen, are not repeated)."""
        ev = self.evaluation
        lines = ["# Drum separation evaluation (nSDR, dB)", ""]
        for key, value in ev.settings.items():
            lines.append(f"- {key}: {value if value is not None else 'none'}")
        lines.append(f"- clips: {len(ev.clips)}")
        seconds = [c.model_seconds for c in ev.clips if c.model_seconds is not None]
        if seconds:
            audio = math.fsum(c.duration_s for c in ev.clips)
            lines.append(f"- model time: {math.fsum(seconds):.1f} s for {audio:.1f} s of audio "
                         f"({audio / max(math.fsum(seconds), 1e-9):.1f}x real time)")
        lines += [
            f"- a stem counts in a column's average only on clips where it is present "
            f"(reference RMS > {ev.threshold_db:g} dBFS); mean = mean over the stems",
            "- nSDR = 10 log10((mean(s^2) + 1e-7) / (mean((s - s_hat)^2) + 1e-7)) over both channels and all samples",
            "- oracle IRM: |S_j| / sum_k |S_k| on the model's STFT (4096/1024), applied to the mixture, mixture phase",
            "",
        ]
        kits = [g for g in self.groups if g.kind == "kit"]
        if "model" in ev.methods and len(kits) > 1:
            lines += ["## Model per kit (nSDR dB, fraction of the way from baseline to oracle)", "",
                      self.kits_markdown(kits), ""]
        for group in self.groups:
            if group is not self.groups[0] and group.clips == self.groups[0].clips:
                continue  # the same clips as "all clips": the same table
            title = group.name[0].upper() + group.name[1:]
            extra = f", {_seen_label(group.seen)}" if group.kind == "kit" else ""
            lines += [f"## {title} ({_clips(group.clips)}{extra})", "", self.table_markdown(group), ""]
            worst = group.worst_fraction()
            if worst is not None:
                lines += [f"Furthest from the oracle: {worst[0]}, {_percent(worst[1])} of the way.", ""]
            if group.transfer is not None:
                lines += ["Where each stem's energy went: the share of a true stem's energy (row; clips where "
                          "it is present) in each of the model's estimates (column), read from the estimates "
                          "as masks on the mixture. The diagonal is what the stem kept; a row adds up to less "
                          "than 100% where bins are split between estimates (each gets its mask squared).", "",
                          self.transfer_markdown(group), ""]
            if group.piece_transfer is not None:
                lines += ["The same for each drum piece (row; clips where it is present): which piece of a "
                          "stem goes astray, e.g. an open hi-hat heard as a cymbal.", "",
                          self.piece_transfer_markdown(group), ""]
        return "\n".join(lines)

    # --- CSV ----------------------------------------------------------------------
    def to_csv(self) -> str:
        """One row per group and method (and ``clips``, ``fraction``); stems and mean as columns.

        nSDR in dB, fractions as ratios (0.75 = 75%), empty cells where undefined.
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", "kind", "kit", "seen", "row", *self.stems, MEAN])

        def cell(value: float | int | None) -> str:
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                return ""
            return str(value) if isinstance(value, int) else f"{value:.4f}"

        for g in self.groups:
            lead = [g.name, g.kind, g.kit or "", "" if g.seen is None else str(g.seen).lower()]
            writer.writerow([*lead, "clips", *(g.present[s] for s in self.stems), g.clips])
            for method in self.evaluation.methods:
                writer.writerow([*lead, method, *(cell(g.nsdr[method][s]) for s in (*self.stems, MEAN))])
            if g.fraction:
                writer.writerow([*lead, "fraction", *(cell(g.fraction[s]) for s in (*self.stems, MEAN))])
        return out.getvalue()

    def scores_csv(self) -> str:
        """One row per clip and stem: presence, level and every method's nSDR."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        methods = self.evaluation.methods
        writer.writerow(["clip_id", "kit", "performance", "seen", "start_s", "stem", "present", "rms_db",
                         *(f"nsdr_{m}" for m in methods)])
        for c in self.evaluation.clips:
            for stem in self.stems:
                writer.writerow([
                    c.clip_id, c.kit, c.performance, "" if c.seen is None else str(c.seen).lower(),
                    f"{c.start_s:.3f}", stem, int(c.present[stem]),
                    f"{c.rms_db[stem]:.2f}" if math.isfinite(c.rms_db[stem]) else "-inf",
                    *(f"{c.nsdr[m][stem]:.4f}" for m in methods),
                ])
        return out.getvalue()

    # --- JSON ---------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "settings": dict(ev.settings),
            "stems": list(ev.stems),
            "methods": list(ev.methods),
            "threshold_db": ev.threshold_db,
            "groups": [g.to_dict() for g in self.groups],
            "clips": [c.to_dict() for c in ev.clips],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2, allow_nan=False, default=str)


def write_report(report: Report, out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and ``scores.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "markdown": report.to_markdown(),
        "csv": report.to_csv(),
        "json": report.to_json(),
        "scores": report.scores_csv(),
    }
    return write_texts(out, texts, FILES)


def write_texts(out: Path, texts: Mapping[str, str], names: Mapping[str, str]) -> dict[str, Path]:
    """Write each ``texts[key]`` to ``out / names[key]`` atomically; return the paths."""
    paths = {}
    for key, text in texts.items():
        path = out / names[key]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        tmp.replace(path)
        paths[key] = path
    return paths


def evaluation_from_json(data: Mapping[str, Any]) -> Evaluation:
    """Rebuild the :class:`Evaluation` stored in a ``results.json`` document."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document (format={data.get('format')!r})")
    return Evaluation(
        clips=[ClipScores.from_dict(c) for c in data["clips"]],
        stems=tuple(data["stems"]),
        methods=tuple(data["methods"]),
        threshold_db=float(data["threshold_db"]),
        settings=dict(data["settings"]),
    )


def read_report_json(path: str | Path) -> Report:
    """Read a ``results.json`` back into a :class:`Report` (tables recomputed from the clips)."""
    with open(path, encoding="utf-8") as f:
        return Report(evaluation_from_json(json.load(f)))
