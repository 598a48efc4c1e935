"""Accuracy before and after post-training: pass@1 of the start model and of the run's final
checkpoint on one eval set, with bootstrap CIs and the paired difference over problems."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from thinking_sparks.evaluation.harness import EvalParams, run_eval
from thinking_sparks.evaluation.metrics import paired_difference
from thinking_sparks.models import load_model

__all__ = ["Accuracy", "accuracy"]


@dataclass
class Accuracy:
    """pass@1 before and after post-training on one eval set: ``table`` (``model, spec, pass@1,
    ci_low, ci_high, n_problems``), the paired difference after − before (``diff``: value, ci_low,
    ci_high), both sides' samples and the generation seconds behind them (as computed)."""

    table: pd.DataFrame
    diff: tuple[float, float, float]
    samples: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    seconds: float = 0.0


def accuracy(before: str, after: str, params: EvalParams, device: str = "cpu") -> Accuracy:
    """pass@1 of ``before`` and ``after`` on ``params.dataset`` (cached evaluations) and their
    paired difference over problems (:func:`~thinking_sparks.evaluation.metrics.paired_difference`)."""
    rows, samples, seconds = [], {}, 0.0
    for label, spec in (("before", before), ("after", after)):
        res = run_eval(load_model(spec, device=device), params, progress=False)
        v = res.summary.get("pass", 1)
        rows.append({"model": label, "spec": spec, "pass@1": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high,
                     "n_problems": v.n_problems})
        samples[label] = res.samples
        seconds += float(res.info.get("timing", {}).get("seconds", 0.0))
    diff = paired_difference(samples["after"], samples["before"], n_boot=params.n_boot)
    return Accuracy(pd.DataFrame(rows), tuple(float(x) for x in diff), samples, seconds)
