"""Circuit size in heads: how many of a model's heads a top-n circuit holds, along n.

The paper's base circuit keeps 5,000 of 183,555 edges (2.7 %) and holds 56 of Qwen's 336 heads
(:data:`PAPER_HEAD_SHARE`, 17 %).  At the same *edge* fraction a small model's circuit holds a much
larger share of its heads (few heads, each with few edges), so "the paper's circuit size" can mean
either.  :func:`head_share` measures the share of heads along a grid of n; :func:`n_for_head_share`
finds the n whose circuit first holds a target share (the paper's 17 % by default).

Both read the pruned top-n circuit (:func:`~.circuit.top_n`).  Top-n edge sets are nested (one
stable order) and pruning only removes nodes that lose every path to the input or the logits, so
adding edges never removes a head: the head count is non-decreasing in n, and bisection finds the
smallest n that reaches a share.

Measured (``benchmarks/head_share.py``): the organism's sft final circuit (page 04's settings) holds
35 of 64 heads (54.7 %) at the paper's edge fraction (top-181 of 6,637 edges) and 11 heads (17.2 %)
at top-83 (1.25 % of edges); SmolLM2's think style circuit (page 07's settings) holds 204 of 270
heads (75.6 %) at top-3,356 of 123,211 edges and 45 heads (16.7 %) at top-613 (0.50 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from thinking_sparks.circuits.circuit import top_n
from thinking_sparks.circuits.config import scaled_top_n

__all__ = ["PAPER_HEADS", "PAPER_HEAD_SHARE", "PAPER_N_HEADS", "HeadShare", "head_share", "n_for_head_share",
           "share_at"]

#: heads of the paper's base circuit (DeepSeek-R1-Distill-Qwen-1.5B: 28 layers x 12 heads)
PAPER_HEADS = 56
PAPER_N_HEADS = 336
PAPER_HEAD_SHARE = PAPER_HEADS / PAPER_N_HEADS


@dataclass
class HeadShare:
    """One circuit size: ``n`` edges kept (of ``n_edges``), ``heads`` of ``n_heads`` in the pruned circuit."""

    n: int
    n_edges: int
    heads: int
    n_heads: int

    @property
    def edge_fraction(self) -> float:
        return self.n / self.n_edges

    @property
    def share(self) -> float:
        return self.heads / self.n_heads


def share_at(attribution, n: int, aggregation: str = "mean") -> HeadShare:
    """The head count of ``attribution``'s pruned top-``n`` circuit."""
    g = attribution.graph
    if n < 1:
        raise ValueError(f"n must be a positive number of edges, got {n}")
    return HeadShare(min(n, g.n_edges), g.n_edges, len(top_n(attribution, n, aggregation).heads()),
                     g.n_layers * g.n_heads)


def head_share(attribution, ns: list[int] | None = None, aggregation: str = "mean") -> pd.DataFrame:
    """Head share of the top-n circuit at each ``n`` of ``ns`` (default: the paper's edge fraction
    and 0.5x .. 8x of it), one row each: ``n``, ``edge_fraction``, ``heads``, ``n_heads``, ``head_share``."""
    g = attribution.graph
    if ns is None:
        paper = scaled_top_n(g.n_edges)
        ns = sorted({max(1, min(g.n_edges, round(paper * f))) for f in (0.25, 0.5, 1, 2, 4, 8)})
    if not ns:
        raise ValueError("head_share: give at least one n")
    rows = [share_at(attribution, int(n), aggregation) for n in ns]
    return pd.DataFrame({"n": [r.n for r in rows], "edge_fraction": [r.edge_fraction for r in rows],
                         "heads": [r.heads for r in rows], "n_heads": [r.n_heads for r in rows],
                         "head_share": [r.share for r in rows]})


def n_for_head_share(attribution, target: float = PAPER_HEAD_SHARE, aggregation: str = "mean") -> HeadShare:
    """The smallest top-n whose pruned circuit holds at least ``target`` of the heads (bisection:
    the head count is non-decreasing in n, see the module docstring)."""
    if not 0 < target <= 1:
        raise ValueError(f"target head share must lie in (0, 1], got {target}")
    g = attribution.graph
    need = target * g.n_layers * g.n_heads
    lo, hi = 1, g.n_edges
    if share_at(attribution, hi, aggregation).heads < need - 1e-9:
        raise ValueError(f"even the whole graph holds fewer than {target:.0%} of the heads")
    while lo < hi:
        mid = (lo + hi) // 2
        if share_at(attribution, mid, aggregation).heads >= need - 1e-9:
            hi = mid
        else:
            lo = mid + 1
    return share_at(attribution, lo, aggregation)

