"""The paper's §4 claims, decided from the organism's data: one verdict row per claim.

Columns (STYLE.md's verdict schema): ``claim, paper, statistic, value, ci_low, ci_high, criterion,
verdict``, built by :mod:`thinking_sparks.verdicts`.  A verdict is ``reproduced`` when the whole
95% CI satisfies the criterion, ``not reproduced`` when the whole CI fails it, ``inconclusive`` when
the CI straddles it or is missing. Every row quotes where the paper says it (v2 numbering) and the
paper's number where it gives one; every bound is the paper's number or direction
(:class:`~thinking_sparks.plan.Section4Plan`) or a quantile of a measured null. The rules:

* new heads track the reward (Fig 3B): Sen's slope of the reward *change* on the new-head *change*
  between consecutive checkpoints, CI from inverting the exact permutation test of Kendall's tau
  (:func:`~.stats.slope_interval`); CI above 0. Levels are not tested: two trending series
  correlate by chance.
* GRPO switches heads (Fig 3A/C): the share of emergent heads gone at the next checkpoint minus the
  share missing from a second circuit of the *same* checkpoint (``Trace.nulls``), bootstrapped over
  heads (:func:`~.claimstats.switch_difference`); CI above 0.
* GRPO adds fewer heads than SFT (Table 3): the two runs' bootstrap draws paired every-with-every
  (independent; :func:`~.claimstats.independent_difference`); CI below 0.
* heads persist (Fig 2A/B, "most"): Clopper-Pearson CI of the share active at the end above 1/2.
* about two-thirds retained (§4.1, §7): a claim in two parts (:class:`PartsVerdict`), the direction
  (CI within (1/2, 1): most but, unlike the MLP nodes, not all) and the number (2/3 inside the CI).
* distillation's heads sit earlier (Fig 14): mean relative layer, heads resampled independently on
  each side (:data:`MIN_HEADS` a side); CI below 0.

* adds many emergent heads (Table 3): the count of heads emergent by the plan's inclusion rule, its
  paired-bootstrap CI against the 95th percentile of its same-size null (:func:`emergent_row`,
  :mod:`.headstats`); without a CI or a floor it decides nothing.

Too little data gives no interval, never a narrow one. A run whose same-size null or same-checkpoint
null could not be measured gets an ``inconclusive`` row that says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinking_sparks.emergence.claimstats import (
    independent_difference,
    layer_difference,
    proportion_ci,
    switch_counts,
    switch_difference,
)
from thinking_sparks.emergence.stats import slope_interval
from thinking_sparks.emergence.trace import Trace
from thinking_sparks.plan import PLAN, Plan
from thinking_sparks.verdicts import Verdict, combine, decide, verdict_table

#: heads on each side that a layer difference needs for an interval (one head has no spread to resample)
MIN_HEADS = PLAN.section4.min_heads
NAN = math.nan


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (nan, nan when ``n == 0``)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


@dataclass(frozen=True)
class PartsVerdict(Verdict):
    """A row checked in parts: its verdict is :func:`~thinking_sparks.verdicts.combine` of ``parts``
    (all reproduced -> reproduced; some reproduced, the rest not -> partly; any inconclusive ->
    inconclusive)."""

    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "verdict", combine(self.parts))


def ever_emergent(tr: Trace) -> dict[str, list[bool]]:
    """Per head ever emergent along the run: its active flags from its first appearance on."""
    base = set(tr.base.heads)
    seq = [set(r.heads) - base for r in tr.live()]
    out = {}
    for h in sorted(set().union(*seq)):
        first = next(i for i, s in enumerate(seq) if h in s)
        out[h] = [h in s for s in seq[first:]]
    return out


def _stable(tr: Trace) -> tuple[int, int]:
    """(heads ever emergent that are active at the final checkpoint, heads ever emergent)."""
    flags = ever_emergent(tr)
    return sum(f[-1] for f in flags.values()), len(flags)


def _null_heads(x) -> set[str] | None:
    """A null circuit's heads: None when it is missing or has no signal."""
    if x is None or not getattr(x, "has_signal", True):
        return None
    return set(x.heads) if hasattr(x, "heads") else set(x)


def switching(tr: Trace) -> pd.DataFrame | None:
    """:func:`~.claimstats.switch_counts` of a run's checkpoints with signal against their
    same-checkpoint nulls (``tr.nulls``, aligned with ``tr.results``); None without nulls."""
    nulls = getattr(tr, "nulls", None)
    if not nulls:
        return None
    if len(nulls) != len(tr.results):
        raise ValueError(f"{len(nulls)} null circuits for {len(tr.results)} checkpoints of {tr.run}")
    live = [(set(r.heads), _null_heads(n)) for r, n in zip(tr.results, nulls, strict=True) if r.has_signal]
    return switch_counts([c for c, _ in live], [n for _, n in live], tr.base.heads)


def _persist_rows(what: str, run: str, tr: Trace, plan: Plan) -> Verdict:
    k, n = _stable(tr)
    share = plan.section4.persist_share
    where = ("v2 §4.1, Fig 2A/B: 'most persisting to the end'" if what == "SFT" else
             "v2 §4.1 (§1: distillation's heads 'stay'; the paper shows no distillation checkpoints)")
    return Verdict(f"{what} heads persist to the end of training", where,
                   f"share of ever-emergent {run} heads active at the final checkpoint ({k}/{n}; "
                   "Clopper-Pearson CI)", k / n if n else math.nan, *proportion_ci(k, n, plan), above=share,
                   criterion=f"CI above {share:g} ('most' persist)")


def emergent_row(run: str, what: str, r) -> Verdict:
    """"<what> adds many emergent heads": the rule's count at ``run``'s final checkpoint (a
    :func:`~.tables.table3` row) is reproduced when its whole CI lies above the same-size null's
    ``floor_q95`` (not reproduced when wholly at or below; inconclusive when it straddles it, or when
    the count or the floor has no interval)."""
    q = PLAN.circuits.floor_quantile
    measured = not (math.isnan(r.floor_q95) or math.isnan(r.ci_low))
    floor = (f"CI above the same-size null's {q:.0%} quantile ({r.floor_q95:.1f})" if measured
             else f"CI above the same-size null's {q:.0%} quantile; "
                  + ("the null was not measured" if math.isnan(r.floor_q95) else "the count has no interval"))
    return Verdict(f"{what} adds many emergent heads", "§4.1-4.2, Table 3, Figs 2A/14",
                   f"emergent heads (p_model >= {PLAN.circuits.p_model:g}, p_base <= {PLAN.circuits.p_base:g}), "
                   f"{run} final vs base (null: {r.get('null', 'sample 1')}, mean {r.floor_mean:.1f})",
                   r.emergent, r.ci_low, r.ci_high, above=r.floor_q95, criterion=floor)


def section4_verdicts(traces: dict[str, Trace], table: pd.DataFrame, rewards: dict[str, dict],
                      sft: str = "sft", distill: str = "distill", grpo: str = "grpo-hard",
                      plan: Plan = PLAN, grpo_pool: Sequence[str] = ()) -> pd.DataFrame:
    """The §4 claims on the organism (runs missing from ``traces`` are skipped).

    Args:
        traces: :func:`~.trace.trace_runs` (``nulls``, where present: the same-checkpoint nulls).
        table: :func:`~.tables.table3` (with its bootstrap draws in ``table.attrs["boot"]``).
        rewards: :func:`~.tables.reward_frames`.
        grpo_pool: GRPO runs (``grpo`` first) whose switching and reward tracking are pooled
            (:func:`pooled_switch_row`, :func:`pooled_reward_row`); fewer than two: ``grpo``'s alone.
    """
    t = table.set_index("method")
    boots = table.attrs.get("boot", {})
    rows = []
    for run, what in ((sft, "SFT"), (distill, "Distillation")):
        if run not in t.index:
            continue
        rows.append(emergent_row(run, what, t.loc[run]))
        if run in traces:
            rows.append(_persist_rows(what, run, traces[run], plan))
    if sft in t.index and distill in t.index and sft in traces and distill in traces:
        ea, eb = traces[distill].sets().emergent, traces[sft].sets().emergent
        few = min(len(ea), len(eb)) < MIN_HEADS
        rows.append(Verdict("Distillation's emergent heads sit in earlier layers than SFT's",
                            "v2 §4.1, Fig 14 [v1 Fig 10]: distillation early-mid, SFT mid-late layers",
                            f"mean relative layer (layer / (L-1)) of emergent heads, {distill} ({len(ea)}) minus "
                            f"{sft} ({len(eb)}); heads resampled independently",
                            *layer_difference(list(ea), list(eb), traces[sft].base.n_layers, plan), below=0.0,
                            criterion="CI below 0" + (f"; needs {MIN_HEADS} heads a side, {len(ea)} and "
                                                      f"{len(eb)} here" if few else "")))
    if grpo in boots and sft in boots:
        lo, hi = independent_difference(boots[grpo].emergent.to_numpy(), boots[sft].emergent.to_numpy(), plan)
        rows.append(Verdict("GRPO adds fewer emergent heads than SFT",
                            "v2 §4.2, Table 3 [v1 Table 1]: GRPO-OpenR1 19, GRPO-GSM8K 20 vs SFT 34",
                            f"emergent heads, {grpo} final minus {sft} final (the runs' bootstrap draws "
                            "paired every-with-every: independent)",
                            float(t.loc[grpo, "emergent"] - t.loc[sft, "emergent"]), lo, hi, below=0.0,
                            criterion="CI below 0"))
    pool = [r for r in grpo_pool if r in traces]
    if len(pool) > 1:
        rows.append(pooled_switch_row({r: traces[r] for r in pool}, plan))
        if any(r in rewards for r in pool):
            rows.append(pooled_reward_row({r: rewards[r] for r in pool if r in rewards}, plan))
    else:
        if grpo in traces:
            rows.append(_switch_row(grpo, traces[grpo], plan))
        if grpo in rewards:
            rows.append(_reward_row(grpo, rewards[grpo]))
    if distill in t.index:
        rows.append(_retained_row(distill, t.loc[distill], plan))
    return verdict_table(rows)


def _switch_row(run: str, tr: Trace, plan: Plan) -> Verdict:
    return _switch_verdict(run, switching(tr), plan)


def _switch_verdict(run: str, counts: pd.DataFrame | None, plan: Plan) -> Verdict:
    claim, paper = ("GRPO switches emergent heads on and off",
                    "v2 §4.2, Fig 3A/C: heads 'iteratively activated, evaluated and pruned'")
    if counts is None:
        return Verdict(claim, paper, f"{run}: emergent heads gone at the next checkpoint minus gone from a "
                       "second circuit of the same checkpoint", NAN, NAN, NAN, above=0.0,
                       criterion="CI above 0; the same-checkpoint null was not measured")
    e, gone, null = int(counts.exposures.sum()), int(counts.leaves.sum()), int(counts.null_leaves.sum())
    few = len(counts) < plan.section4.min_heads
    return Verdict(claim, paper,
                   f"share of emergent {run} heads gone at the next checkpoint ({gone}/{e}) minus the share "
                   f"missing from a second circuit of the same checkpoint ({null}/{e}); bootstrap over "
                   f"{len(counts)} heads", *switch_difference(counts, plan), above=0.0,
                   criterion="CI above 0 (more switching than two question samples of one checkpoint show)"
                   + (f"; needs {plan.section4.min_heads} heads, {len(counts)} here" if few else ""))


def pooled_switch_row(traces: Mapping[str, Trace], plan: Plan = PLAN) -> Verdict:
    """"GRPO switches heads" over several GRPO runs: every run's :func:`switching` counts, a head being a
    (run, head) pair (the bootstrap resamples them; runs are independent), as :func:`_switch_row` does
    for one run. A run without same-checkpoint nulls is left out; none: the row says so."""
    frames = [c.assign(head=run + ":" + c["head"]) for run, tr in traces.items()
              if (c := switching(tr)) is not None]
    label = " + ".join(traces)
    return _switch_verdict(label, pd.concat(frames, ignore_index=True) if frames else None, plan)


def pooled_reward_row(rewards: Mapping[str, dict], plan: Plan = PLAN) -> Verdict:
    """"New heads track the reward" over several GRPO runs: the checkpoint-to-checkpoint changes of every
    run (new heads and the accuracy reward of checkpoints with a reward, ``per_checkpoint``) pooled, then
    Sen's slope and its inverted-permutation CI (:func:`~.stats.slope_interval`) as for one run; first
    differences take each run's level out, and no change spans two runs."""
    da, db, n = [], [], 0
    for r in rewards.values():
        pc = r["per_checkpoint"].dropna(subset=["reward"])
        n += len(pc)
        da.append(np.diff(pc["new_heads"].to_numpy(float)))
        db.append(np.diff(pc["reward"].to_numpy(float)))
    x, y = (np.concatenate(v) if v else np.array([]) for v in (da, db))
    ch = slope_interval(x, y, plan=plan)
    return _reward_row(" + ".join(rewards), {"n": n, "changes": len(x), "change_tau": ch["tau"], "change_p": ch["p"],
                                             "slope": ch["slope"], "slope_low": ch["ci_low"],
                                             "slope_high": ch["ci_high"], "spearman": NAN})


def _reward_row(run: str, r: dict) -> Verdict:
    m = r.get("changes", max(r["n"] - 1, 0))
    unbounded = m >= 1 and math.isnan(r.get("slope_low", NAN)) and not math.isnan(r.get("slope", NAN))
    why = (f"; {m} changes are too few for the permutation test to reach 95 %" if unbounded
           else f"; {r['n']} checkpoint(s) with a reward: too few changes to test" if m < 2
           else "; the new-head count changes by the same amount at every checkpoint: no slope"
           if math.isnan(r.get("slope", NAN)) else "")
    levels = "" if math.isnan(r.get("spearman", NAN)) else f"; levels: Spearman {r['spearman']:.2f}"
    return Verdict("The number of new heads rises and falls with the accuracy reward",
                   "v2 §4.2, Fig 3B (no statistic in the paper: the claim is visual)",
                   f"Sen slope of the reward change on the new-head change, {m} changes between {r['n']} "
                   f"{run} checkpoints (Kendall tau {r.get('change_tau', NAN):.2f}, permutation "
                   f"p = {r.get('change_p', NAN):.3g}{levels})",
                   r.get("slope", NAN), r.get("slope_low", NAN), r.get("slope_high", NAN), above=0.0,
                   criterion="CI (inverted permutation test of Kendall's tau on first differences) above 0" + why)


def _retained_row(run: str, r: pd.Series, plan: Plan) -> Verdict:
    s4 = plan.section4
    lo, hi = r.retained_ci_low, r.retained_ci_high
    direction = decide(r.retained_share, lo, hi, above=s4.retained_majority, below=s4.retained_contrast)
    number = ("inconclusive" if math.isnan(lo) or math.isnan(hi) else
              "reproduced" if lo <= s4.retained_share <= hi else "not reproduced")
    return PartsVerdict("About two-thirds of base heads are retained after distillation",
                        "v2 §4.1, §7: 'about two-thirds of baseline head nodes' (and all MLP nodes) retained",
                        f"retained share of the base circuit's heads, {run} final (bootstrap over questions)",
                        r.retained_share, lo, hi, above=s4.retained_majority, below=s4.retained_contrast,
                        criterion=f"two parts: CI within ({s4.retained_majority:g}, {s4.retained_contrast:g}) "
                                  f"(most, not all: {direction}); CI contains {s4.retained_share:.2f} "
                                  f"(the paper's number: {number})", parts=(direction, number))
