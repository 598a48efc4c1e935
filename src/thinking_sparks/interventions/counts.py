"""Intervals for the head counts of a model's two mode circuits (think-on / think-off, §6, Fig 17).

The two circuits are built on the same questions (think-on: clean = think-on answer, corrupted =
think-off answer; think-off: swapped), so their per-example scores are paired row by row once both
are restricted to the questions kept in both (:func:`aligned`). :func:`think_counts` gives

* ``boot``: :func:`~thinking_sparks.emergence.stats.overlap_bootstrap` of (think-on, think-off) on
  those rows, ``PLAN.circuits.n_boot`` resamples: the interval of every head count;
* ``null``: :func:`halves_null` of the think-on circuit (two
  circuits of the *same* mode on disjoint halves of its pairs, ``PLAN.rules.null_splits`` splits):
  how many heads two circuits differ by with nothing changed, the bound of the "no think-only
  heads" claim.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.stats import overlap_bootstrap
from thinking_sparks.emergence.sweep import circuit_heads
from thinking_sparks.plan import PLAN

log = logging.getLogger(__name__)

__all__ = ["aligned", "think_counts"]


def aligned(on: Any, off: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``[n_common, n_src, n_dst]`` per-example scores of both circuits on the questions both kept,
    in the same order (row ``i`` of both: question ``i`` of the common list)."""
    qa, qb = list(on.question_index), list(off.question_index)
    common = [q for q in qa if q in set(qb)]
    pa, pb = on.per_example(), off.per_example()
    ia = torch.tensor([qa.index(q) for q in common], dtype=torch.long)
    ib = torch.tensor([qb.index(q) for q in common], dtype=torch.long)
    return pa[ia], pb[ib]


def think_counts(on: Any, off: Any, settings: Any, seed: int | None = None,
                 n_boot: int | None = None) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """``(boot, null)`` for two mode circuits (:class:`~thinking_sparks.emergence.sweep.CircuitResult`);
    ``(None, None)`` when either has no signal, ``null`` None with fewer than 4 pairs. ``seed``,
    ``n_boot``: None takes the plan's."""
    if not (on.has_signal and off.has_signal):
        return None, None
    seed = PLAN.stats.seed if seed is None else seed
    pa, pb = aligned(on, off)
    if pa.shape[0] < 2:
        return None, None
    graph = edge_graph(on, settings)
    n_boot = PLAN.circuits.n_boot if n_boot is None else n_boot
    boot = overlap_bootstrap(pa, pb, graph, on.top_n, n_boot, seed, settings.aggregation)
    null = (halves_null(pa, graph, on.top_n, PLAN.rules.null_splits, seed, settings.aggregation)
            if pa.shape[0] >= 4 else None)
    log.info("mode circuits: %d paired questions, %d resamples, null %s", pa.shape[0], len(boot),
             "measured" if null is not None else "not measured (fewer than 4 pairs)")
    return boot, null


def halves_null(per_example: torch.Tensor, graph, n: int, n_splits: int = 50, seed: int = 0,
                aggregation: str = "mean") -> np.ndarray:
    """``[n_splits]`` counts of heads in one half's circuit and not the other's (both directions
    averaged), for random disjoint halves of one mode circuit's pairs (deterministic by ``seed``).

    Halves hold half the questions of the comparison, so this null is wider than a same-size one
    (a count below its 95th percentile is, if anything, a conservative "no think-only heads")."""
    k = per_example.shape[0]
    if k < 4:
        raise ValueError(f"the halves null needs at least 4 pairs, got {k}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_splits):
        perm = torch.randperm(k, generator=g)
        a = circuit_heads(per_example, graph, n, perm[: k // 2], aggregation)
        b = circuit_heads(per_example, graph, n, perm[k // 2 : 2 * (k // 2)], aggregation)
        out.append((len(a - b) + len(b - a)) / 2)
    return np.asarray(out, dtype=float)
