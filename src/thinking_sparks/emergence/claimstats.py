"""The statistics behind page 04's claims about head sets over training (:mod:`.claims`), on plain
head sets so that each can be tested on constructed data.

* :func:`proportion_ci` — exact (Clopper-Pearson) interval of a proportion.
* :func:`switch_counts`, :func:`switch_difference` — how often emergent heads leave the circuit at
  the next checkpoint, against how often they are missing from a second circuit of the *same*
  checkpoint on independent questions (the same-checkpoint null), bootstrapped over heads.
* :func:`independent_difference` — the interval of ``a - b`` from two runs' independent bootstrap
  distributions (every pair of draws: the convolution, no coupling by list position).
* :func:`layer_difference` — mean relative layer of two head lists, heads resampled independently.

Intervals are two-sided at ``plan.stats.confidence``; bootstraps draw ``plan.stats.n_resamples``
resamples with ``plan.stats.seed`` (percentile intervals: the statistics are means and differences
of shares, not strongly skewed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from thinking_sparks.evaluation import intervals
from thinking_sparks.heads import parse_head
from thinking_sparks.plan import PLAN, Plan

NAN3 = (math.nan, math.nan, math.nan)


def proportion_ci(k: int, n: int, plan: Plan = PLAN) -> tuple[float, float]:
    """Clopper-Pearson interval of ``k / n`` at ``plan.stats.confidence``
    (:func:`thinking_sparks.evaluation.intervals.proportion_ci`: ``scipy.stats.binomtest``; NaNs when ``n == 0``)."""
    if not 0 <= k <= n and n:
        raise ValueError(f"proportion_ci: k={k} is not between 0 and n={n}")
    return intervals.proportion_ci(k, n, plan.stats.confidence)


def switch_counts(checkpoints: Sequence[Iterable[str]], nulls: Sequence[Iterable[str] | None],
                  base: Iterable[str]) -> pd.DataFrame:
    """Per emergent head: ``exposures`` (checkpoints ``t`` before the last where it is emergent and
    checkpoint ``t`` has a null circuit), ``leaves`` (of those, how often it is gone from the circuit
    at ``t + 1``) and ``null_leaves`` (how often it is missing from the null circuit of ``t``).

    Args:
        checkpoints: the head sets of consecutive checkpoints (sample 0, one question sample).
        nulls: per checkpoint, the head set of a second circuit of it on an independent question
            sample (``Trace.nulls``); None where it was not measured.
        base: the base circuit's heads (emergent = in a checkpoint's circuit, not in the base's).
    """
    if len(nulls) != len(checkpoints):
        raise ValueError(f"switch_counts: {len(nulls)} null circuits for {len(checkpoints)} checkpoints")
    base = set(base)
    rows: dict[str, list[int]] = {}
    for t in range(len(checkpoints) - 1):
        if nulls[t] is None:
            continue
        now, nxt, null = set(checkpoints[t]), set(checkpoints[t + 1]), set(nulls[t])
        for h in sorted(now - base):
            r = rows.setdefault(h, [0, 0, 0])
            r[0] += 1
            r[1] += h not in nxt
            r[2] += h not in null
    return pd.DataFrame([[h, *v] for h, v in rows.items()], columns=["head", "exposures", "leaves", "null_leaves"])


def switch_difference(counts: pd.DataFrame, plan: Plan = PLAN) -> tuple[float, float, float]:
    """``(value, ci_low, ci_high)``: the share of emergent head-checkpoints gone at the next checkpoint
    minus the share missing from the same checkpoint's null circuit (both over the same exposures),
    with a percentile bootstrap over heads (a head's checkpoints stay together). The interval is NaN
    with fewer than ``plan.section4.min_heads`` heads; all NaN without exposures."""
    e = counts.exposures.to_numpy(float)
    if not len(e) or e.sum() == 0:
        return NAN3
    d = (counts.leaves - counts.null_leaves).to_numpy(float)
    value = float(d.sum() / e.sum())
    if len(e) < plan.section4.min_heads:
        return value, math.nan, math.nan
    rng = np.random.default_rng(plan.stats.seed)
    idx = rng.integers(0, len(e), (plan.stats.n_resamples, len(e)))  # [n_resamples, heads]
    boot = d[idx].sum(1) / e[idx].sum(1)
    return value, *_quantiles(boot, plan)


def independent_difference(a: np.ndarray, b: np.ndarray, plan: Plan = PLAN) -> tuple[float, float]:
    """CI of ``A - B`` for two independent bootstrap distributions (``a``, ``b``: their draws): the
    quantiles of every difference ``a_i - b_j``, which pairs each draw of one run with every draw of
    the other (NaNs when either is empty)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return math.nan, math.nan
    return _quantiles((a[:, None] - b[None, :]).ravel(), plan)


def relative_layers(heads: Iterable[str], n_layers: int) -> np.ndarray:
    """``layer / (n_layers - 1)`` of each head."""
    return np.array([parse_head(h)[0] for h in heads], float) / max(n_layers - 1, 1)


def layer_difference(a: Sequence[str], b: Sequence[str], n_layers: int,
                     plan: Plan = PLAN) -> tuple[float, float, float]:
    """Mean relative layer of heads ``a`` minus that of ``b``, with a percentile bootstrap that
    resamples each side's heads independently (the interval is NaN when a side has fewer than
    ``plan.section4.min_heads`` heads; all NaN when a side is empty)."""
    if not len(a) or not len(b):
        return NAN3
    la, lb = relative_layers(a, n_layers), relative_layers(b, n_layers)
    value = float(la.mean() - lb.mean())
    if min(la.size, lb.size) < plan.section4.min_heads:
        return value, math.nan, math.nan
    rng = np.random.default_rng(plan.stats.seed)
    n = plan.stats.n_resamples
    boot = la[rng.integers(0, la.size, (n, la.size))].mean(1) - lb[rng.integers(0, lb.size, (n, lb.size))].mean(1)
    return value, *_quantiles(boot, plan)


def _quantiles(x: np.ndarray, plan: Plan) -> tuple[float, float]:
    a = (1 - plan.stats.confidence) / 2
    return float(np.quantile(x, a)), float(np.quantile(x, 1 - a))
