"""Confidence intervals of the verdict rows, from ``scipy.stats`` (one implementation each).

* :func:`mean_ci` — bootstrap interval of a mean (``scipy.stats.bootstrap``, vectorized; BCa by
  default, since pass@1 of a few percent and its per-problem differences are skewed).
* :func:`proportion_ci` — exact (Clopper-Pearson) interval of ``k / n`` (``binomtest(...).proportion_ci``).
* :func:`difference_ci` — interval of ``mean(a) - mean(b)`` for two independent samples (bootstrap).

An interval that cannot be measured is ``(nan, nan)``, which decides nothing: fewer than two values,
no resamples, or values that are all equal (a bootstrap of constant data has no spread: scipy calls
it degenerate; a zero-width interval there would decide a row by the absence of any variation, e.g.
two conditions that are both at pass@1 0 on every problem).

Settings default to :data:`thinking_sparks.plan.PLAN`: resamples, confidence and seed from ``stats``,
the method from ``rules``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from thinking_sparks.plan import PLAN

__all__ = ["difference_ci", "mean_ci", "proportion_ci"]

NAN2 = (math.nan, math.nan)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _run(data: tuple, statistic, n_resamples: int, confidence: float, seed: int, method: str) -> tuple[float, float]:
    from scipy import stats  # deferred: scipy is heavy, loaded only for an interval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate / small-sample warnings: a NaN end says it
        res = stats.bootstrap(data, statistic, n_resamples=n_resamples, confidence_level=confidence,
                              method=method, vectorized=True, rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (lo, hi) if not (math.isnan(lo) or math.isnan(hi)) else NAN2


def mean_ci(values: Sequence[float] | np.ndarray, n_resamples: int | None = None, confidence: float | None = None,
            seed: int | None = None, method: str | None = None) -> tuple[float, float]:
    """Bootstrap interval of the mean of ``values`` (one per problem), resampling values.

    Returns ``(nan, nan)`` for fewer than 2 values, ``n_resamples < 1`` or constant values.
    """
    st = PLAN.stats
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("an interval needs at least one value")
    n = st.n_resamples if n_resamples is None else int(n_resamples)
    if v.size < 2 or n < 1 or np.all(v == v[0]):
        return NAN2
    return _run((v,), _mean, n, confidence or st.confidence, st.seed if seed is None else seed,
                method or PLAN.rules.interval_method)


def difference_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_resamples: int | None = None,
                  confidence: float | None = None, seed: int | None = None,
                  method: str | None = None) -> tuple[float, float]:
    """Bootstrap interval of ``mean(a) - mean(b)`` for two independent samples (each resampled on its own).

    Returns ``(nan, nan)`` when either side has fewer than 2 values or both are one constant.
    """
    st = PLAN.stats
    x, y = (np.asarray(s, dtype=np.float64).ravel() for s in (a, b))
    n = st.n_resamples if n_resamples is None else int(n_resamples)
    if min(x.size, y.size) < 2 or n < 1 or (np.all(x == x[0]) and np.all(y == y[0])):
        return NAN2

    def diff(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(p, axis=axis) - np.mean(q, axis=axis)

    return _run((x, y), diff, n, confidence or st.confidence, st.seed if seed is None else seed,
                method or PLAN.rules.interval_method)


def proportion_ci(k: int, n: int, confidence: float | None = None) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of the proportion ``k / n``; ``(nan, nan)`` when ``n == 0``."""
    from scipy import stats  # deferred: scipy is heavy, loaded only for an interval

    if n == 0:
        return NAN2
    if not 0 <= k <= n:
        raise ValueError(f"a proportion needs 0 <= k <= n, got k={k}, n={n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence or PLAN.stats.confidence,
                                                       method="exact")
    return float(ci.low), float(ci.high)
