"""From edge scores to circuits: top-n, pruning, tau simplification, head sets, head importance.

Pruning (as in the reference library and the bench README), repeated until nothing changes:
a node is kept only if it has at least one kept outgoing edge and at least one kept incoming edge
(a q / k / v edge counts as incoming for the head(s) reading it; a grouped k / v input is read by
its whole KV group); ``input`` needs only an outgoing edge; ``logits`` is always kept; edges whose
source or destination node was dropped are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from thinking_sparks.circuits.graph import Graph

AGGREGATIONS = ("mean", "mean_abs")


@dataclass
class Circuit:
    """A set of kept edges. ``edges``: ``[n_src, n_dst]`` bool."""

    graph: Graph
    edges: Tensor

    @property
    def n_edges(self) -> int:
        return int(self.edges.sum())

    def nodes(self) -> list[str]:
        """Source nodes with a kept outgoing edge (``logits`` not counted)."""
        alive = self.edges.any(1)
        return [n for n, a in zip(self.graph.src_names, alive.tolist(), strict=True) if a]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes())

    def heads(self) -> set[str]:
        """Attention heads (``L{l}H{h}``) that are nodes of the circuit."""
        return {n for n in self.nodes() if n.startswith("L")}

    def edge_list(self) -> list[tuple[str, str]]:
        d, s = self.edges.T.nonzero(as_tuple=True)
        return [(self.graph.src_names[i], self.graph.dst_names[j]) for i, j in zip(s.tolist(), d.tolist(), strict=True)]


def ranking_scores(attribution, aggregation: str = "mean") -> Tensor:
    """``[n_src, n_dst]`` non-negative ranking key: ``|mean score|`` or ``mean |score|``."""
    if aggregation == "mean":
        return attribution.scores.abs()
    if aggregation == "mean_abs":
        return attribution.abs_scores
    raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")


def _readers(graph: Graph) -> Tensor:
    """``[n_dst, n_src]`` bool: source node s reads destination d (heads / MLPs; logits none)."""
    r = torch.zeros(graph.n_dst, graph.n_src, dtype=torch.bool)
    src = graph._src_lookup()
    for j, dst in enumerate(graph.dst_names):
        if dst == "logits":
            continue
        if dst.startswith("MLP"):
            r[j, src[dst]] = True
        else:
            for h in graph.dst_heads(dst):
                r[j, src[h]] = True
    return r


def prune(graph: Graph, edges: Tensor) -> Tensor:
    """Iteratively drop dead nodes and their edges; returns the pruned ``[n_src, n_dst]`` mask."""
    kept = edges.clone() & graph.edge_mask()
    readers = _readers(graph)
    is_input = torch.zeros(graph.n_src, dtype=torch.bool)
    is_input[0] = True
    logits_col = torch.zeros(graph.n_dst, dtype=torch.bool)
    logits_col[graph.logits_dst] = True
    while True:
        has_out = kept.any(1)  # [S]
        dst_used = kept.any(0)  # [N]
        has_in = (readers & dst_used[:, None]).any(0)  # [S]
        alive = has_out & (has_in | is_input)
        dst_alive = (readers & alive[None, :]).any(1) | logits_col
        new = kept & alive[:, None] & dst_alive[None, :]
        if torch.equal(new, kept):
            return kept
        kept = new


def top_n(attribution, n: int, aggregation: str = "mean", do_prune: bool = True) -> Circuit:
    """The ``n`` edges with the largest ranking score (ties broken by graph order), then pruned."""
    g = attribution.graph
    key = ranking_scores(attribution, aggregation)
    mask = g.edge_mask()
    flat = torch.where(mask, key, torch.full_like(key, -1.0)).T.reshape(-1)  # dst-major order
    n = max(0, min(n, int(mask.sum())))
    order = torch.sort(flat, descending=True, stable=True).indices[:n]
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen[order] = True
    edges = chosen.reshape(g.n_dst, g.n_src).T.contiguous()
    return Circuit(g, prune(g, edges) if do_prune else edges)


def threshold(attribution, tau: float, relative: bool = True, aggregation: str = "mean",
              base: Circuit | None = None) -> Circuit:
    """τ simplification: keep edges with score >= τ (times the max score if ``relative``),
    optionally only among ``base``'s edges, then prune."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    g = attribution.graph
    key = ranking_scores(attribution, aggregation)
    pool = g.edge_mask() if base is None else base.edges
    cut = tau * float(key[pool].max()) if relative and bool(pool.any()) else tau
    return Circuit(g, prune(g, pool & (key >= cut)))


def head_importance(per_example: Tensor, graph: Graph, top_n: int | None = None, tau: float | None = None) -> Tensor:
    """Paper §A.6: ``I(l, h)`` = sum over examples x of |s_x(u -> v)| over edges of the
    per-example circuit C(x) whose source is head (l, h), normalised to sum 1.

    Args:
        per_example: ``[n_examples, n_src, n_dst]`` signed per-example scores.
        top_n / tau: how C(x) is chosen (top-n by |s_x|, and/or |s_x| >= tau * max_x |s_x|);
            neither = all edges.
    Returns:
        ``[n_layers, n_heads]`` float32 summing to 1 (zeros if nothing was selected).
    """
    s = per_example.abs().float() * graph.edge_mask()
    keep = torch.ones_like(s, dtype=torch.bool)
    flat = s.reshape(s.shape[0], -1)
    if top_n is not None:
        k = min(top_n, flat.shape[1])
        kth = flat.topk(k, dim=1).values[:, -1:]
        keep &= (flat >= kth).reshape_as(s)
    if tau is not None:
        keep &= (flat >= tau * flat.max(1, keepdim=True).values).reshape_as(s)
    total = (s * keep).sum(dim=(0, 2))  # [n_src]
    idx = torch.tensor([graph.head_src(l, h) for l in range(graph.n_layers) for h in range(graph.n_heads)])
    imp = total[idx].reshape(graph.n_layers, graph.n_heads)
    z = imp.sum()
    return imp / z if z > 0 else imp


def head_effect(i_post: Tensor, i_pre: Tensor, eps: float = 1e-6) -> Tensor:
    """Paper §A.6: ``E = (I_post - I_pre) / (I_post + I_pre + eps)`` in [-1, 1], elementwise
    (tensors or arrays)."""
    return (i_post - i_pre) / (i_post + i_pre + eps)


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties) of two equal-length 1-D sequences;
    nan when either side is constant or shorter than 2."""
    x = pd.Series([float(v) for v in a]).rank()
    y = pd.Series([float(v) for v in b]).rank()
    if len(x) != len(y):
        raise ValueError("spearman: lengths differ")
    if len(x) < 2 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    return float(x.corr(y))
