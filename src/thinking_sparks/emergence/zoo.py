"""The emergence analyses over several runs (the organism zoo's or a user's), as tidy frames for the pages.

:func:`trace_runs` sweeps every checkpoint of several runs (each against its base, see
:mod:`.modelruns`; everything cached); the other functions turn the traces into the paper's tables and
figures: Table 3 with bootstrap CIs and the noise floor (:func:`table3`), effect maps averaged
over checkpoints (:func:`effect_frame`, Fig 13), the cross-method map (:func:`cross_method_frame`,
Fig 14), reward tracking for GRPO runs (:func:`reward_frames`, Fig 3B) and a circuit as nodes and
edges for drawing (:func:`circuit_graph`, Figs 15-16).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from thinking_sparks.emergence.pairs import PairParams
from thinking_sparks.emergence.sets import HeadSets, cross_method, first_heads, score_dict
from thinking_sparks.emergence.stats import bootstrap_counts, mean_effect, noise_floor, reward_tracking
from thinking_sparks.emergence.modelruns import ModelRun, resolve_runs, reward_curve
from thinking_sparks.emergence.sweep import CircuitResult, CircuitSettings
from thinking_sparks.emergence.trace import Trace, trace

log = logging.getLogger(__name__)


def trace_runs(runs: Any, profile: str, params: PairParams, settings: CircuitSettings,
               progress: bool = False) -> dict[str, Trace]:
    """``label -> Trace`` of run values (organism names of ``profile`` or mappings, :mod:`.modelruns`)."""
    return trace_models(resolve_runs(runs, profile), params, settings, progress)


def trace_models(models: Mapping[str, ModelRun], params: PairParams, settings: CircuitSettings,
                 progress: bool = False) -> dict[str, Trace]:
    """``label -> Trace``: every checkpoint of each run against its base's circuit."""
    out = {}
    for label, m in models.items():
        if m.base is None:
            raise ValueError(f"run {label!r} has no base to compare its checkpoints with")
        out[label] = trace(m.base, list(m.checkpoints), params, settings, run=label, progress=progress)
    return out


def head_grid(traces: dict[str, Trace]) -> str:
    """``"sft: 8 layers × 8 heads (64), ..."``: each run's model shape, as its base circuit records it."""
    return ", ".join(f"{run}: {tr.base.n_layers} layers × {tr.base.n_heads} heads "
                     f"({tr.base.n_layers * tr.base.n_heads})" for run, tr in traces.items())


def sweep_summary(traces: dict[str, Trace]) -> pd.DataFrame:
    """Per-checkpoint summaries of every run, the base circuits first (``step`` -1)."""
    rows = []
    for run, tr in traces.items():
        b = tr.base
        rows.append({"run": run, "step": -1, "checkpoint": b.model + " (base circuit)", "heads": len(b.heads),
                     "faithfulness": b.faithfulness, "pairs": b.n_pairs, "dropped_identical": b.n_identical,
                     "seconds": float(b.seconds.get("total_s", 0.0)), "cached": b.cached})
    return pd.concat([pd.DataFrame(rows)] + [tr.summary for tr in traces.values()], ignore_index=True)


def _pe(r: CircuitResult) -> torch.Tensor:
    return r.per_example()


def _graph(r: CircuitResult, settings: CircuitSettings):
    """The circuit's edge graph, from the model's config alone (a cached circuit loads no weights)."""
    from transformers import AutoConfig

    from thinking_sparks.circuits.graph import Graph
    from thinking_sparks.models import resolve_spec

    cfg = AutoConfig.from_pretrained(resolve_spec(r.model))
    n_heads = int(cfg.num_attention_heads)
    return Graph(int(cfg.num_hidden_layers), n_heads, int(getattr(cfg, "num_key_value_heads", None) or n_heads),
                 settings.gqa)


def table3(traces: dict[str, Trace], settings: CircuitSettings, k: int = 5, n_boot: int = 200, n_splits: int = 50,
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
        g = _graph(final, settings)
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


def _floor(r: CircuitResult, g, n_splits: int, seed: int, settings: CircuitSettings) -> np.ndarray:
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


def circuit_graph(r: CircuitResult, settings: CircuitSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A circuit as ``nodes`` (``node, x, y, kind, score``) and ``edges`` (``src, dst, x, y, x2, y2,
    score``) for :func:`thinking_sparks.plots.circuit_drawing`: q / k / v inputs of a head are
    merged into one edge per (source node, head), scores summed."""
    from thinking_sparks.circuits.attribute import Attribution
    from thinking_sparks.circuits.circuit import top_n

    g = _graph(r, settings)
    pe = _pe(r)
    a = Attribution(g, pe.mean(0), pe.abs().mean(0), pe.shape[0], settings.method, settings.metric)
    c = top_n(a, r.top_n, settings.aggregation)
    agg: dict[tuple[str, str], float] = {}
    for s, d in c.edge_list():
        score = float(a.scores[g.src_index(s), g.dst_index(d)])
        for node in (g.dst_heads(d) or [g.dst_node(d)]):
            agg[(s, node)] = agg.get((s, node), 0.0) + score
    pos = {"input": (0.0, 0.0), "logits": (0.0, 2 * g.n_layers + 1.0)}  # left column: input -> logits crosses no node
    for layer in range(g.n_layers):
        for h in range(g.n_heads):
            pos[f"L{layer}H{h}"] = ((h + 1) / (g.n_heads + 1), 2 * layer + 1.0)
        pos[f"MLP{layer}"] = (1.0, 2 * layer + 2.0)
    names = sorted({n for e in agg for n in e}, key=lambda n: (pos[n][1], pos[n][0]))
    score = {n: sum(abs(v) for (s, d), v in agg.items() if n in (s, d)) for n in names}
    kind = {n: "input" if n == "input" else "logits" if n == "logits" else "mlp" if n.startswith("MLP") else "head"
            for n in names}
    nodes = pd.DataFrame([{"node": n, "x": pos[n][0], "y": pos[n][1], "kind": kind[n], "score": score[n]}
                          for n in names])
    edges = pd.DataFrame([{"src": s, "dst": d, "x": pos[s][0], "y": pos[s][1], "x2": pos[d][0], "y2": pos[d][1],
                           "score": v} for (s, d), v in agg.items()])
    return nodes, edges
