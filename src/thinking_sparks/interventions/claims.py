"""The paper's intervention claims (§5.8–§5.10, §6), decided from the organism's samples.

One verdict row per claim, STYLE.md's schema: ``claim, paper, statistic, value, ci_low, ci_high,
criterion, verdict``. Statistics are paired differences over problems with a bootstrap CI
(:func:`~thinking_sparks.evaluation.metrics.paired_difference`): ``reproduced`` when the
whole 95% interval meets the criterion, ``not reproduced`` when the whole interval misses it,
``inconclusive`` when it straddles it or has none (one problem); only a head count, exact without a
CI, is decided by its value (rows built by :class:`thinking_sparks.verdicts.Verdict`).

Against random head sets the interval resamples the sets as well as the problems
(:func:`~thinking_sparks.evaluation.metrics.sets_paired_difference`): with one random set the
variation between sets cannot be measured and that row is ``inconclusive``. A head count from an
empty circuit decides nothing: those rows are ``inconclusive`` with the reason in their criterion.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from thinking_sparks.evaluation.metrics import MIN_SETS, paired_difference, sets_paired_difference
from thinking_sparks.interventions.experiments import ExperimentResult
from thinking_sparks.interventions.headsets import parse_heads
from thinking_sparks.verdicts import Verdict, verdict_table


def _row(claim: str, paper: str, statistic: str, stat: tuple[float, float, float], criterion: str,
         lower: float | None = None, upper: float | None = None, point_decides: bool = False) -> Verdict:
    """A row for the criterion ``lower < x < upper``; only an exact count (``point_decides``) is decided
    by its value without a CI: an estimate without one (e.g. from one problem) is ``inconclusive``."""
    return Verdict(claim, paper, statistic, *stat, above=lower, below=upper, criterion=criterion,
                   point_decides=point_decides)


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


def ablation_verdicts(result: ExperimentResult, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Table 1's claims from :func:`~.experiments.ablation_conditions` rows (all sets pooled).

    Needs conditions ``no ablation``, ``ablate emergent``, and optionally ``ablate control`` and
    ``random #<seed>`` rows.
    """
    kw = dict(n_boot=n_boot, seed=seed)
    none, emergent = _of(result, "no ablation"), _of(result, "ablate emergent")
    rows = [_row("Zero-ablating the emergent heads lowers pass@1", "Table 1 (§A.7)",
                 "pass@1 no ablation − emergent ablated, paired over problems",
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
        base_p1 = float(none["correct"].mean())
        rows.append(_row("Ablating the control (no-reasoning) circuit's heads collapses accuracy",
                         "Table 1, TriviaQA row", "pass@1 no ablation − control ablated, paired over problems",
                         paired_difference(none, control, **kw),
                         f"CI above half the unablated pass@1 ({base_p1 / 2:.3f})", lower=base_p1 / 2))
    return verdict_table(rows)


def scaling_verdicts(result: ExperimentResult, label: str = "x1.3 sft", baseline: str = "no intervention",
                     hard: Sequence[str] = ("hard",), easy: Sequence[str] = ("easy",), n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
    """Table 5's reading: scaling up SFT's heads in the base model helps hard problems, hurts easy ones."""
    kw = dict(n_boot=n_boot, seed=seed)
    rows = [
        _row("Scaling up SFT's emergent heads in the base model helps hard problems", "Table 5 (§5.9)",
             f"pass@1 {label} − {baseline} on {', '.join(hard)}",
             paired_difference(_of(result, label, hard), _of(result, baseline, hard), **kw), "CI above 0", lower=0.0),
        _row("... and hurts easy ones", "Table 5 (§5.9)", f"pass@1 {label} − {baseline} on {', '.join(easy)}",
             paired_difference(_of(result, label, easy), _of(result, baseline, easy), **kw), "CI below 0", upper=0.0),
    ]
    return verdict_table(rows)


def think_verdicts(think_on_heads: Sequence[str], think_off_heads: Sequence[str], k_samples: pd.DataFrame,
                   ablated: str = "think off + ablation", off: str = "think off", low_k: int = 1,
                   high_k: int | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """§6's claims: more heads without thinking; no think-only heads; ablating think-off-only heads
    raises low-k success@k but lowers high-k pass@k.

    Args:
        k_samples: samples of the k-curve runs with a ``condition`` column (many samples per problem).
        high_k: default: the samples per problem.
    """
    on, offh = set(parse_heads(think_on_heads)), set(parse_heads(think_off_heads))
    nan = float("nan")
    a = k_samples[k_samples["condition"] == ablated]
    b = k_samples[k_samples["condition"] == off]
    high_k = high_k or int(b.groupby("problem_id").size().min())
    kw = dict(n_boot=n_boot, seed=seed)
    empty = [name for name, heads in (("think-on", on), ("think-off", offh)) if not heads]
    why = f"; the {' and '.join(empty)} circuit is empty: nothing to compare" if empty else ""
    rows = [
        _row("Think-off circuits recruit more heads than think-on circuits", "§6, Fig 17",
             "heads in think-off circuit − heads in think-on circuit",
             (nan if empty else len(offh) - len(on), nan, nan), "> 0" + why, lower=0.0, point_decides=True),
        _row("Think-on heads are (almost) all in the think-off circuit: no think-only heads", "§6",
             "think-on heads missing from the think-off circuit",
             (nan if empty else len(on - offh), nan, nan), "= 0" + why, upper=0.5, point_decides=True),
        _row(f"Ablating think-off-only heads raises success@{low_k} in think-off mode", "Fig 5",
             f"success@{low_k} ablated − think off, paired over problems",
             paired_difference(a, b, f"success@{low_k}", **kw), "CI above 0", lower=0.0),
        _row(f"... but lowers pass@{high_k}", "Fig 5", f"pass@{high_k} ablated − think off, paired over problems",
             paired_difference(a, b, f"pass@{high_k}", **kw), "CI below 0", upper=0.0),
    ]
    return verdict_table(rows)
