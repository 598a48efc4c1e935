"""Power calculation: how many problems an evaluation needs, fixed before any result is seen.

A verdict about accuracy compares two conditions on the same problems with the same sampling
seeds (a paired difference of pass@1). Per problem i, each condition's mean correctness over its
k samples is ``X_i`` and ``Y_i``; the verdict's interval is around the mean of ``D_i = X_i - Y_i``
over n problems, whose 95 % half-width is about ``z sd_d / sqrt(n)``. So the interval's half-width
is at most ``h`` when::

    n = ceil((z * sd_d / h) ** 2)           # problems_needed

``sd_d`` must not come from the results the verdict is computed from. Two honest sources:

* a bound (:func:`sd_bound`): ``X_i`` lies in [0, 1] with mean ``p_a``, so ``Var X_i <= p_a (1 - p_a)``
  (equality when every problem is always right or always wrong: more samples per problem do not
  lower the bound). When the two conditions' problem rates do not covary negatively,
  ``Var D_i <= p_a q_a + p_b q_b <= 0.5`` at any accuracies; with no assumption at all
  ``sd_d <= sqrt(p_a q_a) + sqrt(p_b q_b) <= 1``;
* a pilot (:func:`pilot_sd`) on independent problems (another seed than the eval sets), run once,
  its numbers and date written into the plan's reasons.

:func:`n_to_decide` says, for an inconclusive verdict row, at what n its interval would exclude the
rule's bound if the point estimate stayed where it is: the half-width ``w`` at n shrinks as
``1 / sqrt(n)``, so it reaches the distance ``d`` from the estimate to the bound at ``n (w / d)^2``.
:func:`with_n_to_decide` adds that as the optional column ``n_to_decide`` of a verdict table
(:data:`thinking_sparks.verdicts.COLUMNS` is unchanged).

Example::

    problems_needed(sd_bound(), half_width=0.03)   # 2135: z = 1.96, sd_d = sqrt(0.5)
    half_width_at(sd_bound(), 200)                 # 0.098
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

from thinking_sparks.plan import PLAN

__all__ = ["bounds_of", "half_width_at", "n_to_decide", "pilot_sd", "problems_needed", "sd_bound",
           "with_n_to_decide", "z_value"]


def z_value(confidence: float = PLAN.stats.confidence) -> float:
    """The two-sided normal quantile of ``confidence`` (1.959964 at 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def sd_bound(p_a: float = 0.5, p_b: float = 0.5, nonnegative_covariance: bool = True) -> float:
    """An upper bound on the SD of the per-problem difference of mean correctness.

    Args:
        p_a, p_b: the two conditions' pass@1 (0.5, the default, is the worst case of each).
        nonnegative_covariance: assume the conditions' per-problem rates do not covary negatively
            (``sqrt(p_a q_a + p_b q_b)``); False: no assumption (``sqrt(p_a q_a) + sqrt(p_b q_b)``).
    """
    for name, p in (("p_a", p_a), ("p_b", p_b)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {p!r}")
    va, vb = p_a * (1 - p_a), p_b * (1 - p_b)
    return math.sqrt(va + vb) if nonnegative_covariance else math.sqrt(va) + math.sqrt(vb)


def problems_needed(sd_d: float, half_width: float = PLAN.stats.half_width,
                    confidence: float = PLAN.stats.confidence) -> int:
    """``ceil((z sd_d / half_width)^2)``: problems for a paired mean difference known to ``+-half_width``."""
    if sd_d < 0 or half_width <= 0:
        raise ValueError(f"need sd_d >= 0 and half_width > 0, got sd_d={sd_d!r}, half_width={half_width!r}")
    return max(1, math.ceil((z_value(confidence) * sd_d / half_width) ** 2 - 1e-9))


def half_width_at(sd_d: float, n: int, confidence: float = PLAN.stats.confidence) -> float:
    """The half-width ``z sd_d / sqrt(n)`` that ``n`` problems reach."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return z_value(confidence) * sd_d / math.sqrt(n)


def pilot_sd(x: Sequence[Sequence[float]], y: Sequence[Sequence[float]], k: int | None = None) -> float:
    """SD of the per-problem difference ``mean(x_i) - mean(y_i)`` from a pilot, at ``k`` samples per problem.

    Args:
        x, y: per problem (same order, independent pilot problems), each condition's correctness
            per sample (0/1), at least two samples per problem.
        k: the samples per problem the evaluation will draw (None: the pilot's own).

    The variance splits into the between-problem part ``Var(a_i - b_i)`` and the sampling part
    ``E[s_a^2 + s_b^2] / k`` (``s^2``: a problem's sample variance); both are estimated from the pilot
    and the sampling part rescaled to ``k``.
    """
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"the pilot needs the same problems (at least 2) in both conditions, got {len(x)} and {len(y)}")
    import numpy as np  # deferred: numpy only for the pilot

    def split(rows):
        if any(len(r) < 2 for r in rows):
            raise ValueError("the pilot needs at least two samples per problem and condition")
        return (np.array([np.mean(r) for r in rows]), np.array([np.var(r, ddof=1) for r in rows]),
                np.array([len(r) for r in rows]))

    mx, vx, kx = split(x)
    my, vy, ky = split(y)
    within = vx / kx + vy / ky  # the sampling part at the pilot's own k
    between = max(0.0, float(np.var(mx - my, ddof=1) - within.mean()))
    sampling = float(within.mean()) if k is None else float((vx + vy).mean()) / k
    return math.sqrt(between + sampling)


_NUMBER = r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)"


def bounds_of(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(above, below)`` of a verdict row: its ``above`` / ``below`` entries, or else read from its
    criterion (``... within (a, b)``, ``... above a``, ``... below b``)."""
    if row.get("above") is not None or row.get("below") is not None:
        return row.get("above"), row.get("below")
    text = str(row.get("criterion", ""))
    m = re.search(rf"within \({_NUMBER}, {_NUMBER}\)", text)
    if m:
        return float(m.group(1)), float(m.group(2))
    above = re.search(rf"above {_NUMBER}", text)
    below = re.search(rf"below {_NUMBER}", text)
    return (float(above.group(1)) if above else None), (float(below.group(1)) if below else None)


def n_to_decide(row: Mapping[str, Any], n: int) -> int | None:
    """The sample size at which an inconclusive row's interval would exclude the rule's bound.

    With half-width ``w = (ci_high - ci_low) / 2`` at sample size ``n`` and distance ``d`` from the
    point estimate to the nearest bound the interval straddles, ``ceil(n (w / d)^2)``, and at least
    ``n + 1`` (an interval that ends on its bound is undecided at ``n``). None when the
    row is decided, has no interval or no bound is read, or its estimate sits on the bound (d = 0).
    """
    if row.get("verdict") not in (None, "inconclusive"):
        return None
    try:
        value, lo, hi = (float(row[c]) for c in ("value", "ci_low", "ci_high"))
    except (KeyError, TypeError, ValueError):
        return None
    if any(math.isnan(v) for v in (value, lo, hi)):
        return None
    above, below = bounds_of(row)
    straddled = [b for b in (above, below) if b is not None and lo <= b <= hi]
    if not straddled:
        return None
    d = min(abs(value - b) for b in straddled)
    if d == 0:
        return None
    w = (hi - lo) / 2
    return max(int(n) + 1, math.ceil(n * (w / d) ** 2 - 1e-9))  # an interval ending on its bound needs more than n


def with_n_to_decide(table, n: int | Sequence[int | None]):
    """``table`` (a verdict table) with the column ``n_to_decide``: :func:`n_to_decide` of each row at
    its sample size (``n``: one for all rows, or one per row, None where no sample size applies)."""
    import pandas as pd  # deferred: pandas only for tables

    sizes = [n] * len(table) if isinstance(n, int) else list(n)
    if len(sizes) != len(table):
        raise ValueError(f"need one sample size per row: {len(sizes)} for {len(table)} rows")
    values = [None if size is None else n_to_decide(row, size) for row, size in zip(table.to_dict("records"), sizes)]
    return table.assign(n_to_decide=pd.array(values, dtype="Int64"))
