"""Aggregation rules and the three output formats, on hand-made scores."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math

import pytest

from larsnet.evaluation import ClipScores, Evaluation, Report, fraction_of_way, read_report_json, write_report
from larsnet.evaluation.report import MEAN, summarize

STEMS = ("kick", "snare", "toms")
METHODS = ("model", "mixture", "oracle", "silence")


def clip(clip_id: str, kit: str, seen: bool | None, model: dict, mixture: dict, oracle: dict,
         present: dict | None = None) -> ClipScores:
    present = present or {s: True for s in STEMS}
    return ClipScores(
        clip_id=clip_id, kit=kit, performance=clip_id.split("/")[0], seen=seen, start_s=0.0, duration_s=10.0,
        rms_db={s: (-20.0 if present[s] else -math.inf) for s in STEMS},
        present=present,
        nsdr={"model": model, "mixture": mixture, "oracle": oracle, "silence": {s: 0.0 for s in STEMS}},
        model_seconds=0.5,
    )


def v(kick: float, snare: float, toms: float) -> dict[str, float]:
    return {"kick": kick, "snare": snare, "toms": toms}


@pytest.fixture
def evaluation() -> Evaluation:
    clips = [
        # unseen kit A: toms absent in a1, where the model scored a terrible -30 dB
        clip("p1/A", "A", False, v(6, 2, 3), v(-10, -4, -2), v(14, 12, 16)),
        clip("p2/A", "A", False, v(4, 0, -30), v(-8, -2, -6), v(12, 10, 18), present=v(True, True, False)),
        # seen kit B
        clip("p1/B", "B", True, v(10, 6, 9), v(-10, -4, -2), v(14, 12, 16)),
    ]
    return Evaluation(clips=clips, stems=STEMS, methods=METHODS, settings={"model": "test", "wiener": "off"})


def test_a_stem_is_averaged_only_where_it_is_present(evaluation):
    report = Report(evaluation)
    kit_a = report.group("kit A")
    assert kit_a.present == {"kick": 2, "snare": 2, "toms": 1}
    assert kit_a.nsdr["model"]["kick"] == pytest.approx(5.0)
    assert kit_a.nsdr["model"]["toms"] == pytest.approx(3.0)  # not (3 - 30) / 2
    assert kit_a.nsdr["oracle"]["toms"] == pytest.approx(16.0)
    # mean over stems of the per-stem averages
    assert kit_a.nsdr["model"][MEAN] == pytest.approx((5 + 1 + 3) / 3)
    # without presence filtering toms would drag the model down
    everything = [c for c in evaluation.clips if c.kit == "A"]
    unfiltered = sum(c.nsdr["model"]["toms"] for c in everything) / 2
    assert unfiltered == pytest.approx(-13.5)


def test_groups_all_unseen_seen_and_per_kit(evaluation):
    report = Report(evaluation)
    assert [g.name for g in report.groups] == ["all clips", "unseen kits", "seen kits", "kit A", "kit B"]
    everything, unseen, seen = report.groups[:3]
    assert (everything.clips, unseen.clips, seen.clips) == (3, 2, 1)
    assert everything.nsdr["model"]["kick"] == pytest.approx(20 / 3)
    assert everything.nsdr["model"]["toms"] == pytest.approx(6.0)  # (3 + 9) / 2
    assert seen.nsdr["model"]["snare"] == pytest.approx(6.0)
    assert unseen.nsdr["model"] == report.group("kit A").nsdr["model"]
    assert report.group("kit B").seen is True and report.group("kit A").seen is False


def test_unknown_seen_status_gets_no_seen_group():
    scores = [clip("p/X", "X", None, v(1, 1, 1), v(0, 0, 0), v(2, 2, 2))]
    report = Report(Evaluation(clips=scores, stems=STEMS, methods=METHODS))
    assert [g.name for g in report.groups] == ["all clips", "kit X"]


def test_fraction_of_the_way_from_baseline_to_oracle(evaluation):
    assert fraction_of_way(-10, -10, 14) == 0.0
    assert fraction_of_way(14, -10, 14) == 1.0
    assert fraction_of_way(2, -10, 14) == pytest.approx(0.5)
    assert fraction_of_way(0.0, -10, 10) == pytest.approx(0.5)  # silence-like: half of nothing learned
    assert fraction_of_way(1, 3, 3) is None and fraction_of_way(None, 0, 1) is None
    seen = Report(evaluation).group("seen kits")
    assert seen.fraction["kick"] == pytest.approx((10 + 10) / (14 + 10))
    assert seen.fraction["snare"] == pytest.approx((6 + 4) / (12 + 4))
    means = {m: seen.nsdr[m][MEAN] for m in ("model", "mixture", "oracle")}
    assert seen.fraction[MEAN] == pytest.approx((means["model"] - means["mixture"]) / (means["oracle"] - means["mixture"]))
    assert seen.fraction["toms"] == pytest.approx((9 + 2) / (16 + 2))
    assert seen.worst_fraction() == ("toms", pytest.approx(11 / 18))


def test_no_model_means_no_fraction():
    scores = [clip("p/X", "X", True, v(1, 1, 1), v(0, 0, 0), v(2, 2, 2))]
    group = summarize(scores, STEMS, ("mixture", "oracle", "silence"))
    assert group.fraction == {} and group.worst_fraction() is None


def test_a_stem_present_nowhere_is_left_out_of_the_mean():
    scores = [clip("p/X", "X", True, v(4, 2, 99), v(0, 0, 0), v(8, 8, 8), present=v(True, True, False))]
    group = summarize(scores, STEMS, METHODS)
    assert group.nsdr["model"]["toms"] is None and group.fraction["toms"] is None
    assert group.nsdr["model"][MEAN] == pytest.approx(3.0)


def markdown_table(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``heading``: first cell -> other cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## ") and heading in line)
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_markdown_tables_parse_back(evaluation):
    text = Report(evaluation).to_markdown()
    assert "- model: test" in text and "- wiener: off" in text
    table = markdown_table(text, "Kit A")
    assert table[""] == [*STEMS, "mean"]
    assert table["clips with the stem present"][:3] == ["2", "2", "1"]
    assert [float(x) for x in table["model"]] == pytest.approx([5.0, 1.0, 3.0, 3.0])
    assert [float(x) for x in table["oracle IRM (ceiling)"][:3]] == [13.0, 11.0, 16.0]
    assert table["fraction of the way, baseline to oracle"][0] == f"{100 * (5 + 9) / (13 + 9):.0f}%"
    assert "## Unseen kits (2 clips)" in text and "## Kit B (1 clip, seen)" in text
    per_kit = markdown_table(text, "Model per kit")
    assert per_kit["A"][:3] == ["no", "2", "5.00 (64%)"] and per_kit["B"][0] == "yes"
    assert "Furthest from the oracle:" in text


def test_csv_parses_back(evaluation):
    report = Report(evaluation)
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    by_key = {(r["group"], r["row"]): r for r in rows}
    assert {r["row"] for r in rows} == {"clips", *METHODS, "fraction"}
    row = by_key[("kit A", "model")]
    assert (row["kind"], row["kit"], row["seen"]) == ("kit", "A", "false")
    assert float(row["toms"]) == pytest.approx(3.0) and float(row["mean"]) == pytest.approx(3.0)
    assert by_key[("kit A", "clips")]["toms"] == "1"
    assert float(by_key[("seen kits", "fraction")]["kick"]) == pytest.approx(20 / 24, abs=1e-4)
    per_clip = list(csv.DictReader(io.StringIO(report.scores_csv())))
    assert len(per_clip) == 3 * len(STEMS)
    absent = next(r for r in per_clip if r["clip_id"] == "p2/A" and r["stem"] == "toms")
    assert absent["present"] == "0" and absent["rms_db"] == "-inf" and float(absent["nsdr_model"]) == -30.0


def test_json_round_trips_and_recomputes_the_same_tables(evaluation, tmp_path):
    report = Report(evaluation)
    paths = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == ["results.csv", "results.json", "results.md", "scores.csv"]
    data = json.loads(paths["json"].read_text())
    assert data["format"] == "larsnet-evaluation" and data["stems"] == list(STEMS)
    assert data["groups"][0]["nsdr"]["model"]["kick"] == pytest.approx(20 / 3)
    assert data["clips"][1]["rms_db"]["toms"] is None  # -inf is not JSON
    again = read_report_json(paths["json"])
    assert [g.to_dict() for g in again.groups] == [g.to_dict() for g in report.groups]
    assert again.to_markdown() == report.to_markdown()


def test_a_nan_from_a_broken_model_still_writes_valid_json():
    scores = [clip("p/X", "X", True, v(float("nan"), 1, 1), v(0, 0, 0), v(2, 2, 2))]
    report = Report(Evaluation(clips=scores, stems=STEMS, methods=METHODS))
    data = json.loads(report.to_json())
    assert data["groups"][0]["nsdr"]["model"]["kick"] is None
    assert "n/a" in report.to_markdown()


def test_markdown_does_not_repeat_a_group_holding_every_clip():
    scores = [clip("p1/A", "A", False, v(1, 1, 1), v(0, 0, 0), v(2, 2, 2)),
              clip("p2/A", "A", False, v(1, 1, 1), v(0, 0, 0), v(2, 2, 2))]
    report = Report(Evaluation(clips=scores, stems=STEMS, methods=METHODS))
    assert [g.name for g in report.groups] == ["all clips", "unseen kits", "kit A"]  # JSON and CSV keep them all
    text = report.to_markdown()
    assert "## All clips (2 clips)" in text and "## Unseen kits" not in text and "## Kit A" not in text


def test_energy_transfer_is_averaged_where_the_true_stem_is_present(tmp_path):
    def shares(kick_to_toms: float) -> dict:
        return {"kick": v(1 - kick_to_toms, 0.0, kick_to_toms), "snare": v(0.0, 0.9, 0.1),
                "toms": v(math.nan, math.nan, math.nan) if kick_to_toms > 0.1 else v(0.0, 0.2, 0.8)}

    a = clip("p1/A", "A", False, v(6, 2, 3), v(-10, -4, -2), v(14, 12, 16))
    b = clip("p2/A", "A", False, v(4, 0, -30), v(-8, -2, -6), v(12, 10, 18), present=v(True, True, False))
    clips = [dataclasses.replace(a, transfer=shares(0.02)), dataclasses.replace(b, transfer=shares(0.2))]
    report = Report(Evaluation(clips=clips, stems=STEMS, methods=METHODS))
    transfer = report.group("all clips").transfer
    assert transfer["kick"]["toms"] == pytest.approx(0.11)  # both clips
    assert transfer["toms"]["toms"] == pytest.approx(0.8)  # only the clip with toms
    text = report.to_markdown()
    assert "Where each stem's energy went" in text
    assert "| kick | 2 | 89.0% | 0.0% | 11.0% |" in text and "| toms | 1 | 0.0% | 20.0% | 80.0% |" in text
    write_report(report, tmp_path)
    again = read_report_json(tmp_path / "results.json")
    assert again.group("all clips").transfer["kick"]["toms"] == pytest.approx(0.11)
    # without a model there is no table
    assert "Where each stem's energy went" not in Report(Evaluation(clips=[a], stems=STEMS, methods=METHODS)).to_markdown()


def test_piece_shares_are_averaged_where_the_piece_is_present():
    def tom(to_kick: float) -> dict:
        return {"kick": to_kick, "snare": 0.0, "toms": 1 - to_kick}

    a = clip("p1/A", "A", False, v(6, 2, 3), v(-10, -4, -2), v(14, 12, 16))
    b = clip("p2/A", "A", False, v(4, 0, 1), v(-8, -2, -6), v(12, 10, 18))
    clips = [dataclasses.replace(a, piece_transfer={"floor_tom": tom(0.8), "hi_tom": tom(0.1)}),
             dataclasses.replace(b, piece_transfer={"hi_tom": tom(0.3)})]
    report = Report(Evaluation(clips=clips, stems=STEMS, methods=METHODS))
    group = report.group("all clips")
    assert list(group.piece_transfer) == ["hi_tom", "floor_tom"]  # larsnet's piece order
    assert group.piece_clips == {"hi_tom": 2, "floor_tom": 1}
    assert group.piece_transfer["hi_tom"]["kick"] == pytest.approx(0.2)
    assert "| floor_tom | toms | 1 | 80.0% | 0.0% | 20.0% |" in report.to_markdown()
    assert read_report_json_dict(report)["groups"][0]["piece_clips"] == {"hi_tom": 2, "floor_tom": 1}
    assert "each drum piece" not in Report(Evaluation(clips=[a, b], stems=STEMS, methods=METHODS)).to_markdown()


def read_report_json_dict(report: Report) -> dict:
    return json.loads(report.to_json())
