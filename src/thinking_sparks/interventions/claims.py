"""The paper's intervention claims (Tables 1, 2, 5; Figs 5, 17), decided from the organism's samples.

One verdict row per claim, STYLE.md's schema: ``claim, paper, statistic, value, ci_low, ci_high,
criterion, verdict``. Every row's direction is the paper's, with the paper's numbers quoted in its
``statistic``; no bound is invented: a difference is tested against 0 in the paper's direction, a
head count against a quantile of a measured null.

Accuracy statistics are paired differences over problems (and sampling seeds) with a bootstrap CI
(:func:`~thinking_sparks.evaluation.metrics.paired_difference`, ``scipy.stats.bootstrap`` BCa):
``reproduced`` when the whole 95% interval meets the criterion, ``not reproduced`` when the whole
interval misses it, ``inconclusive`` when it straddles it or has none (one problem, or no variation
at all; success@k, a 0/1 per problem, then takes the exact bound of :func:`success_difference`). Head counts of the think-on / think-off circuits (built on sampled questions) take their
interval from a paired bootstrap over question pairs
(:func:`~thinking_sparks.emergence.stats.overlap_bootstrap`): no row is decided by a point count.

Against random head sets the interval resamples the sets as well as the problems
(:func:`~thinking_sparks.evaluation.metrics.sets_paired_difference`): with one random set the
variation between sets cannot be measured and that row is ``inconclusive``. Table 5's rows are
labelled by the samples' ``difficulty`` column (:data:`thinking_sparks.plan.PLAN` ``rules``), never by
the order of the eval sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from thinking_sparks.evaluation.intervals import proportion_ci
from thinking_sparks.evaluation.metrics import MIN_SETS, paired_difference, sets_paired_difference
from thinking_sparks.interventions.experiments import ExperimentResult
from thinking_sparks.interventions.headsets import parse_heads
from thinking_sparks.plan import PLAN
from thinking_sparks.verdicts import Verdict, verdict_table


def _row(claim: str, paper: str, statistic: str, stat: tuple[float, float, float], criterion: str,
         lower: float | None = None, upper: float | None = None) -> Verdict:
    """A row for the criterion ``lower < x < upper``, decided by its interval (none: ``inconclusive``)."""
    return Verdict(claim, paper, statistic, *stat, above=lower, below=upper, criterion=criterion)


def random_criterion(random_samples: pd.DataFrame, rule: str = "CI above 0") -> str:
    """``rule``, with the reason when the random sets (``random #<seed>`` conditions) are too few
    for an interval (:data:`~thinking_sparks.evaluation.metrics.MIN_SETS`)."""
    n = random_samples["condition"].nunique()
    if n >= MIN_SETS:
        return rule
    return f"{rule}; {n} random set: the variation between sets cannot be measured (needs {MIN_SETS})"


def _of(result: ExperimentResult, label: str, sets: Sequence[str] | None = None) -> pd.DataFrame:
    s = result.samples
    out = s[(s["condition"] == label) if label != "random" else s["condition"].str.startswith("random #")]
    if sets is not None:
        out = out[out["set"].isin(list(sets))]
    if out.empty:
        raise ValueError(f"no samples for condition {label!r}" + (f" on {list(sets)}" if sets else ""))
    return out


def ablation_verdicts(result: ExperimentResult, n_boot: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Table 1's claims from :func:`~.experiments.ablation_conditions` rows (all sets pooled).

    Needs conditions ``no ablation``, ``ablate emergent``, and optionally ``ablate control`` and
    ``random #<seed>`` rows. Table 1 (1.5B): zeroing the reasoning heads lowers every score (AIME'24
    30.0 -> 26.6, AIME'25 26.6 -> 16.6, GPQA 18.6 -> 17.1, AMC 66.2 -> 59.0); zeroing the TriviaQA
    heads collapses every score to 0.00, far below the reasoning-head ablation.
    """
    kw = dict(n_boot=n_boot, seed=seed)
    none, emergent = _of(result, "no ablation"), _of(result, "ablate emergent")
    rows = [_row("Zero-ablating the emergent heads lowers pass@1", "Table 1 (1.5B), §A.7",
                 "pass@1 no ablation − emergent ablated, paired over problems (paper: AIME'24 30.0 − 26.6, "
                 "AIME'25 26.6 − 16.6, GPQA 18.6 − 17.1, AMC 66.2 − 59.0)",
                 paired_difference(none, emergent, **kw), "CI above 0", lower=0.0)]
    if (result.samples["condition"].str.startswith("random #")).any():
        rnd = _of(result, "random")
        rows.append(_row("Ablating emergent heads hurts more than ablating as many random heads (layer-matched)",
                         "Table 1 (added control)",
                         f"pass@1 random sets (mean over {rnd['condition'].nunique()} seeds) − emergent ablated, "
                         "paired over problems, sets and problems resampled",
                         sets_paired_difference(rnd, emergent, **kw), random_criterion(rnd), lower=0.0))
    if (result.samples["condition"] == "ablate control").any():
        control = _of(result, "ablate control")
        rows.append(_row("Ablating the control (no-reasoning) circuit's heads collapses accuracy, far below "
                         "ablating the emergent heads", "Table 1 (1.5B), TriviaQA row",
                         "pass@1 emergent ablated − control ablated, paired over problems (paper: AIME'24 "
                         "26.6 − 0.00, AIME'25 16.6 − 0.00, GPQA 17.1 − 0.00, AMC 59.0 − 0.00)",
                         paired_difference(emergent, control, **kw), "CI above 0", lower=0.0))
    return verdict_table(rows)


#: Table 5 (Qwen2.5-Math-1.5B, pass@1): condition -> (AIME'24 unmodified, scaled; MATH unmodified, scaled)
TABLE5 = {
    "ablate sft": (13.3, 0.00, 56.0, 0.10),
    "x1.3 sft": (13.3, 0.00, 56.0, 58.2),
    "x1.3 grpo early": (13.3, 3.33, 56.0, 60.2),
    "x0.5 grpo early": (13.3, 3.33, 56.0, 63.0),
}
_WHAT = {"ablate": "Zeroing", "x1.3": "Scaling up (x1.3)", "x0.5": "Scaling down (x0.5)"}


def _by_difficulty(result: ExperimentResult, label: str, difficulty: str) -> pd.DataFrame:
    s = result.samples
    return s[(s["condition"] == label) & (s["difficulty"].astype(str) == difficulty)]


def scaling_verdicts(result: ExperimentResult, baseline: str = "no intervention", n_boot: int | None = None,
                     seed: int | None = None) -> pd.DataFrame:
    """Table 5's claims in the base model, one pair of rows per condition of :data:`TABLE5` present:
    the change of pass@1 on the hard set (the paper's AIME'24) and on the easy set (MATH).

    The sets are found by the samples' ``difficulty`` column (``PLAN.rules.hard_difficulty`` /
    ``easy_difficulty``); without both labels there is no row. Directions are Table 5's: every
    listed intervention lowers AIME'24 (13.3 -> 0.00 or 3.33); zeroing SFT's heads also lowers MATH
    (56.0 -> 0.10) while scaling raises it (58.2, 60.2, 63.0).
    """
    kw = dict(n_boot=n_boot, seed=seed)
    hard, easy = PLAN.rules.hard_difficulty, PLAN.rules.easy_difficulty
    present = set(result.samples["difficulty"].astype(str))
    if not {hard, easy} <= present:
        return verdict_table([])
    rows = []
    for label, (h0, h1, e0, e1) in TABLE5.items():
        if not (result.samples["condition"] == label).any():
            continue
        op, heads = label.split(" ", 1)
        what = f"{_WHAT[op]} {heads.upper() if heads == 'sft' else heads.replace('grpo', 'GRPO')}'s heads in the base model"
        for diff, (p0, p1), paper_set in ((hard, (h0, h1), "AIME'24"), (easy, (e0, e1), "MATH")):
            a, b = _by_difficulty(result, label, diff), _by_difficulty(result, baseline, diff)
            if a.empty or b.empty:
                continue
            up = p1 > p0
            rows.append(_row(f"{what} {'raises' if up else 'lowers'} {diff}-set pass@1", "Table 5 (§5.9)",
                             f"{diff} pass@1 {label} − {baseline}, paired over problems (paper, {paper_set}: "
                             f"{p1:g} − {p0:g})",
                             paired_difference(a, b, **kw), "CI above 0" if up else "CI below 0",
                             lower=0.0 if up else None, upper=None if up else 0.0))
    return verdict_table(rows)


def count_rows(n_on: float, n_off: float, on_only: float, diff_ci: tuple[float, float],
               on_only_ci: tuple[float, float], null_bound: float, why: str = "", on: str = "think-on",
               off: str = "think-off", more: str = "Think-off circuits recruit more heads than think-on circuits"
               ) -> list[Verdict]:
    """§6's two head-count rows from the counts, their paired-bootstrap intervals and the null's bound.

    Args:
        n_on, n_off, on_only: heads of the two circuits and heads only in the think-on one (NaN: not measured).
        diff_ci, on_only_ci: 95% intervals of ``n_off - n_on`` and of ``on_only`` (paired bootstrap).
        null_bound: the ``PLAN.circuits.floor_quantile`` quantile of the same-mode null of a one-sided count.
        why: the reason a row is not measured (appended to its criterion).
        on, off, more: how the two circuits are named, and the first row's claim in those names.

    "No think-only heads" (§6) is a claim of absence. A percentile interval of an integer count lies
    below 0.5 only as the zero-width ``[0, 0]``, which a count at its floor gives on almost every
    resample: the old rule "CI below 0.5" could be met by that degenerate interval alone. The bound is
    what two circuits of the *same* mode differ by on two independent question samples of the
    comparison's size (a measured null, :func:`~thinking_sparks.interventions.counts.same_size_null`), not 0.5;
    a count is within the null when it is at or below the null's quantile (the mirror of page 04's "above
    the floor": a count equal to the null's quantile is no evidence of think-only heads, and two
    circuits that share every head, 0 against a null of 0, reproduce the absence).
    """
    q = PLAN.circuits.floor_quantile
    null_why = "" if why or not math.isnan(null_bound) else "; the same-mode null was not measured"
    return [
        Verdict(more, "§6, Fig 17",
                f"heads in the {off} circuit − heads in the {on} circuit (paired bootstrap over question pairs; "
                "the paper gives no count)", n_off - n_on, *diff_ci, above=0.0, criterion="CI above 0" + why),
        Verdict("Think-on heads are (almost) all in the think-off circuit: no think-only heads", "§6",
                f"{on} heads missing from the {off} circuit (paired bootstrap over question pairs)", on_only,
                *on_only_ci, below=math.nextafter(null_bound, math.inf),
                criterion=f"CI at or below the {q:.0%} quantile of the same-mode null "
                          f"({'n/a' if math.isnan(null_bound) else f'{null_bound:g}'}; not reproduced when wholly "
                          "above it)" + why + null_why),
    ]


def count_verdicts(think_on_heads: Sequence[str], think_off_heads: Sequence[str], boot: pd.DataFrame | None,
                   null: np.ndarray | None) -> list[Verdict]:
    """:func:`count_rows` from the two circuits' heads, their
    :func:`~thinking_sparks.emergence.stats.overlap_bootstrap` (think-on as ``a``, think-off as ``b``, on
    the same pairs; None or empty: not measured) and the same-mode null
    (:func:`~thinking_sparks.interventions.counts.think_counts`; None or empty: not measured)."""
    on_set, off_set = set(parse_heads(think_on_heads)), set(parse_heads(think_off_heads))
    nan = float("nan")
    empty = [name for name, heads in (("think-on", on_set), ("think-off", off_set)) if not heads]
    why = f"; the {' and '.join(empty)} circuit is empty: nothing to compare" if empty else ""
    measured = boot is not None and len(boot) > 0 and not empty
    if not measured and not why:
        why = "; no paired bootstrap of the two circuits: not measured"
    ends = ((1 - PLAN.stats.confidence) / 2, (1 + PLAN.stats.confidence) / 2)

    def ci(col: pd.Series) -> tuple[float, float]:
        return tuple(float(col.quantile(q)) for q in ends) if measured else (nan, nan)

    bound = float(np.quantile(null, PLAN.circuits.floor_quantile)) if null is not None and len(null) else nan
    if empty:
        return count_rows(nan, nan, nan, (nan, nan), (nan, nan), bound, why)
    return count_rows(len(on_set), len(off_set), len(on_set - off_set),
                      ci(boot["n_b"] - boot["n_a"]) if measured else (nan, nan),
                      ci(boot["only_a"]) if measured else (nan, nan), bound, why)


def success_difference(samples_a: pd.DataFrame, samples_b: pd.DataFrame, k: int = 1, n_boot: int | None = None,
                       seed: int | None = None) -> tuple[float, float, float]:
    """success@k of ``a`` − ``b``, paired over problems and sampling seeds (:func:`paired_difference`).

    success@k is 0 or 1 per problem. When the two conditions agree on every one of the n problems the
    bootstrap has nothing to resample (no interval), yet the data say something: the share of problems
    on which they differ is 0 of n, and the difference of two 0/1 outcomes is at most that share in size,
    so ``[-u, u]`` with ``u`` the exact (Clopper-Pearson) upper end for 0 of n is a 95 % interval of the
    difference (it straddles 0: such a row is inconclusive, with an interval)."""
    value, lo, hi = paired_difference(samples_a, samples_b, f"success@{k}", n_boot=n_boot, seed=seed)
    n = int(samples_a["problem_id"].nunique())
    if not (math.isnan(lo) and math.isnan(hi)) or value != 0 or n < 2:
        return value, lo, hi
    u = proportion_ci(0, n)[1]
    return value, -u, u


def fig5_verdicts(k_samples: pd.DataFrame, ablated: str = "think off + ablation", off: str = "think off",
                  low_k: int = 1, high_k: int | None = None, n_boot: int | None = None,
                  seed: int | None = None) -> list[Verdict]:
    """Fig 5's claims: ablating think-off-only heads wins success@k only at small k (k <= 2), while the
    unmodified think-off model keeps a slight pass@k lead as k grows (up to 64).

    Both rows are paired differences over problems (the same problems and sampling seeds in both
    conditions: sample ``j`` of problem ``i`` is drawn from one generator in each), with the plan's
    ``scipy.stats.bootstrap`` interval (BCa: success@1 of a few percent is skewed). The paper gives no
    value of Fig 5's curves; success@1 is pass@1 of the first sample, so the first row quotes Table 2's
    AIME'24 pass@1 (think off 30.0, ablated 36.6), the paper's own number in the same direction."""
    a = k_samples[k_samples["condition"] == ablated]
    b = k_samples[k_samples["condition"] == off]
    high_k = high_k or int(b.groupby("problem_id").size().min())
    kw = dict(n_boot=n_boot, seed=seed)
    return [
        _row(f"Ablating think-off-only heads raises success@{low_k} in think-off mode", "Fig 5",
             f"success@{low_k} ablated − think off, paired over problems and sampling seeds (paper: Fig 5, ablation "
             "ahead only at k <= 2; Table 2, AIME'24 pass@1 36.6 − 30.0)",
             success_difference(a, b, low_k, **kw), "CI above 0", lower=0.0),
        _row(f"... but lowers pass@{high_k}", "Fig 5",
             f"pass@{high_k} ablated − think off, paired over problems and sampling seeds (paper: Fig 5, think off "
             "keeps a slight lead up to k = 64; no values in the text)",
             paired_difference(a, b, f"pass@{high_k}", **kw), "CI below 0", upper=0.0),
    ]


def think_verdicts(think_on_heads: Sequence[str], think_off_heads: Sequence[str], k_samples: pd.DataFrame | None,
                   boot: pd.DataFrame | None = None, null: np.ndarray | None = None,
                   ablated: str = "think off + ablation", off: str = "think off", low_k: int = 1,
                   high_k: int | None = None, n_boot: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """§6's claims: :func:`count_verdicts` (more heads without thinking; no think-only heads) and, with
    ``k_samples`` (the k-curve runs, a ``condition`` column, many samples per problem), :func:`fig5_verdicts`."""
    rows = count_verdicts(think_on_heads, think_off_heads, boot, null)
    if k_samples is not None:
        rows += fig5_verdicts(k_samples, ablated, off, low_k, high_k, n_boot, seed)
    return verdict_table(rows)
