"""Evaluation clips with their hits: FixedEvalSet's pre-roll and clip hits."""
from __future__ import annotations

import numpy as np

from larsnet.data.dataset import FixedEvalSet
from larsnet.stems import SAMPLE_RATE, STEMS
from larsnet.transcription.evaluation import transcription_examples

from tests.larsnet.data.builders import constant_kit, performance


def eval_set() -> FixedEvalSet:
    perf = performance([(0.5, "kick", 100), (1.2, "snare", 90), (1.9, "hihat_closed", 80), (2.6, "crash", 70),
                        (3.1, "kick", 60)], duration_s=4.0)
    return FixedEvalSet([perf], [constant_kit(length=2000)], names=["p1"], clip_s=2.0, seed=3)


def test_preroll_prepends_the_performance_before_the_clip() -> None:
    es = eval_set()
    mix, stems = es.render(0)
    mix_pre, stems_pre = es.render(0, preroll_s=0.5)
    pre = int(0.5 * SAMPLE_RATE)
    assert stems_pre.shape == (len(STEMS), 2, stems.shape[-1] + pre)
    np.testing.assert_array_equal(stems_pre[..., pre:], stems)
    np.testing.assert_array_equal(mix_pre[..., pre:], mix)


def test_hits_of_a_clip_are_relative_to_its_start() -> None:
    es = eval_set()
    clip = es.clips[0]
    hits = es.hits(0)
    assert hits and all(0.0 <= h.time_s < clip.duration_s for h in hits)
    absolute = [t for t in (0.5, 1.2, 1.9, 2.6, 3.1) if clip.start_s <= t < clip.start_s + 2.0]
    assert [round(h.time_s + clip.start_s, 6) for h in hits] == absolute


def test_transcription_examples_carry_stems_hits_and_preroll() -> None:
    es = eval_set()
    (example,) = list(transcription_examples(es, preroll_s=0.25))
    assert example.preroll_s == 0.25 and example.duration_s == 2.0 and example.kit == "Const"
    assert example.stems.shape[-1] == int(2.25 * SAMPLE_RATE)
    assert list(example.hits) == es.hits(0)
    np.testing.assert_allclose(example.mixture, example.stems.sum(axis=0), atol=1e-6)
