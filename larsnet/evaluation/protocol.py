"""Run the paper's evaluation over clips: nSDR per clip, stem and method.

A clip is a mixture with its true stems and what is known about it (kit, performance,
whether the model saw the kit in training): :class:`EvalExample`. An estimator is any
callable ``mixture[2, L] -> {stem: estimate[2, L]}``; :func:`separator_estimator`
wraps a :class:`larsnet.separator.Separator`. :func:`evaluate` scores, on the same
clips, four methods:

``model``
    the estimator's output (left out when no estimator is given);
``mixture``
    the mixture as the estimate of every stem (the baseline any model must beat);
``oracle``
    the oracle ideal ratio mask (:func:`larsnet.evaluation.metrics.oracle_irm`), the
    ceiling of any magnitude-mask model with mixture phase;
``silence``
    all zeros: exactly 0 dB by construction, listed because a model whose stem
    collapsed to silence scores it too.

Every clip gets a score for every stem; whether the stem counts in an average
(present: RMS above -60 dBFS) is recorded beside it and applied by
:mod:`larsnet.evaluation.report`.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from larsnet.evaluation.metrics import (
    PRESENCE_THRESHOLD_DB, nsdr, oracle_irm, piece_transfer, rms_db)
from larsnet.spatial_options import SPATIAL_MAX_HZ, spatial_kwargs
from larsnet.stems import STEMS
from larsnet.stft import Stft

Estimator = Callable[[np.ndarray], Mapping[str, np.ndarray]]
"""``mixture[2, L] -> {stem: estimate[2, L]}``; extra keys are ignored."""

Progress = Callable[[int, "int | None"], None]
"""``progress(done_clips, total_clips_or_None)``, called after every clip."""

METHODS: tuple[str, ...] = ("model", "mixture", "oracle", "silence")
"""Methods scored on every clip, in table order."""

METHOD_LABELS: dict[str, str] = {
    "model": "model",
    "mixture": "mixture as estimate (baseline)",
    "oracle": "oracle IRM (ceiling)",
    "silence": "silence as estimate",
}


@dataclass(frozen=True)
class EvalExample:
    """One evaluation clip: ``mixture[C, L]``, ``stems[S, C, L]`` (in ``stem_names`` order).

    ``seen`` says whether the model was trained on ``kit`` (None when unknown);
    ``performance`` identifies the source (e.g. GMD's ``drummer1/eval_session/...``)
    and ``start_s`` where in it the clip starts.
    """

    clip_id: str
    mixture: np.ndarray
    stems: np.ndarray
    kit: str = ""
    performance: str = ""
    seen: bool | None = None
    start_s: float = 0.0
    sample_rate: int = 44_100
    stem_names: tuple[str, ...] = STEMS
    pieces: Mapping[str, np.ndarray] | None = None
    """The drum pieces the stems were summed from (piece -> ``(C, L)``), when the source
    has them (our renders, StemGMD folders), for the per-piece energy table."""

    def __post_init__(self) -> None:
        mix = np.asarray(self.mixture)
        stems = np.asarray(self.stems)
        for piece, audio in (self.pieces or {}).items():
            if np.shape(audio) != mix.shape:
                raise ValueError(f"clip {self.clip_id}: piece {piece} is shaped {np.shape(audio)}, "
                                 f"the mixture {mix.shape}")
        if mix.ndim != 2:
            raise ValueError(f"clip {self.clip_id}: mixture must be (channels, frames), got {mix.shape}")
        if stems.shape != (len(self.stem_names), *mix.shape):
            raise ValueError(
                f"clip {self.clip_id}: stems must be shaped ({len(self.stem_names)}, {mix.shape[0]}, "
                f"{mix.shape[1]}) in the order {self.stem_names}, got {stems.shape}"
            )

    @property
    def duration_s(self) -> float:
        return self.mixture.shape[-1] / self.sample_rate

    def stem(self, name: str) -> np.ndarray:
        return self.stems[self.stem_names.index(name)]


@dataclass(frozen=True)
class ClipScores:
    """All scores of one clip: ``nsdr[method][stem]`` in dB, ``present[stem]``, ``rms_db[stem]``."""

    clip_id: str
    kit: str
    performance: str
    seen: bool | None
    start_s: float
    duration_s: float
    rms_db: dict[str, float]
    present: dict[str, bool]
    nsdr: dict[str, dict[str, float]]
    model_seconds: float | None = None
    transfer: dict[str, dict[str, float]] | None = None
    """``transfer[true stem][estimate stem]``: share of the true stem's energy in the model's
    estimate (:func:`larsnet.evaluation.metrics.energy_transfer`); None without a model."""
    piece_transfer: dict[str, dict[str, float]] | None = None
    """``piece_transfer[piece][estimate stem]`` for the pieces present in the clip
    (:func:`larsnet.evaluation.metrics.piece_transfer`); None without a model or pieces."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "clip_id": self.clip_id,
            "kit": self.kit,
            "performance": self.performance,
            "seen": self.seen,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "rms_db": {k: (None if not np.isfinite(v) else v) for k, v in self.rms_db.items()},
            "present": dict(self.present),
            "nsdr": {m: {k: (x if np.isfinite(x) else None) for k, x in v.items()} for m, v in self.nsdr.items()},
            "model_seconds": self.model_seconds,
            "transfer": None if self.transfer is None else {
                i: {j: (x if np.isfinite(x) else None) for j, x in row.items()} for i, row in self.transfer.items()
            },
            "piece_transfer": self.piece_transfer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ClipScores":
        return cls(
            clip_id=data["clip_id"],
            kit=data["kit"],
            performance=data["performance"],
            seen=data["seen"],
            start_s=float(data["start_s"]),
            duration_s=float(data["duration_s"]),
            rms_db={k: (float("-inf") if v is None else float(v)) for k, v in data["rms_db"].items()},
            present={k: bool(v) for k, v in data["present"].items()},
            nsdr={m: {k: (float("nan") if x is None else float(x)) for k, x in v.items()} for m, v in data["nsdr"].items()},
            model_seconds=data.get("model_seconds"),
            transfer=None if data.get("transfer") is None else {
                i: {j: (float("nan") if x is None else float(x)) for j, x in row.items()}
                for i, row in data["transfer"].items()
            },
            piece_transfer=data.get("piece_transfer"),
        )


def separator_estimator(separator: Any, *, wiener: float | None = None, mode: str = "overlap",
                        spatial_iterations: int = 0, spatial_max_hz: float = SPATIAL_MAX_HZ) -> Estimator:
    """An :data:`Estimator` running ``separator.separate(mixture, wiener=..., mode=...)`` (and the
    filter's arguments when it is on, so separators without the filter still serve)."""
    extra = spatial_kwargs(spatial_iterations, spatial_max_hz)

    def estimate(mixture: np.ndarray) -> Mapping[str, np.ndarray]:
        return separator.separate(mixture, wiener=wiener, mode=mode, **extra)

    return estimate


def _checked_estimates(clip: EvalExample, estimates: Mapping[str, np.ndarray], stems: Sequence[str]) -> dict[str, np.ndarray]:
    missing = [s for s in stems if s not in estimates]
    if missing:
        raise ValueError(f"clip {clip.clip_id}: the estimator returned no {', '.join(missing)} (got {sorted(estimates)})")
    out = {}
    for stem in stems:
        array = np.asarray(estimates[stem])
        if array.shape != clip.mixture.shape:
            raise ValueError(
                f"clip {clip.clip_id}: estimate of {stem} is shaped {array.shape}, the mixture {clip.mixture.shape}"
            )
        out[stem] = array
    return out


def score_clip(
    clip: EvalExample,
    estimator: Estimator | None = None,
    *,
    stems: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
    threshold_db: float = PRESENCE_THRESHOLD_DB,
    stft: Stft | None = None,
) -> ClipScores:
    """Score one clip with every method in ``methods`` (``model`` only if ``estimator``)."""
    stems = tuple(stems or clip.stem_names)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {METHODS}")
    references = {stem: clip.stem(stem) for stem in stems}
    scores: dict[str, dict[str, float]] = {}
    model_seconds = None
    transfer = piece_shares = None
    for method in methods:
        if method == "model":
            if estimator is None:
                continue
            started = time.perf_counter()
            estimates = _checked_estimates(clip, estimator(clip.mixture), stems)
            model_seconds = time.perf_counter() - started
            transfer, piece_shares = _transfers(clip, references, estimates, stems, threshold_db, stft)
        elif method == "mixture":
            estimates = {stem: clip.mixture for stem in stems}
        elif method == "oracle":
            irm = oracle_irm(clip.mixture, clip.stems, stft=stft)
            estimates = {stem: irm[clip.stem_names.index(stem)] for stem in stems}
        else:  # silence
            estimates = {stem: np.zeros_like(clip.mixture) for stem in stems}
        scores[method] = {stem: nsdr(references[stem], estimates[stem]) for stem in stems}
    levels = {stem: rms_db(references[stem]) for stem in stems}
    return ClipScores(
        clip_id=clip.clip_id,
        kit=clip.kit,
        performance=clip.performance,
        seen=clip.seen,
        start_s=clip.start_s,
        duration_s=clip.duration_s,
        rms_db=levels,
        present={stem: levels[stem] > threshold_db for stem in stems},
        nsdr=scores,
        model_seconds=model_seconds,
        transfer=transfer,
        piece_transfer=piece_shares,
    )


def _transfers(clip: EvalExample, references: Mapping[str, np.ndarray], estimates: Mapping[str, np.ndarray],
               stems: Sequence[str], threshold_db: float, stft: Stft | None
               ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]] | None]:
    """Where each stem went, and each piece present in the clip (None without pieces): one
    pass over the mixture's and the estimates' spectra for both tables."""
    pieces = {p: a for p, a in (clip.pieces or {}).items() if rms_db(a) > threshold_db}
    rows = [references[s] for s in stems] + list(pieces.values())
    shares = piece_transfer(clip.mixture, rows, [estimates[s] for s in stems], stft=stft)

    def table(names: Sequence[str], offset: int) -> dict[str, dict[str, float]]:
        return {a: {b: float(shares[offset + i, j]) for j, b in enumerate(stems)} for i, a in enumerate(names)}

    return table(stems, 0), (table(list(pieces), len(stems)) if pieces else None)


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: per-clip scores plus the settings that produced them."""

    clips: list[ClipScores]
    stems: tuple[str, ...] = STEMS
    methods: tuple[str, ...] = METHODS
    threshold_db: float = PRESENCE_THRESHOLD_DB
    settings: dict[str, Any] = field(default_factory=dict)


def evaluate(
    clips: Iterable[EvalExample],
    estimator: Estimator | None = None,
    *,
    stems: Sequence[str] = STEMS,
    methods: Sequence[str] = METHODS,
    threshold_db: float = PRESENCE_THRESHOLD_DB,
    stft: Stft | None = None,
    progress: Progress | None = None,
    total: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Score every clip (see :func:`score_clip`); ``settings`` is carried into the report.

    ``clips`` may be a lazy iterable (one clip in memory at a time); ``total`` only
    feeds ``progress``. Without an estimator, ``model`` is left out of ``methods``.
    """
    if total is None and hasattr(clips, "__len__"):
        total = len(clips)  # type: ignore[arg-type]
    used = tuple(m for m in methods if m != "model" or estimator is not None)
    stft = stft or Stft()
    scored = []
    for clip in clips:
        scored.append(
            score_clip(clip, estimator, stems=stems, methods=used, threshold_db=threshold_db, stft=stft)
        )
        if progress:
            progress(len(scored), total)
    return Evaluation(
        clips=scored,
        stems=tuple(stems),
        methods=used,
        threshold_db=threshold_db,
        settings=dict(settings or {}),
    )
