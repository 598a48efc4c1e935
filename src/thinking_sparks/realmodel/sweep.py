"""The SFT run traced: evenly spaced checkpoints (:func:`traced`), the emergence room's sweep over
them against the start model's circuit (:func:`sweep`), and where its emergent heads sit
(:func:`layer_frame`). Cohorts, the heatmap and Table 3 with its same-size null are the emergence
room's own (``Trace.bands``, ``Trace.frequency``, ``emergence.tables.table3``)."""

from __future__ import annotations

import pandas as pd

from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.pairs import PairParams
from thinking_sparks.emergence.trace import Trace, trace
from thinking_sparks.heads import parse_head

__all__ = ["layer_frame", "sweep", "traced"]


def traced(specs: list[str], n: int) -> list[str]:
    """``n`` evenly spaced checkpoints of ``specs`` (ascending), always ending with the final one."""
    if n < 1:
        raise ValueError(f"need at least one checkpoint to trace, got {n}")
    if n >= len(specs):
        return list(specs)
    m = len(specs)
    idx = sorted({m - 1 - int(round(i * m / n)) for i in range(n)})  # every (m / n)-th, back from the final
    return [specs[i] for i in idx]


def sweep(base: str, checkpoints: list[str], pair_params: PairParams, settings: CircuitConfig, run: str,
          jobs: int = 1) -> Trace:
    """The emergence room's :func:`~thinking_sparks.emergence.trace.trace` (every circuit cached; ``jobs``
    processes build them)."""
    return trace(base, checkpoints, pair_params, settings, run=run, progress=False, jobs=jobs)


def layer_frame(tr: Trace) -> pd.DataFrame:
    """Emergent heads per layer: ``layer, kind, heads`` with kinds ``emergent at the final checkpoint``
    and ``emergent at any checkpoint`` (any traced checkpoint with signal), every layer listed."""
    base = set(tr.base.heads)
    final = set(tr.results[-1].heads) - base
    ever = set().union(*[set(r.heads) - base for r in tr.live()]) if tr.live() else set()
    rows = []
    for kind, heads in (("emergent at the final checkpoint", final), ("emergent at any checkpoint", ever)):
        layers = [parse_head(h)[0] for h in heads]
        rows += [{"layer": layer, "kind": kind, "heads": layers.count(layer)} for layer in range(tr.base.n_layers)]
    return pd.DataFrame(rows)
