"""The protocol on clips whose scores are known: model, mixture baseline, oracle, silence."""
from __future__ import annotations

import math

import numpy as np
import pytest

from larsnet.data.dataset import FixedEvalSet
from larsnet.data.midi import Hit, Performance
from larsnet.data.synthetic import make_synthetic_kit
from larsnet.evaluation import EvalExample, evaluate, nsdr, score_clip, separator_estimator
from larsnet.evaluation.sources import KitStatus, examples_from_fixed_set
from larsnet.separator import Separator
from larsnet.stems import PIECES, STEMS

from tests.larsnet.helpers import tiny_model

N = 20_000


def make_example(rng: np.random.Generator, *, silent: tuple[str, ...] = (), kit: str = "K", seen: bool | None = None,
                 clip_id: str = "c0") -> EvalExample:
    stems = (0.1 * rng.standard_normal((len(STEMS), 2, N))).astype(np.float32)
    for name in silent:
        stems[STEMS.index(name)] = 0.0
    return EvalExample(clip_id, stems.sum(0), stems, kit=kit, performance="p", seen=seen)


def half_estimator(example: EvalExample):
    """A fake model that knows the answer and returns half of it: 6.02 dB on every stem."""
    return lambda mixture: {stem: 0.5 * example.stem(stem).astype(np.float64) for stem in STEMS}


def test_every_method_scores_what_it_should(rng):
    example = make_example(rng, silent=("toms",))
    scores = score_clip(example, half_estimator(example))
    assert set(scores.nsdr) == {"model", "mixture", "oracle", "silence"}
    for stem in STEMS:
        ref = example.stem(stem)
        assert scores.nsdr["mixture"][stem] == nsdr(ref, example.mixture)
        assert scores.nsdr["silence"][stem] == 0.0
        if stem != "toms":
            assert scores.nsdr["model"][stem] == pytest.approx(20 * math.log10(2), abs=1e-3)
            assert scores.nsdr["mixture"][stem] < scores.nsdr["oracle"][stem]
            assert scores.present[stem]
    # a silent stem: not present, RMS -inf, and every estimate of silence scores <= 0 dB
    assert not scores.present["toms"] and scores.rms_db["toms"] == -math.inf
    assert scores.nsdr["oracle"]["toms"] == pytest.approx(0.0, abs=1e-3)


def test_model_scores_record_where_each_stem_went(rng):
    example = make_example(rng, silent=("toms",))
    scores = score_clip(example, half_estimator(example))
    for stem in STEMS:
        row = scores.transfer[stem]
        if stem == "toms":
            assert all(math.isnan(v) for v in row.values())
            continue
        # half of every stem (a quarter of its energy, up to the STFT's mixing of bins) stays on the diagonal
        assert row[stem] == pytest.approx(0.25, abs=0.05)
    assert score_clip(example, methods=("mixture",)).transfer is None
    round_trip = type(scores).from_dict(scores.to_dict())
    assert round_trip.transfer["kick"] == pytest.approx(scores.transfer["kick"])
    assert all(math.isnan(v) for v in round_trip.transfer["toms"].values())


def test_model_scores_record_where_each_present_piece_went(rng):
    example = make_example(rng)
    kick = example.stem("kick")
    pieces = {"kick": kick, "hi_tom": np.zeros_like(kick), "hihat_closed": 0.5 * example.stem("hihat"),
              "hihat_open": 0.5 * example.stem("hihat")}
    example = EvalExample("c", example.mixture, example.stems, pieces=pieces)
    scores = score_clip(example, half_estimator(example))
    assert set(scores.piece_transfer) == {"kick", "hihat_closed", "hihat_open"}  # the silent tom is left out
    # a stem made of one piece gives that piece's row; half of a stem shares its row too
    for piece, stem in (("kick", "kick"), ("hihat_closed", "hihat"), ("hihat_open", "hihat")):
        assert scores.piece_transfer[piece] == pytest.approx(scores.transfer[stem], rel=1e-9)
    assert type(scores).from_dict(scores.to_dict()).piece_transfer == scores.piece_transfer
    assert score_clip(make_example(rng), half_estimator(example)).piece_transfer is None  # no pieces, no rows
    with pytest.raises(ValueError, match="piece kick is shaped"):
        EvalExample("c", example.mixture, example.stems, pieces={"kick": kick[:, :-1]})


def test_four_equal_stems_give_a_known_mixture_baseline(rng):
    # mixture = 4 uncorrelated stems of equal power: baseline ~ -10 log10(3) for each
    stems = (0.1 * rng.standard_normal((len(STEMS), 2, 200_000))).astype(np.float32)
    stems[STEMS.index("cymbals")] = 0.0
    example = EvalExample("c", stems.sum(0), stems)
    scores = score_clip(example, methods=("mixture",))
    for stem in ("kick", "snare", "toms", "hihat"):
        assert scores.nsdr["mixture"][stem] == pytest.approx(-10 * math.log10(3), abs=0.05)


def test_estimator_output_is_checked(rng):
    example = make_example(rng)
    with pytest.raises(ValueError, match="returned no toms"):
        score_clip(example, lambda mix: {s: mix for s in STEMS if s != "toms"})
    with pytest.raises(ValueError, match="estimate of kick is shaped"):
        score_clip(example, lambda mix: {s: mix[:, :-5] for s in STEMS})


def test_example_shapes_are_checked():
    with pytest.raises(ValueError, match="stems must be shaped"):
        EvalExample("c", np.zeros((2, 10)), np.zeros((4, 2, 10)))


def test_evaluate_without_a_model_scores_baselines_only(rng):
    examples = [make_example(rng, clip_id=f"c{i}") for i in range(3)]
    calls = []
    evaluation = evaluate(examples, None, progress=lambda done, total: calls.append((done, total)))
    assert evaluation.methods == ("mixture", "oracle", "silence")
    assert [c.clip_id for c in evaluation.clips] == ["c0", "c1", "c2"]
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_separator_estimator_passes_the_wiener_setting(rng):
    calls = []

    class Recorder:
        def separate(self, mixture, *, wiener=None, mode="overlap"):
            calls.append((mixture.shape, wiener, mode))
            return {stem: np.zeros_like(mixture) for stem in STEMS}

    example = make_example(rng)
    scores = score_clip(example, separator_estimator(Recorder(), wiener=2.0))
    assert calls == [((2, N), 2.0, "overlap")]
    assert scores.nsdr["model"] == scores.nsdr["silence"]
    assert scores.model_seconds is not None


def test_a_real_separator_scores_finite_numbers(rng):
    example = make_example(rng)
    scores = score_clip(example, separator_estimator(Separator(tiny_model(width=2)), wiener=1.0))
    assert all(np.isfinite(v) for v in scores.nsdr["model"].values())


def test_fixed_eval_set_clips_become_examples():
    perf = Performance(
        hits=[Hit(0.125 * i, ("kick", "snare", "hihat_closed", "crash")[i % 4], 100, 0) for i in range(16)],
        duration_s=2.0,
    )
    kits = [make_synthetic_kit("ForzeeStereo", length_scale=0.2), make_synthetic_kit("Train Kit", seed=1, length_scale=0.2)]
    eval_set = FixedEvalSet([perf], kits, names=["drummer1/eval_session/1"], clip_s=1.0, kit_assignment="all")
    examples = list(examples_from_fixed_set(eval_set, kit_status=KitStatus()))
    assert [(e.kit, e.seen) for e in examples] == [("ForzeeStereo", False), ("Train Kit", True)]
    for example in examples:
        assert example.mixture.shape == (2, 44_100) and example.stems.shape == (5, 2, 44_100)
        assert np.allclose(example.stems.sum(0), example.mixture, atol=1e-6)
        assert example.performance == "drummer1/eval_session/1"
    scores = evaluate(examples, None).clips
    assert scores[0].present["kick"] and not scores[0].present["toms"]
    # the pieces come along and add up to their stems
    pieces = examples[0].pieces
    assert set(pieces) == set(PIECES)
    assert np.allclose(pieces["hihat_closed"] + pieces["hihat_open"], examples[0].stem("hihat"), atol=1e-6)
    assert not np.any(pieces["ride"]) and np.any(pieces["crash"])
    # a model trained on listed kits only: everything else is unseen
    status = KitStatus.from_provenance({"train_kits": ["forzeestereo"]})
    assert [e.seen for e in examples_from_fixed_set(eval_set, kit_status=status)] == [True, False]
