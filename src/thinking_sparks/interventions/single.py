"""Single-head ablations: every head of a model zeroed alone, its effect on pass@1 with a paired CI.

:func:`single_head_table` evaluates the unmodified model and each head zeroed by itself
(:func:`~thinking_sparks.interventions.experiments.pass_at_1_table`, every evaluation cached under
its intervention) on one set; :func:`head_effects` turns the samples into one row per head: the drop
``pass@1(no ablation) - pass@1(head zeroed)`` over problems, with a paired bootstrap interval
(:func:`~thinking_sparks.evaluation.metrics.paired_difference`: same problems, same sampling seeds).
:func:`class_difference` compares two head classes: per problem, the mean drop over the heads of one
class minus the mean over the other, its mean and bootstrap interval over problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.evaluation.intervals import mean_ci
from thinking_sparks.evaluation.metrics import paired_difference, per_problem
from thinking_sparks.heads import all_heads
from thinking_sparks.heads.edits import parse_edits
from thinking_sparks.interventions.experiments import Condition, ExperimentResult, pass_at_1_table

BASELINE = "no ablation"
EFFECT_COLUMNS = ["head", "layer", "index", "pass@1", "effect", "ci_low", "ci_high", "n_problems"]


def single_head_conditions(n_layers: int, n_heads: int) -> list[Condition]:
    """The unmodified model, then every head zeroed alone (label = the head's name), layer-major."""
    return [Condition(BASELINE, None, BASELINE)] + [Condition(h, parse_edits([h]), "single")
                                                    for h in all_heads(n_layers, n_heads)]


def single_head_table(lm: Any, params: EvalParams, dataset: str) -> ExperimentResult:
    """pass@1 of ``lm`` on ``dataset`` unmodified and with each of its heads zeroed alone."""
    return pass_at_1_table(lm, single_head_conditions(lm.n_layers, lm.n_heads), params, sets=[dataset])


def head_effects(samples: pd.DataFrame, n_resamples: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """One row per ablated head (:data:`EFFECT_COLUMNS`): its pass@1 when zeroed, and ``effect`` =
    pass@1 unmodified minus zeroed (a drop is positive) with a paired bootstrap CI over problems.

    ``samples``: :func:`single_head_table`'s samples (``condition`` = ``no ablation`` or a head name).
    """
    base = samples[samples["condition"] == BASELINE]
    if base.empty:
        raise ValueError(f"the samples hold no {BASELINE!r} condition to compare the ablations with")
    rows = []
    for head, s in samples[samples["condition"] != BASELINE].groupby("condition", sort=False):
        diff, lo, hi = paired_difference(base, s, n_boot=n_resamples, seed=seed)
        layer, index = (int(x) for x in head[1:].split("H"))
        rows.append({"head": head, "layer": layer, "index": index,
                     "pass@1": float(per_problem(s, ks=[1])["pass@1"].mean()), "effect": diff, "ci_low": lo,
                     "ci_high": hi, "n_problems": int(s["problem_id"].nunique())})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).sort_values(["layer", "index"], ignore_index=True)


def drops_by_problem(samples: pd.DataFrame) -> pd.DataFrame:
    """``[problem, head]``: per problem, pass@1 unmodified minus pass@1 with the head zeroed."""
    table = (samples.assign(correct=samples["correct"].astype(float))
             .groupby(["problem_id", "condition"])["correct"].mean().unstack("condition"))  # pass@1 = c / n
    return table.drop(columns=[BASELINE]).rsub(table[BASELINE], axis=0)


def class_difference(samples: pd.DataFrame, first: Sequence[str], second: Sequence[str],
                     n_resamples: int | None = None, seed: int | None = None) -> tuple[float, float, float]:
    """Mean single-head drop over the heads ``first`` minus the mean over ``second``, with a bootstrap
    interval over problems (paired: both classes' drops are read on the same problems). NaN when a
    class has no ablated head."""
    drops = drops_by_problem(samples)
    a, b = [h for h in first if h in drops.columns], [h for h in second if h in drops.columns]
    if not a or not b:
        return float("nan"), float("nan"), float("nan")
    per = (drops[a].mean(axis=1) - drops[b].mean(axis=1)).to_numpy(dtype=np.float64)
    lo, hi = mean_ci(per, n_resamples=n_resamples, seed=seed)
    return float(per.mean()), lo, hi


__all__ = ["BASELINE", "EFFECT_COLUMNS", "class_difference", "drops_by_problem", "head_effects",
           "single_head_conditions", "single_head_table"]
