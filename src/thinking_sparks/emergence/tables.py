"""The emergence analyses over several traced runs, as tidy frames: Table 3 with bootstrap CIs and
the noise floor (:func:`table3`), effect maps averaged over checkpoints (:func:`effect_frame`, Fig
13), the cross-method map (:func:`cross_method_frame`, Fig 14), reward tracking for GRPO runs
(:func:`reward_frames`, Fig 3B) and per-checkpoint summaries (:func:`sweep_summary`).

Every function takes ``{label: Trace}`` (:func:`~.trace.trace_models`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from thinking_sparks.circuits.agreement import exact_heads
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.modelruns import ModelRun, reward_curve
from thinking_sparks.emergence.sets import HeadSets, cross_method, first_heads, score_dict
from thinking_sparks.emergence.stats import (
    bootstrap_counts,
    emergent_jaccard_bootstrap,
    head_names,
    jaccard,
    mean_effect,
    noise_floor,
    reward_tracking,
)
from thinking_sparks.emergence.sweep import CircuitResult
from thinking_sparks.emergence.trace import Trace

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


def table3(traces: dict[str, Trace], settings: CircuitConfig, k: int = 5, n_boot: int = 200, n_splits: int = 50,
           seed: int = 0) -> pd.DataFrame:
    """Paper Table 3 on the organism (final checkpoints), with how sure each count is.

    Columns: ``method, circuit_heads, emergent, ci_low, ci_high`` (95% bootstrap over pairs),
    ``noise_mean, noise_q95`` (the same model on disjoint halves of its pairs), ``base_only,
    retained, retained_share, retained_ci_low, retained_ci_high, first_heads`` (the ``k`` emergent
    heads with the highest node score in the model's circuit), ``faithfulness``.
    """
    rows, boots = [], {}
    base_done = set()
    for run, tr in traces.items():
        final, b = tr.results[-1], tr.base
        g = edge_graph(final, settings)
        if b.model not in base_done and b.has_signal:
            base_done.add(b.model)
            floor = _floor(b, g, n_splits, seed, settings)
            rows.append({"method": f"base ({b.model.rsplit('/', 1)[-1]})", "circuit_heads": len(b.heads),
                         "emergent": np.nan, "ci_low": np.nan, "ci_high": np.nan, "noise_mean": floor.mean(),
                         "noise_q95": np.quantile(floor, 0.95),
                         "first_heads": first_heads(HeadSets.from_sets(b.heads, (), score_dict(b.score)), k),
                         "faithfulness": b.faithfulness})
        sets = tr.sets()
        row = {"method": run, "circuit_heads": len(final.heads), "emergent": len(sets.emergent),
               "base_only": len(sets.base_only), "retained": len(sets.retained),
               "retained_share": sets.retained_share, "first_heads": first_heads(sets, k),
               "faithfulness": final.faithfulness}
        if final.has_signal and b.has_signal:
            boot = bootstrap_counts(_pe(final), _pe(b), g, final.top_n, n_boot, seed, settings.aggregation)
            boots[run] = boot
            floor = _floor(final, g, n_splits, seed, settings)
            share = boot.retained / (boot.retained + boot.base_only).replace(0, np.nan)
            row |= {"ci_low": boot.emergent.quantile(0.025), "ci_high": boot.emergent.quantile(0.975),
                    "noise_mean": floor.mean(), "noise_q95": np.quantile(floor, 0.95),
                    "retained_ci_low": share.quantile(0.025), "retained_ci_high": share.quantile(0.975)}
        rows.append(row)
    cols = ["method", "circuit_heads", "emergent", "ci_low", "ci_high", "noise_mean", "noise_q95", "base_only",
            "retained", "retained_share", "retained_ci_low", "retained_ci_high", "first_heads", "faithfulness"]
    df = pd.DataFrame(rows).reindex(columns=cols)
    df.attrs["boot"] = boots  # run -> bootstrap counts (emergent, base_only, retained), for differences
    return df


def _floor(r: CircuitResult, g, n_splits: int, seed: int, settings: CircuitConfig) -> np.ndarray:
    """The noise floor of ``r``'s circuit (NaN when it has fewer than the 4 pairs two halves need)."""
    if r.n_pairs < 4:
        return np.array([np.nan])
    return noise_floor(_pe(r), g, r.top_n, n_splits, seed, settings.aggregation)


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
    """:func:`~.stats.reward_tracking` of one run, typed (``per_checkpoint``: ``step, new_heads, reward``)."""

    n: int
    spearman: float
    p: float
    per_checkpoint: pd.DataFrame

    def as_dict(self) -> dict:
        """The dict :func:`~.stats.reward_tracking` returns (what :mod:`.claims` reads)."""
        return {"n": self.n, "spearman": self.spearman, "p": self.p, "per_checkpoint": self.per_checkpoint}


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
