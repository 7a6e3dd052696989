"""The LarsNet paper's evaluation protocol, with a baseline and a ceiling beside the model.

- :mod:`~larsnet.evaluation.metrics`: :func:`nsdr`, :func:`present`, :func:`oracle_irm`;
- :mod:`~larsnet.evaluation.protocol`: :func:`evaluate` clips with a model, the
  mixture-as-estimate baseline, the oracle ideal ratio mask and silence;
- :mod:`~larsnet.evaluation.report`: per-stem averages over clips where the stem is
  present, per kit, seen vs unseen kits, the fraction of the way from baseline to
  oracle; Markdown, CSV and JSON;
- :mod:`~larsnet.evaluation.sources`: clips from the fixed GMD set or a folder.

    >>> from larsnet.evaluation import evaluate, Report, separator_estimator
    >>> evaluation = evaluate(examples, separator_estimator(separator, wiener=1.0))
    >>> print(Report(evaluation).to_markdown())
"""
from __future__ import annotations

from larsnet.evaluation.metrics import PRESENCE_THRESHOLD_DB, nsdr, oracle_irm, present, rms_db
from larsnet.evaluation.protocol import (
    METHODS,
    ClipScores,
    Evaluation,
    EvalExample,
    Estimator,
    evaluate,
    score_clip,
    separator_estimator,
)
from larsnet.evaluation.report import (
    GroupSummary,
    Report,
    fraction_of_way,
    read_report_json,
    summarize,
    write_report,
)

__all__ = [
    "PRESENCE_THRESHOLD_DB",
    "nsdr",
    "oracle_irm",
    "present",
    "rms_db",
    "METHODS",
    "ClipScores",
    "Evaluation",
    "EvalExample",
    "Estimator",
    "evaluate",
    "score_clip",
    "separator_estimator",
    "GroupSummary",
    "Report",
    "fraction_of_way",
    "read_report_json",
    "summarize",
    "write_report",
]
