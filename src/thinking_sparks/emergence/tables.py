"""The emergence analyses over several traced runs, as tidy frames: the rule's head counts with
their paired-bootstrap CIs and same-size floors at every checkpoint (:func:`checkpoint_counts`),
Table 3 (:func:`table3`), effect maps averaged over checkpoints (:func:`effect_frame`, Fig
13), the cross-method map (:func:`cross_method_frame`, Fig 14), reward tracking for GRPO runs
(:func:`reward_frames`, Fig 3B) and per-checkpoint summaries (:func:`sweep_summary`).

Every function takes ``{label: Trace}`` (:func:`~.trace.trace_models`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from thinking_sparks.circuits.agreement import exact_heads
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.headstats import HeadStats, Scores, halves, head_stats, null_stats
from thinking_sparks.emergence.modelruns import ModelRun, reward_curve
from thinking_sparks.emergence.sets import HeadSets, cross_method, first_heads, score_dict
from thinking_sparks.emergence.stats import (
    emergent_jaccard_bootstrap,
    head_names,
    jaccard,
    mean_effect,
    reward_tracking,
)
from thinking_sparks.emergence.sweep import CircuitResult
from thinking_sparks.emergence.trace import Trace
from thinking_sparks.plan import PLAN, CircuitPlan, StatsPlan

log = logging.getLogger(__name__)


def head_grid(traces: dict[str, Trace]) -> str:
    """``"sft: 8 layers × 8 heads (64), ..."``: each run's model shape, as its base circuit records it."""
    return ", ".join(f"{run}: {tr.base.n_layers} layers × {tr.base.n_heads} heads "
                     f"({tr.base.n_layers * tr.base.n_heads})" for run, tr in traces.items())


def sweep_summary(traces: dict[str, Trace]) -> pd.DataFrame:
    """Per-checkpoint summaries of every run, the base circuits first (``step`` -1); ``patch_spearman``
    / ``patch_recall``: each circuit's head attributions against exact denoising patches
    (:data:`~.sweep.AGREEMENT`; NaN for a circuit without signal)."""
    rows = []
    for run, tr in traces.items():
        b = tr.base
        rows.append({"run": run, "step": -1, "checkpoint": b.model + " (base circuit)", "heads": len(b.heads),
                     "faithfulness": b.faithfulness, "pairs": b.n_pairs, "dropped_identical": b.n_identical,
                     "seconds": float(b.seconds.get("total_s", 0.0)), "cached": b.cached,
                     "patch_spearman": b.patch_spearman, "patch_recall": b.patch_recall})
    return pd.concat([pd.DataFrame(rows)] + [tr.summary for tr in traces.values()], ignore_index=True)


def _pe(r: CircuitResult) -> torch.Tensor:
    return r.per_example()


#: the columns of one comparison's counts (:func:`count_row`): the rule's counts, their percentile
#: intervals and the same-size null's mean and ``floor_quantile``; ``retained_share`` = retained /
#: (retained + base-only) with its interval ``retained_ci_low, retained_ci_high`` (a share of the
#: base's stable heads has no null to beat); ``null``: how the null was drawn;
#: ``emergent_heads``: the rule's emergent heads, space-separated, highest node score first)
COUNT_COLUMNS = ["emergent", "ci_low", "ci_high", "floor_mean", "floor_q95", "base_only", "base_only_ci_low",
                 "base_only_ci_high", "base_only_floor_mean", "base_only_floor_q95", "retained", "retained_share",
                 "retained_ci_low", "retained_ci_high", "null",
                 "emergent_heads"]


def null_of(tr: Trace, i: int) -> tuple[Scores, Scores, str]:
    """The same-size null of checkpoint ``i``: its circuit on sample 0 and on sample 1
    (``tr.nulls[i]``, an independent question sample of the same size), or, for a trace without
    sample-1 circuits, two disjoint halves of sample 0 (half the size: a larger floor, a
    conservative test)."""
    r = tr.results[i]
    nulls = getattr(tr, "nulls", None)
    if nulls and nulls[i] is not None and nulls[i].has_signal:
        return Scores.of(r), Scores.of(nulls[i]), "sample 1"
    return *halves(Scores.of(r)), "halves of sample 0"


def count_row(model: Scores, base: Scores, null: tuple[Scores, Scores, str], graph, n: int,
              plan: CircuitPlan = PLAN.circuits, stats: StatsPlan = PLAN.stats, aggregation: str = "mean",
              n_outer: int | None = None, score: np.ndarray | None = None) -> tuple[dict, HeadStats]:
    """One comparison's :data:`COUNT_COLUMNS` (:func:`~.headstats.head_stats` of model vs base,
    :func:`~.headstats.null_stats` of the null's two samples) and its :class:`~.headstats.HeadStats`
    (``score``: the model's ``[n_layers, n_heads]`` node scores, which order ``emergent_heads``)."""
    hs = head_stats(model, base, graph, n, plan, stats, aggregation, n_outer)
    ns = null_stats(null[0], null[1], graph, n, plan, stats, aggregation, n_outer)
    share = hs.boot.retained / (hs.boot.retained + hs.boot.base_only).replace(0, np.nan)
    a = (1 - stats.confidence) / 2
    kept, lost = hs.count("retained"), hs.count("base_only")
    row = {"emergent": hs.count(), "ci_low": hs.ci()[0], "ci_high": hs.ci()[1]}
    row["floor_mean"], row["floor_q95"] = ns.floor("emergent", plan.floor_quantile)
    row |= {"base_only": lost, "base_only_ci_low": hs.ci("base_only")[0], "base_only_ci_high": hs.ci("base_only")[1]}
    row["base_only_floor_mean"], row["base_only_floor_q95"] = ns.floor("base_only", plan.floor_quantile)
    row |= {"retained": kept, "retained_share": kept / (kept + lost) if kept + lost else np.nan,
            "retained_ci_low": share.quantile(a), "retained_ci_high": share.quantile(1 - a), "null": null[2]}
    order = score_dict(score) if score is not None else {}
    row["emergent_heads"] = " ".join(sorted(hs.sets["emergent"], key=lambda h: -order.get(h, 0.0)))
    return row, hs


def checkpoint_counts(traces: dict[str, Trace], settings: CircuitConfig, plan: CircuitPlan = PLAN.circuits,
                      stats: StatsPlan = PLAN.stats, final_only: bool = False,
                      n_outer: int | None = None) -> pd.DataFrame:
    """``run, step`` + :data:`COUNT_COLUMNS` at every checkpoint with signal (``final_only``: the
    last), each against its run's base circuit with its own same-size null (:func:`null_of`).
    ``attrs["boot"]``: ``"run@step" ->`` the rule's counts per outer resample."""
    rows, boots = [], {}
    for run, tr in traces.items():
        b = tr.base
        idx = [len(tr.results) - 1] if final_only else range(len(tr.results))
        for i in idx:
            r = tr.results[i]
            if not (r.has_signal and b.has_signal):
                continue
            row, hs = count_row(Scores.of(r), Scores.of(b), null_of(tr, i), edge_graph(r, settings), r.top_n, plan,
                                stats, settings.aggregation, n_outer, r.score)
            rows.append({"run": run, "step": tr.steps[i]} | row)
            boots[f"{run}@{tr.steps[i]}"] = hs.boot
    df = pd.DataFrame(rows).reindex(columns=["run", "step", *COUNT_COLUMNS])
    df.attrs["boot"] = boots
    return df


def resample_plan(n_boot: int) -> CircuitPlan:
    """The analysis plan's circuit section with a page's resamples (outer ones at most ``n_boot``)."""
    return dataclasses.replace(PLAN.circuits, n_boot=n_boot, n_outer=min(PLAN.circuits.n_outer, n_boot))


def table3(traces: dict[str, Trace], settings: CircuitConfig, k: int = 5, counts: pd.DataFrame | None = None,
           plan: CircuitPlan = PLAN.circuits, stats: StatsPlan = PLAN.stats, n_outer: int | None = None) -> pd.DataFrame:
    """Paper Table 3 on the organism (final checkpoints), with how sure each count is.

    Counts are the analysis plan's rule on a paired bootstrap by question (:mod:`.headstats`):
    ``method, circuit_heads`` + :data:`COUNT_COLUMNS` + ``first_heads`` (the ``k`` rule-emergent
    heads with the highest node score in the model's circuit), ``faithfulness``. ``counts``: a
    :func:`checkpoint_counts` frame to read the final checkpoints' rows from (else computed).
    ``attrs["boot"]``: run -> the final checkpoint's rule counts per outer resample.
    """
    if counts is None:
        counts = checkpoint_counts(traces, settings, plan, stats, final_only=True, n_outer=n_outer)
    boots = counts.attrs.get("boot", {})
    rows, out_boots, base_done = [], {}, set()
    for run, tr in traces.items():
        final, b = tr.results[-1], tr.base
        if b.model not in base_done and b.has_signal:
            base_done.add(b.model)
            rows.append({"method": f"base ({b.model.rsplit('/', 1)[-1]})", "circuit_heads": len(b.heads),
                         "first_heads": first_heads(HeadSets.from_sets(b.heads, (), score_dict(b.score)), k),
                         "faithfulness": b.faithfulness})
        row = {"method": run, "circuit_heads": len(final.heads), "faithfulness": final.faithfulness}
        hit = counts[(counts.run == run) & (counts.step == tr.steps[-1])]
        if len(hit):
            row |= hit.iloc[0][COUNT_COLUMNS].to_dict()
            out_boots[run] = boots.get(f"{run}@{tr.steps[-1]}")
            heads = hit.iloc[0].emergent_heads.split()
            row["first_heads"] = ", ".join(heads[:k]) + (" …" if len(heads) > k else "")
        rows.append(row)
    cols = ["method", "circuit_heads", *COUNT_COLUMNS[:-1], "first_heads", "faithfulness"]
    df = pd.DataFrame(rows).reindex(columns=cols)
    df.attrs["boot"] = {r: v for r, v in out_boots.items() if v is not None}
    return df


def effect_frame(traces: dict[str, Trace], final_only: Sequence[str] = ("distill",)) -> pd.DataFrame:
    """Fig 13: ``run, head, layer, index, effect`` with ``Ē`` averaged over the run's checkpoints
    that have a circuit (runs in ``final_only``: the final checkpoint alone, as the paper's
    distillation map is a single comparison)."""
    frames = []
    for run, tr in traces.items():
        res = [tr.results[-1]] if run in final_only else [r for r in tr.results if r.has_signal]
        if not res:
            continue
        e = mean_effect([r.importance for r in res], tr.base.importance)
        n_layers, n_heads = e.shape
        frames.append(pd.DataFrame({"run": run, "head": [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)],
                                    "layer": np.repeat(np.arange(n_layers), n_heads),
                                    "index": np.tile(np.arange(n_heads), n_layers), "effect": e.ravel(),
                                    "checkpoints": len(res)}))
    if not frames:  # no run has a circuit with signal
        return pd.DataFrame(columns=["run", "head", "layer", "index", "effect", "checkpoints"])
    return pd.concat(frames, ignore_index=True)


def emergent_sets(traces: dict[str, Trace], which: str = "union") -> dict[str, set[str]]:
    """Per run, the emergent heads at the final checkpoint (``final``) or at any checkpoint (``union``)."""
    if which not in ("union", "final"):
        raise ValueError(f"which must be 'union' or 'final', got {which!r}")
    out = {}
    for run, tr in traces.items():
        base = set(tr.base.heads)
        results = tr.results[-1:] if which == "final" else tr.live()
        out[run] = set().union(*[set(r.heads) - base for r in results])
    return out


def cross_method_frame(traces: dict[str, Trace], which: str = "union") -> pd.DataFrame:
    """Fig 14: :func:`~.sets.cross_method` of :func:`emergent_sets`."""
    first = next(iter(traces.values())).base
    return cross_method(emergent_sets(traces, which), first.n_layers, first.n_heads)


def reward_frames(traces: dict[str, Trace], models: Mapping[str, ModelRun], n_perm: int = 10_000,
                  seed: int = 0) -> dict[str, dict]:
    """Reward tracking (:func:`~.stats.reward_tracking`) for every GRPO run among ``traces`` whose
    training log holds an accuracy reward (:func:`~.modelruns.reward_curve`); others are left out."""
    out = {}
    for run, tr in traces.items():
        if models[run].kind != "grpo":
            continue
        curve = reward_curve(models[run])
        if curve is not None:
            out[run] = reward_tracking(tr.counts, curve, n_perm, seed)
    return out


@dataclass
class RewardTrack:
    """:func:`~.stats.reward_tracking` of one run, typed (``per_checkpoint``: ``step, new_heads, reward``;
    ``spearman``, ``p``: the levels, descriptive; ``change_*`` and ``slope*``: the checkpoint-to-checkpoint
    changes the claim is decided on)."""

    n: int
    spearman: float
    p: float
    per_checkpoint: pd.DataFrame
    changes: int = 0
    change_spearman: float = float("nan")
    change_tau: float = float("nan")
    change_p: float = float("nan")
    slope: float = float("nan")
    slope_low: float = float("nan")
    slope_high: float = float("nan")

    def as_dict(self) -> dict:
        """The dict :func:`~.stats.reward_tracking` returns (what :mod:`.claims` reads)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def exact_sets_frame(traces: dict[str, Trace], settings: CircuitConfig, n_boot: int = 200,
                     seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per run's final checkpoint: emergent / base-only / retained counts of EAP-IG's circuits and of
    exact-patching head sets of the same sizes (the top-|denoising effect| heads, :data:`.sweep.AGREEMENT`),
    and the Jaccard of the two emergent sets with a 95% bootstrap CI
    (:func:`~.stats.emergent_jaccard_bootstrap`; NaN where a side has no signal).

    Columns: ``run, emergent, base_only, retained, exact_emergent, exact_base_only, exact_retained,
    jaccard, jaccard_low, jaccard_high, patch_spearman``; and the bootstrap Jaccards, one column per
    run with signal, one row per resample.
    """
    rows, boots = [], {}
    for run, tr in traces.items():
        final, b = tr.results[-1], tr.base
        names = head_names(final.n_layers, final.n_heads)
        m_eap, b_eap = set(final.heads), set(b.heads)
        m_ex, b_ex = exact_heads(final.exact, names, len(m_eap)), exact_heads(b.exact, names, len(b_eap))
        row = {"run": run, "emergent": len(m_eap - b_eap), "base_only": len(b_eap - m_eap),
               "retained": len(m_eap & b_eap), "exact_emergent": len(m_ex - b_ex), "exact_base_only": len(b_ex - m_ex),
               "exact_retained": len(m_ex & b_ex), "jaccard": jaccard(m_eap - b_eap, m_ex - b_ex),
               "jaccard_low": np.nan, "jaccard_high": np.nan, "patch_spearman": final.patch_spearman}
        if final.has_signal and b.has_signal:
            boot = emergent_jaccard_bootstrap(final.checked_per_example(), final.exact_per_example(),
                                              b.checked_per_example(), b.exact_per_example(),
                                              edge_graph(final, settings), final.top_n, n_boot, seed,
                                              settings.aggregation).jaccard
            boots[run] = boot.to_numpy()
            if boot.notna().any():
                row |= {"jaccard_low": boot.quantile(0.025), "jaccard_high": boot.quantile(0.975)}
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(boots)


def mean_jaccard(exact_sets: pd.DataFrame, boot: pd.DataFrame) -> tuple[float, float, float, int]:
    """``(mean, ci_low, ci_high, runs)``: the mean over the runs with a bootstrap (``boot``'s columns,
    :func:`exact_sets_frame`) of their Jaccard, its 95% interval from the mean of each resample across
    runs (runs resampled independently; a resample with a NaN Jaccard left out); NaNs without runs."""
    runs = list(boot.columns)
    if not runs:
        return float("nan"), float("nan"), float("nan"), 0
    value = float(exact_sets.set_index("run").loc[runs, "jaccard"].mean())
    means = boot.mean(axis=1, skipna=False).dropna()
    if not len(means):
        return value, float("nan"), float("nan"), len(runs)
    return value, float(means.quantile(0.025)), float(means.quantile(0.975)), len(runs)
