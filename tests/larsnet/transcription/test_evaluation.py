"""The onset F-measure itself: matching, counts and their conventions, on hand-made lists."""
from __future__ import annotations

import itertools
import json
import math

import networkx as nx
import numpy as np
import pytest

from larsnet.data.midi import Hit
from larsnet.transcription import Note
from larsnet.transcription.evaluation import (
    OnsetCounts,
    TranscriptionEvaluation,
    TranscriptionExample,
    evaluate_transcription,
    match_onsets,
    merge_close,
    onset_counts,
    read_transcription_json,
    score_notes,
    write_transcription_report,
)


def test_counts_of_known_lists() -> None:
    reference = [1.0, 2.0, 3.0, 4.0]
    estimate = [1.02, 2.049, 3.2, 5.0, 0.5]
    counts = onset_counts(reference, estimate)
    assert counts == OnsetCounts(tp=2, fp=3, fn=2)
    assert counts.precision == pytest.approx(2 / 5)
    assert counts.recall == pytest.approx(2 / 4)
    assert counts.f_measure == pytest.approx(2 * 2 / (2 * 2 + 3 + 2))  # 4/9


def test_the_window_is_inclusive_and_each_onset_matches_once() -> None:
    assert onset_counts([1.0], [1.05]) == OnsetCounts(1, 0, 0)  # exactly 50 ms
    assert onset_counts([1.0], [1.0501]) == OnsetCounts(0, 1, 1)
    assert onset_counts([1.0], [0.99, 1.0, 1.01]) == OnsetCounts(1, 2, 0)  # duplicates are false positives
    assert onset_counts([1.0, 1.01, 1.02], [1.0]) == OnsetCounts(1, 0, 2)
    assert onset_counts([1.0], [1.2], window_s=0.25) == OnsetCounts(1, 0, 0)


def test_matching_takes_the_order_of_the_lists_from_the_times() -> None:
    assert sorted(match_onsets([3.0, 1.0, 2.0], [2.01, 0.99])) == [(1, 1), (2, 0)]


def test_greedy_matching_is_maximum() -> None:
    """The sweep finds as many pairs as a maximum bipartite matching, on random dense lists."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        ref = np.round(rng.uniform(0, 1, rng.integers(0, 12)), 3)
        est = np.round(rng.uniform(0, 1, rng.integers(0, 12)), 3)
        graph = nx.Graph()
        graph.add_nodes_from((("r", i) for i in range(len(ref))), bipartite=0)
        graph.add_nodes_from(("e", j) for j in range(len(est)))
        graph.add_edges_from((("r", i), ("e", j)) for i, j in itertools.product(range(len(ref)), range(len(est)))
                             if abs(ref[i] - est[j]) <= 0.05 + 1e-9)
        best = len(nx.bipartite.maximum_matching(graph, top_nodes=[("r", i) for i in range(len(ref))])) // 2
        pairs = match_onsets(ref, est)
        assert len(pairs) == best
        assert all(abs(ref[i] - est[j]) <= 0.05 + 1e-9 for i, j in pairs)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)


def test_empty_lists_follow_the_usual_conventions() -> None:
    nothing = onset_counts([], [])
    assert nothing == OnsetCounts() and math.isnan(nothing.f_measure)
    only_refs = onset_counts([1.0, 2.0], [])
    assert (only_refs.recall, only_refs.f_measure) == (0.0, 0.0) and math.isnan(only_refs.precision)
    only_estimates = onset_counts([], [1.0])
    assert (only_estimates.precision, only_estimates.f_measure) == (0.0, 0.0) and math.isnan(only_estimates.recall)
    assert OnsetCounts(1, 2, 3) + OnsetCounts(4, 5, 6) == OnsetCounts(5, 7, 9)


def test_merge_close_keeps_the_first_of_each_group() -> None:
    assert merge_close([1.0, 1.02, 1.029, 1.06, 2.0, 1.031]).tolist() == [1.0, 1.031, 2.0]
    assert merge_close([1.0, 1.0], merge_s=0.0).tolist() == [1.0, 1.0]


def test_score_notes_per_stem_with_pieces_and_velocities() -> None:
    hits = [Hit(0.5, "kick", 100, 36), Hit(1.0, "hihat_closed", 60, 42), Hit(1.5, "hihat_open", 90, 46),
            Hit(2.0, "hi_tom", 80, 48), Hit(2.01, "floor_tom", 110, 43)]  # two toms at once: one onset
    notes = [Note(0.51, 36, 90, "kick"), Note(1.0, 42, 64, "hihat"), Note(1.51, 42, 80, "hihat"),
             Note(2.02, 43, 100, "toms"), Note(3.0, 38, 50, "snare")]
    counts, correct, velocities = score_notes(hits, notes)
    assert counts == {"kick": OnsetCounts(1, 0, 0), "snare": OnsetCounts(0, 1, 0), "toms": OnsetCounts(1, 0, 0),
                      "hihat": OnsetCounts(2, 0, 0), "cymbals": OnsetCounts(0, 0, 0)}
    assert correct == {"kick": 1, "snare": 0, "toms": 1, "hihat": 1, "cymbals": 0}  # the open hat was called closed
    assert velocities["hihat"] == [(60, 64), (90, 80)]
    assert velocities["toms"] == [(110, 100)]  # a merged onset is named by its loudest hit


def test_evaluation_report_sums_counts_per_kit(tmp_path) -> None:
    hits = [Hit(0.1, "kick", 100, 36), Hit(0.6, "snare", 100, 38)]
    stems = np.zeros((5, 2, 100), np.float32)
    examples = [TranscriptionExample(f"c{i}", stems, hits, kit=kit, preroll_s=1.0, duration_s=1.0)
                for i, kit in enumerate(["A", "B"])]

    def transcriber(ex: TranscriptionExample) -> list[Note]:
        found = [Note(1.1, 36, 100, "kick"), Note(0.5, 38, 100, "snare")]  # the snare lies in the pre-roll: dropped
        return found + ([Note(1.9, 38, 80, "snare")] if ex.kit == "B" else [])

    evaluation = evaluate_transcription(examples, transcriber, settings={"source": "test"})
    summary = TranscriptionEvaluation.summarize(evaluation.clips)
    assert summary["kick"].counts == OnsetCounts(2, 0, 0)
    assert summary["snare"].counts == OnsetCounts(0, 1, 2)
    assert [name for name, _ in evaluation.groups()] == ["all clips", "kit A", "kit B"]
    assert "| kick | 1.000 | 1.000 | 1.000 | 2 | 2 |" in evaluation.table_markdown()
    paths = write_transcription_report(evaluation, tmp_path)
    assert sorted(p.name for p in paths.values()) == [
        "transcription.csv", "transcription.json", "transcription.md", "transcription_scores.csv"]
    data = json.loads(paths["json"].read_text())
    assert data["groups"][0]["stems"]["snare"] == {
        "tp": 0, "fp": 1, "fn": 2, "precision": 0.0, "recall": 0.0, "f_measure": 0.0,
        "piece_accuracy": None, "velocity_mae": None, "velocity_r": None}
    assert read_transcription_json(paths["json"]).to_markdown() == paths["markdown"].read_text()
