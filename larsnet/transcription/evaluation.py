"""How well a transcription finds the onsets of known MIDI: F-measure per stem.

The measure is the one of onset detection and drum transcription evaluations (MIREX,
``mir_eval.onset``): an estimated onset is a hit (true positive) when it lies within
``window_s`` (50 ms) of a reference onset of the same stem, each reference and each
estimate matched at most once, with the matching of maximum size. Then::

    precision = TP / (TP + FP)     recall = TP / (TP + FN)     F = 2 TP / (2 TP + FP + FN)

The reference onsets of a stem are the MIDI hits of its pieces (a crash and a ride are
both ``cymbals``), where hits of one stem closer than ``merge_s`` (default 30 ms) count
once: two toms struck together, or a closed hat and a pedal hat, are one onset in the
stem's audio. Scores over many clips add up the counts first (micro average), so a
clip with two hits weighs less than one with two hundred.

Beside the onsets, matched notes are scored for their *piece* (open vs closed hat,
crash vs ride, which tom) and their velocity.
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from larsnet.data.midi import Hit
from larsnet.spatial_options import SPATIAL_MAX_HZ, spatial_kwargs
from larsnet.stems import STEM_OF_PIECE, STEMS
from larsnet.transcription.notes import Note

WINDOW_S = 0.05
MERGE_S = 0.03
FORMAT = "larsnet-transcription-evaluation"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------- matching


def match_onsets(reference: Sequence[float], estimate: Sequence[float], window_s: float = WINDOW_S
                 ) -> list[tuple[int, int]]:
    """Pairs ``(reference index, estimate index)`` of a maximum matching within ``window_s``.

    Both lists in any order. Sorted in time, each reference takes the earliest unmatched
    estimate within its window: on a line, with equal windows, this greedy sweep finds a
    matching of maximum size (exchange argument: a later reference can use any
    estimate an earlier one could, except the earlier ones).
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    ri, ei = np.argsort(ref, kind="stable"), np.argsort(est, kind="stable")
    pairs: list[tuple[int, int]] = []
    j = 0
    tol = 1e-9  # a difference of exactly window_s counts, whatever the float rounding
    for i in ri:
        while j < len(ei) and est[ei[j]] < ref[i] - window_s - tol:
            j += 1
        if j < len(ei) and est[ei[j]] <= ref[i] + window_s + tol:
            pairs.append((int(i), int(ei[j])))
            j += 1
    return pairs


@dataclass(frozen=True)
class OnsetCounts:
    """True positives, false positives (extra estimates), false negatives (missed references)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "OnsetCounts") -> "OnsetCounts":
        return OnsetCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def references(self) -> int:
        return self.tp + self.fn

    @property
    def estimates(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        """TP / (TP + FP); NaN without estimates."""
        return self.tp / self.estimates if self.estimates else math.nan

    @property
    def recall(self) -> float:
        """TP / (TP + FN); NaN without references."""
        return self.tp / self.references if self.references else math.nan

    @property
    def f_measure(self) -> float:
        """2 TP / (2 TP + FP + FN); NaN when there is neither a reference nor an estimate."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else math.nan


def onset_counts(reference: Sequence[float], estimate: Sequence[float], window_s: float = WINDOW_S) -> OnsetCounts:
    """:class:`OnsetCounts` of ``estimate`` against ``reference`` (times in seconds)."""
    tp = len(match_onsets(reference, estimate, window_s))
    return OnsetCounts(tp, len(estimate) - tp, len(reference) - tp)


def merge_close(times: Sequence[float], merge_s: float = MERGE_S) -> np.ndarray:
    """Sorted ``times`` where each one closer than ``merge_s`` to the last kept one is dropped."""
    kept: list[float] = []
    for t in np.sort(np.asarray(times, dtype=np.float64)):
        if not kept or t - kept[-1] >= merge_s:
            kept.append(float(t))
    return np.asarray(kept)


# --------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class TranscriptionExample:
    """One clip to transcribe: the true ``stems`` ``(5, C, L)`` in STEMS order (their sum is
    the mixture), the reference ``hits`` (times relative to the clip start), and
    ``preroll_s`` of audio before the clip that the stems start with (notes found
    there are dropped; it spares the transcriber a sound already ringing at the clip's
    first sample)."""

    clip_id: str
    stems: np.ndarray
    hits: Sequence[Hit]
    kit: str = ""
    performance: str = ""
    start_s: float = 0.0
    duration_s: float = 0.0
    preroll_s: float = 0.0
    sample_rate: int = 44_100

    @property
    def mixture(self) -> np.ndarray:
        mix = np.zeros(self.stems.shape[1:], dtype=np.float32)
        for s in range(self.stems.shape[0]):
            mix += self.stems[s]
        return mix

    def stem_dict(self) -> dict[str, np.ndarray]:
        return {stem: self.stems[i] for i, stem in enumerate(STEMS)}


Transcriber = Callable[[TranscriptionExample], Sequence[Note]]
"""``example -> notes`` (times relative to the start of ``example.stems``, pre-roll included)."""


@dataclass(frozen=True)
class ClipTranscriptionScores:
    """Scores of one clip: onset counts per stem, piece and velocity agreement of matched notes."""

    clip_id: str
    kit: str
    performance: str
    start_s: float
    counts: dict[str, OnsetCounts]
    piece_correct: dict[str, int]
    velocity_pairs: dict[str, list[tuple[int, int]]]  # (reference, estimate) per matched note
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "clip_id": self.clip_id, "kit": self.kit, "performance": self.performance, "start_s": self.start_s,
            "counts": {s: [c.tp, c.fp, c.fn] for s, c in self.counts.items()},
            "piece_correct": dict(self.piece_correct),
            "velocity_pairs": {s: [list(p) for p in v] for s, v in self.velocity_pairs.items()},
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ClipTranscriptionScores":
        pairs = {s: [tuple(p) for p in v] for s, v in data["velocity_pairs"].items()}
        return cls(
            clip_id=data["clip_id"], kit=data["kit"], performance=data["performance"],
            start_s=float(data["start_s"]),
            counts={s: OnsetCounts(*c) for s, c in data["counts"].items()},
            piece_correct={s: int(v) for s, v in data["piece_correct"].items()},
            velocity_pairs=pairs,  # type: ignore[arg-type]
            seconds=float(data.get("seconds", 0.0)),
        )


VelocityPairs = list[tuple[int, int]]
"""(reference velocity, estimated velocity) of each matched note."""


def score_notes(hits: Sequence[Hit], notes: Sequence[Note], *, window_s: float = WINDOW_S, merge_s: float = MERGE_S
                ) -> tuple[dict[str, OnsetCounts], dict[str, int], dict[str, VelocityPairs]]:
    """Onset counts, correct pieces and (reference, estimated) velocities of matched notes, per stem."""
    counts, correct, velocities = {}, {}, {}
    for stem in STEMS:
        stem_hits = sorted((h for h in hits if STEM_OF_PIECE[h.piece] == stem), key=lambda h: h.time_s)
        kept: list[Hit] = []  # one reference per merged group: the loudest hit names its piece
        for h in stem_hits:
            if kept and h.time_s - kept[-1].time_s < merge_s:
                if h.velocity > kept[-1].velocity:
                    kept[-1] = Hit(kept[-1].time_s, h.piece, h.velocity, h.pitch)
                continue
            kept.append(h)
        est = [n for n in notes if n.stem == stem]
        pairs = match_onsets([h.time_s for h in kept], [n.time_s for n in est], window_s)
        counts[stem] = OnsetCounts(len(pairs), len(est) - len(pairs), len(kept) - len(pairs))
        correct[stem] = sum(kept[i].piece == est[j].piece for i, j in pairs)
        velocities[stem] = [(kept[i].velocity, est[j].velocity) for i, j in pairs]
    return counts, correct, velocities


def evaluate_transcription(
    examples: Iterable[TranscriptionExample],
    transcriber: Transcriber,
    *,
    window_s: float = WINDOW_S,
    merge_s: float = MERGE_S,
    progress: Callable[[int, int | None], None] | None = None,
    total: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> "TranscriptionEvaluation":
    """Transcribe every example and score it against its hits (see the module docstring)."""
    clips: list[ClipTranscriptionScores] = []
    for done, ex in enumerate(examples, start=1):
        started = time.perf_counter()
        end = ex.preroll_s + ex.duration_s if ex.duration_s else math.inf
        notes = [Note(n.time_s - ex.preroll_s, n.pitch, n.velocity, n.stem) for n in transcriber(ex)
                 if ex.preroll_s <= n.time_s < end]
        seconds = time.perf_counter() - started
        counts, correct, velocities = score_notes(ex.hits, notes, window_s=window_s, merge_s=merge_s)
        clips.append(ClipTranscriptionScores(
            clip_id=ex.clip_id, kit=ex.kit, performance=ex.performance, start_s=ex.start_s, counts=counts,
            piece_correct=correct, velocity_pairs=velocities, seconds=seconds))
        if progress is not None:
            progress(done, total)
    return TranscriptionEvaluation(clips, window_s=window_s, merge_s=merge_s, settings=dict(settings or {}))


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class StemSummary:
    """Totals of one stem over a group of clips."""

    counts: OnsetCounts
    piece_correct: int
    velocity_mae: float
    velocity_corr: float

    @property
    def piece_accuracy(self) -> float:
        return self.piece_correct / self.counts.tp if self.counts.tp else math.nan


@dataclass
class TranscriptionEvaluation:
    """Per-clip scores and how they were made; :meth:`groups` sums them per kit."""

    clips: list[ClipTranscriptionScores]
    window_s: float = WINDOW_S
    merge_s: float = MERGE_S
    settings: dict[str, Any] = field(default_factory=dict)

    def groups(self) -> list[tuple[str, list[ClipTranscriptionScores]]]:
        """("all clips", every clip), then ("kit NAME", its clips) per kit in name order."""
        kits = sorted({c.kit for c in self.clips})
        out = [("all clips", list(self.clips))]
        if len(kits) > 1:
            out += [(f"kit {k}", [c for c in self.clips if c.kit == k]) for k in kits]
        return out

    @staticmethod
    def summarize(clips: Sequence[ClipTranscriptionScores]) -> dict[str, StemSummary]:
        out = {}
        for stem in STEMS:
            counts = sum((c.counts[stem] for c in clips), OnsetCounts())
            pairs = np.array([p for c in clips for p in c.velocity_pairs[stem]], dtype=np.float64).reshape(-1, 2)
            mae = float(np.abs(pairs[:, 0] - pairs[:, 1]).mean()) if len(pairs) else math.nan
            corr = math.nan
            if len(pairs) > 2 and pairs[:, 0].std() > 0 and pairs[:, 1].std() > 0:
                corr = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
            out[stem] = StemSummary(counts, sum(c.piece_correct[stem] for c in clips), mae, corr)
        return out

    def totals(self, clips: Sequence[ClipTranscriptionScores] | None = None) -> OnsetCounts:
        summary = self.summarize(self.clips if clips is None else clips)
        return sum((s.counts for s in summary.values()), OnsetCounts())

    # --- text ---------------------------------------------------------------------
    def table_markdown(self, clips: Sequence[ClipTranscriptionScores] | None = None) -> str:
        """One Markdown table: a row per stem with F, P, R, counts, piece accuracy, velocity error."""
        summary = self.summarize(self.clips if clips is None else clips)
        lines = ["| stem | F-measure | precision | recall | reference onsets | estimated | piece accuracy "
                 "| velocity MAE | velocity r |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for stem, s in summary.items():
            c = s.counts
            lines.append(f"| {stem} | {_fmt(c.f_measure)} | {_fmt(c.precision)} | {_fmt(c.recall)} | {c.references} "
                         f"| {c.estimates} | {_fmt(s.piece_accuracy)} | {_fmt(s.velocity_mae, 1)} "
                         f"| {_fmt(s.velocity_corr, 2)} |")
        all_counts = sum((s.counts for s in summary.values()), OnsetCounts())
        lines.append(f"| all | {_fmt(all_counts.f_measure)} | {_fmt(all_counts.precision)} | "
                     f"{_fmt(all_counts.recall)} | {all_counts.references} | {all_counts.estimates} |  |  |  |")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        parts = ["# Drum transcription: onset F-measure per stem", ""]
        parts += [f"- {k}: {v}" for k, v in self.settings.items()]
        parts += [f"- onset window: ±{self.window_s * 1000:g} ms; reference hits of one stem closer than "
                  f"{self.merge_s * 1000:g} ms count once; counts summed over clips",
                  "- piece accuracy: matched onsets whose piece (open/closed hat, crash/ride, which tom) is right",
                  ""]
        for name, clips in self.groups():
            parts += [f"## {name} ({len(clips)} clips)", "", self.table_markdown(clips), ""]
        return "\n".join(parts)  # ends with one newline

    def to_csv(self) -> str:
        """One row per group and stem: counts, precision, recall, F, piece accuracy, velocity."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["group", "clips", "stem", "tp", "fp", "fn", "precision", "recall", "f_measure", "piece_accuracy",
                    "velocity_mae", "velocity_r"])
        for name, clips in self.groups():
            for stem, s in self.summarize(clips).items():
                c = s.counts
                w.writerow([name, len(clips), stem, c.tp, c.fp, c.fn, _cell(c.precision), _cell(c.recall),
                            _cell(c.f_measure), _cell(s.piece_accuracy), _cell(s.velocity_mae), _cell(s.velocity_corr)])
        return out.getvalue()

    def scores_csv(self) -> str:
        """One row per clip and stem."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["clip_id", "kit", "performance", "start_s", "stem", "tp", "fp", "fn", "f_measure"])
        for c in self.clips:
            for stem, k in c.counts.items():
                w.writerow([c.clip_id, c.kit, c.performance, f"{c.start_s:.3f}", stem, k.tp, k.fp, k.fn,
                            _cell(k.f_measure)])
        return out.getvalue()

    def to_json_dict(self) -> dict[str, Any]:
        groups = []
        for name, clips in self.groups():
            groups.append({"name": name, "clips": len(clips), "stems": {
                stem: {"tp": s.counts.tp, "fp": s.counts.fp, "fn": s.counts.fn,
                       "precision": _num(s.counts.precision), "recall": _num(s.counts.recall),
                       "f_measure": _num(s.counts.f_measure), "piece_accuracy": _num(s.piece_accuracy),
                       "velocity_mae": _num(s.velocity_mae), "velocity_r": _num(s.velocity_corr)}
                for stem, s in self.summarize(clips).items()}})
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "settings": self.settings,
                "window_s": self.window_s, "merge_s": self.merge_s, "groups": groups,
                "clips": [c.to_dict() for c in self.clips]}

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2, allow_nan=False, default=str)


FILES = {"markdown": "transcription.md", "csv": "transcription.csv", "json": "transcription.json",
         "scores": "transcription_scores.csv"}


def write_transcription_report(evaluation: TranscriptionEvaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write transcription.md, .csv, .json and transcription_scores.csv into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {"markdown": evaluation.to_markdown(), "csv": evaluation.to_csv(), "json": evaluation.to_json(),
             "scores": evaluation.scores_csv()}
    from larsnet.evaluation.report import write_texts

    return write_texts(out, texts, FILES)


def read_transcription_json(path: str | Path) -> TranscriptionEvaluation:
    """A ``transcription.json`` back into a :class:`TranscriptionEvaluation`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} document (format={data.get('format')!r})")
    return TranscriptionEvaluation([ClipTranscriptionScores.from_dict(c) for c in data["clips"]],
                                   window_s=float(data["window_s"]), merge_s=float(data["merge_s"]),
                                   settings=dict(data["settings"]))


# --------------------------------------------------------------------------- sources


def transcription_examples(eval_set: Any, *, preroll_s: float = 1.0) -> Iterator[TranscriptionExample]:
    """The clips of a :class:`larsnet.data.dataset.FixedEvalSet` with their hits, rendered lazily."""
    for index, clip in enumerate(eval_set.clips):
        _, stems = eval_set.render(index, preroll_s=preroll_s)
        yield TranscriptionExample(
            clip_id=f"{clip.performance}@{clip.start_s:.3f}s/{clip.kit}", stems=stems, hits=eval_set.hits(index),
            kit=clip.kit, performance=clip.performance, start_s=float(clip.start_s),
            duration_s=float(clip.duration_s), preroll_s=preroll_s)


def stems_transcriber(transcribe: Callable[..., Sequence[Note]], **options: Any) -> Transcriber:
    """Transcribe the example's true stems (the ceiling of the onset detector alone)."""
    def run(ex: TranscriptionExample) -> Sequence[Note]:
        return transcribe(ex.stem_dict(), ex.sample_rate, **options)

    return run


def separator_transcriber(separator: Any, transcribe: Callable[..., Sequence[Note]], *, wiener: float | None = None,
                          spatial_iterations: int = 0, spatial_max_hz: float = SPATIAL_MAX_HZ,
                          **options: Any) -> Transcriber:
    """Separate the example's mixture with ``separator``, then transcribe its stems (the full pipeline)."""
    extra = spatial_kwargs(spatial_iterations, spatial_max_hz)

    def run(ex: TranscriptionExample) -> Sequence[Note]:
        stems = separator.separate(ex.mixture, wiener=wiener, **extra)
        return transcribe({s: stems[s] for s in STEMS}, ex.sample_rate, **options)

    return run


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _cell(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.4f}"


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)
