"""Intervals for the head counts of a model's two mode circuits (think-on / think-off, §6, Fig 17).

The two circuits are built on the same questions (think-on: clean = think-on answer, corrupted =
think-off answer; think-off: swapped), so their per-example scores are paired row by row once both
are restricted to the questions kept in both (:func:`aligned`). :func:`think_counts` gives

* ``boot``: :func:`~thinking_sparks.emergence.stats.overlap_bootstrap` of (think-on, think-off) on
  those rows, ``PLAN.circuits.n_boot`` resamples: the interval of every head count;
* ``null``: :func:`same_size_null` of the think-on circuit on sample 0 (the comparison's questions)
  and on sample 1 (an independent question sample of the same size, ``PairParams.sample``, with its
  own sampled answer prefixes; :func:`null_circuit`): how many heads two circuits of the *same*
  mode differ by with nothing changed but the questions, at the comparison's sample size, the bound
  of the "no think-only heads" claim. Without a sample-1 circuit (a question set too small for two
  samples) the null is not measured and the claim stays inconclusive.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from thinking_sparks.emergence.drawing import edge_graph
from thinking_sparks.emergence.pairs import Side
from thinking_sparks.emergence.stats import overlap_bootstrap
from thinking_sparks.emergence.sweep import circuit_for, circuit_heads
from thinking_sparks.emergence.trace import THINK_MODES, available_samples
from thinking_sparks.plan import PLAN

log = logging.getLogger(__name__)

__all__ = ["aligned", "null_circuit", "same_size_null", "think_counts"]


def aligned(on: Any, off: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``[n_common, n_src, n_dst]`` per-example scores of both circuits on the questions both kept,
    in the same order (row ``i`` of both: question ``i`` of the common list)."""
    qa, qb = list(on.question_index), list(off.question_index)
    common = [q for q in qa if q in set(qb)]
    pa, pb = on.per_example(), off.per_example()
    ia = torch.tensor([qa.index(q) for q in common], dtype=torch.long)
    ib = torch.tensor([qb.index(q) for q in common], dtype=torch.long)
    return pa[ia], pb[ib]


def null_circuit(model: str, pairs: Any, settings: Any, switch: str = "flags", on: str | None = None,
                 off: str | None = None) -> Any | None:
    """The think-on circuit of ``model`` (mode ``on``, corrupted by mode ``off``; default: the
    ``switch``'s modes) on the next independent question sample of ``pairs`` (``pairs.sample + 1``,
    the same size); None when the question set cannot hold a second sample."""
    if available_samples(pairs, 2) < 2:
        log.info("%s: no second question sample of %d: the same-mode null is not measured", pairs.dataset,
                 pairs.n_questions)
        return None
    on, off = (on, off) if on is not None else THINK_MODES[switch]
    return circuit_for(model, Side(model, on), Side(model, off), dataclasses.replace(pairs, sample=pairs.sample + 1),
                       settings)


def same_size_null(sample0: torch.Tensor, sample1: torch.Tensor, graph, n: int, n_boot: int, seed: int = 0,
                   aggregation: str = "mean") -> np.ndarray:
    """``[n_boot]`` one-sided head counts, heads of the ``sample0`` circuit missing from the ``sample1``
    circuit (the direction of the compared count: think-on heads missing from think-off), between
    top-``n`` circuits of two *independent* question samples of one mode (``sample0`` ``[k0, n_src,
    n_dst]``, ``sample1`` ``[k1, ...]`` per-example scores), each resampled with replacement at its
    own size per draw (independent samples: no pairing); deterministic by ``seed``."""
    k0, k1 = sample0.shape[0], sample1.shape[0]
    if min(k0, k1) < 2:
        raise ValueError(f"the same-size null needs at least 2 pairs in each sample, got {k0} and {k1}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_boot):
        a = circuit_heads(sample0, graph, n, torch.randint(0, k0, (k0,), generator=g), aggregation)
        b = circuit_heads(sample1, graph, n, torch.randint(0, k1, (k1,), generator=g), aggregation)
        out.append(len(a - b))
    return np.asarray(out, dtype=float)


def think_counts(on: Any, off: Any, settings: Any, seed: int | None = None, n_boot: int | None = None,
                 on_null: Any | None = None) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """``(boot, null)`` for two mode circuits (:class:`~thinking_sparks.emergence.sweep.CircuitResult`)
    and ``on_null``, the think-on circuit on an independent question sample of the same size
    (:func:`null_circuit`). ``(None, None)`` when either mode circuit has no signal; ``null`` None
    without ``on_null`` or when it has no signal. ``seed``, ``n_boot``: None takes the plan's."""
    if not (on.has_signal and off.has_signal):
        return None, None
    seed = PLAN.stats.seed if seed is None else seed
    pa, pb = aligned(on, off)
    if pa.shape[0] < 2:
        return None, None
    graph = edge_graph(on, settings)
    n_boot = PLAN.circuits.n_boot if n_boot is None else n_boot
    boot = overlap_bootstrap(pa, pb, graph, on.top_n, n_boot, seed, settings.aggregation)
    measured = on_null is not None and on_null.has_signal and on_null.n_pairs >= 2
    null = (same_size_null(on.per_example(), on_null.per_example(), graph, on.top_n, n_boot, seed,
                           settings.aggregation) if measured else None)
    log.info("mode circuits: %d paired questions, %d resamples, null %s", pa.shape[0], len(boot),
             f"on a second sample of {on_null.n_pairs} pairs" if measured else "not measured (no second sample)")
    return boot, null
