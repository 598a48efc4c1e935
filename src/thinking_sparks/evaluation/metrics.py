"""pass@1, unbiased pass@k, success@k and bootstrap confidence intervals, by difficulty (§5.10).

Input is the tidy samples table written by the harness: one row per (problem, sample) with
columns ``problem_id``, ``difficulty``, ``sample_index`` (generation order) and ``correct``.

- pass@k (Chen et al. 2021): per problem with n samples, c correct,
  ``1 - C(n-c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1..n} (1 - k/i)``; order-free.
- success@k: per problem, 1 if a correct answer is among the first k samples in generation
  order; order-dependent.
- pass@1 is the mean correctness over the n samples (== pass@k at k=1).
Each metric is the mean over problems, with a seeded percentile bootstrap CI over problems; a
single problem (or ``n_boot < 1``) gives no interval (NaN, NaN), never a zero-width one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from thinking_sparks.plan import PLAN

__all__ = [
    "pass_at_k", "success_at_k", "default_ks", "per_problem", "bootstrap_ci", "MetricValue",
    "EvalSummary", "summarize", "paired_difference", "sets_paired_difference", "MIN_SETS",
]

#: random head sets that :func:`sets_paired_difference` needs to measure the variation between sets
MIN_SETS = 2

ALL = "all"  #: the difficulty label of the pooled group


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: ``1 - C(n-c, k) / C(n, k)`` (numerically stable)."""
    if n < 1:
        raise ValueError(f"pass@k needs n >= 1 samples, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"correct count c={c} must lie in [0, n={n}]")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must lie in [1, n={n}]")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def success_at_k(correct_in_order: Sequence[bool], k: int) -> float:
    """1.0 if any of the first ``k`` samples (generation order) is correct, else 0.0."""
    if not 1 <= k <= len(correct_in_order):
        raise ValueError(f"k={k} must lie in [1, n={len(correct_in_order)}]")
    return float(any(bool(v) for v in list(correct_in_order)[:k]))


def default_ks(n: int) -> list[int]:
    """Powers of two up to ``n``: 1, 2, 4, ... <= n."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [1 << e for e in range(n.bit_length())]


def per_problem(samples: pd.DataFrame, ks: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per problem: ``problem_id, difficulty, n, c, pass@k..., success@k...``.

    Args:
        samples: tidy samples (``problem_id, difficulty, sample_index, correct``).
        ks: the k values (default :func:`default_ks` of the smallest n); each must be <= every n.
    """
    missing = {"problem_id", "difficulty", "sample_index", "correct"} - set(samples.columns)
    if missing:
        raise ValueError(f"samples table lacks columns {sorted(missing)}")
    if samples.empty:
        raise ValueError("samples table is empty")
    ordered = samples.sort_values(["problem_id", "sample_index"], kind="stable")
    codes, _ = pd.factorize(ordered["problem_id"], sort=False)  # problems in sorted order, contiguous
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    n_min = int(sizes.min())
    ks = list(ks) if ks is not None else default_ks(n_min)
    for k in ks:
        if not 1 <= k <= n_min:
            raise ValueError(f"k={k} must lie in [1, n={n_min}] (the fewest samples of any problem)")
    correct = ordered["correct"].astype(bool).to_numpy()
    counts = np.add.reduceat(correct.astype(np.int64), starts)
    rank = np.arange(len(codes)) - np.repeat(starts, sizes)  # a sample's place in its problem's generation order
    out = {"problem_id": ordered["problem_id"].iloc[starts].tolist(),
           "difficulty": ordered["difficulty"].iloc[starts].tolist(),
           "n": [int(x) for x in sizes], "c": [int(x) for x in counts]}
    pairs = {nc: None for nc in zip(out["n"], out["c"])}
    for k in ks:
        at = {nc: pass_at_k(nc[0], nc[1], k) for nc in pairs}
        out[f"pass@{k}"] = [at[nc] for nc in zip(out["n"], out["c"])]
    for k in ks:
        out[f"success@{k}"] = (np.add.reduceat((correct & (rank < k)).astype(np.int64), starts) > 0).astype(float).tolist()
    return pd.DataFrame(out)


def bootstrap_ci(values: Sequence[float] | np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling ``values`` (one per problem) with replacement.

    One value (or ``n_boot < 1``) has no spread to resample: the interval is ``(nan, nan)``, which
    decides nothing (a zero-width interval at the value would decide by one problem).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if v.size == 1 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def paired_difference(samples_a: pd.DataFrame, samples_b: pd.DataFrame, metric: str = "pass@1",
                      n_boot: int | None = None, alpha: float | None = None,
                      seed: int | None = None) -> tuple[float, float, float]:
    """Mean over problems of ``metric(a) - metric(b)``, with a paired bootstrap CI
    (:func:`~thinking_sparks.evaluation.intervals.mean_ci`: ``scipy.stats.bootstrap``, BCa by the plan).

    Both sides must hold the same problems: the difference is taken problem by problem, and the
    bootstrap resamples problems. Two conditions on the same problems with the same sampling seed
    draw sample ``j`` of problem ``i`` from the same generator (``generation.sample_seed``), so the
    pairing is by problem and by sampling seed. ``metric`` is ``pass@k`` or ``success@k`` (k at
    most the samples per problem). A problem that appears in several rows of one side (e.g. random
    head sets of several seeds) is averaged first. Constant differences (e.g. both sides at 0 on
    every problem) or a single problem give no interval (NaN, NaN).

    Args:
        n_boot, alpha, seed: resamples, 1 - confidence and resampling seed (None: the plan's).

    Returns ``(difference, ci_low, ci_high)``; raises ``ValueError`` when the problem sets differ.
    """
    from thinking_sparks.evaluation.intervals import mean_ci

    k = int(metric.split("@")[1])
    a = per_problem(samples_a, ks=[k]).groupby("problem_id")[metric].mean()
    b = per_problem(samples_b, ks=[k]).groupby("problem_id")[metric].mean()
    if set(a.index) != set(b.index):
        raise ValueError("a paired difference needs the same problems on both sides")
    diff = (a - b.reindex(a.index)).to_numpy()
    lo, hi = mean_ci(diff, n_resamples=n_boot, confidence=None if alpha is None else 1 - alpha, seed=seed)
    return float(diff.mean()), lo, hi


def sets_paired_difference(sets_a: pd.DataFrame, samples_b: pd.DataFrame, by: str = "condition",
                           metric: str = "pass@1", n_boot: int | None = None, alpha: float | None = None,
                           seed: int | None = None) -> tuple[float, float, float]:
    """Mean over the sets of ``sets_a`` (e.g. random head sets, one per value of ``by``) and over
    problems of ``metric(a) - metric(b)``, with a two-level percentile bootstrap CI.

    Each draw resamples the sets and the problems (both with replacement), so the variation between
    sets enters the interval; :func:`paired_difference` on the pooled sets would average them per
    problem first and leave it out. With fewer than :data:`MIN_SETS` sets (or one problem) that
    variation cannot be measured and the interval is ``(nan, nan)``; so it is when every difference is
    the same (nothing varies: a zero-width interval would decide by that alone).

    scipy.stats.bootstrap has no two-level resampling, so this one is written out (vectorized).
    ``n_boot``, ``alpha``, ``seed``: None takes the plan's (``PLAN.stats``).

    Returns ``(difference, ci_low, ci_high)``; raises ``ValueError`` when a set's problems differ from ``b``'s.
    """
    n_boot = PLAN.stats.n_resamples if n_boot is None else n_boot
    alpha = 1 - PLAN.stats.confidence if alpha is None else alpha
    seed = PLAN.stats.seed if seed is None else seed
    k = int(metric.split("@")[1])
    if by not in sets_a.columns:
        raise ValueError(f"sets_paired_difference: the samples lack the column {by!r} that names the sets")
    b = per_problem(samples_b, ks=[k]).groupby("problem_id")[metric].mean()
    rows = []
    for name, part in sets_a.groupby(by, sort=True):
        a = per_problem(part, ks=[k]).groupby("problem_id")[metric].mean()
        if set(a.index) != set(b.index):
            raise ValueError(f"a paired difference needs the same problems on both sides ({by} {name!r} differs)")
        rows.append((a - b.reindex(a.index)).reindex(b.index).to_numpy())
    d = np.vstack(rows)  # [n_sets, n_problems]
    value = float(d.mean())
    n_sets, n_problems = d.shape
    if n_sets < MIN_SETS or n_problems < 2 or n_boot < 1 or np.all(d == d.flat[0]):  # constant: no spread
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    ws = np.apply_along_axis(np.bincount, 1, rng.integers(0, n_sets, (n_boot, n_sets)), minlength=n_sets)
    wp = np.apply_along_axis(np.bincount, 1, rng.integers(0, n_problems, (n_boot, n_problems)), minlength=n_problems)
    means = np.einsum("bs,sp,bp->b", ws, d, wp) / (n_sets * n_problems)  # [n_boot]
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return value, float(lo), float(hi)


@dataclass(frozen=True)
class MetricValue:
    """One metric for one difficulty group: mean over problems and its bootstrap CI."""

    difficulty: str
    metric: str  # "pass" | "success"
    k: int
    value: float
    ci_low: float
    ci_high: float
    n_problems: int


@dataclass
class EvalSummary:
    """All metrics for every difficulty (and ``"all"``); ``to_frame`` gives the tidy table."""

    values: list[MetricValue]
    n_samples: int
    ks: list[int]
    alpha: float
    extra: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(v) for v in self.values])

    def get(self, metric: str, k: int, difficulty: str = ALL) -> MetricValue:
        for v in self.values:
            if v.metric == metric and v.k == k and v.difficulty == difficulty:
                return v
        raise KeyError(f"no {metric}@{k} for difficulty {difficulty!r}")

    @property
    def pass_at_1(self) -> float:
        return self.get("pass", 1).value

    def to_dict(self) -> dict:
        """JSON-ready: ``{difficulty: {"pass@1": {"value", "ci": [lo, hi]}, ...}, ...}``."""
        out: dict = {}
        for v in self.values:
            group = out.setdefault(str(v.difficulty), {"n_problems": v.n_problems})
            group[f"{v.metric}@{v.k}"] = {"value": v.value, "ci": [v.ci_low, v.ci_high]}
        return out


def summarize(samples: pd.DataFrame, ks: Sequence[int] | None = None, n_boot: int = 1000,
              alpha: float = 0.05, seed: int = 0) -> EvalSummary:
    """pass@k and success@k with bootstrap CIs, pooled (``"all"``) and per difficulty."""
    table = per_problem(samples, ks)
    ks = sorted(int(c.split("@")[1]) for c in table.columns if c.startswith("pass@"))
    groups = [(ALL, table)]
    if table["difficulty"].nunique() > 1:
        groups += [(str(d), g) for d, g in table.groupby("difficulty", sort=True)]
    elif str(table["difficulty"].iloc[0]) != ALL:
        groups.append((str(table["difficulty"].iloc[0]), table))
    values = []
    for label, g in groups:
        for metric in ("pass", "success"):
            for k in ks:
                col = g[f"{metric}@{k}"].to_numpy()
                lo, hi = bootstrap_ci(col, n_boot=n_boot, alpha=alpha, seed=seed)
                values.append(MetricValue(label, metric, k, float(col.mean()), lo, hi, len(g)))
    return EvalSummary(values=values, n_samples=len(samples), ks=ks, alpha=alpha)
