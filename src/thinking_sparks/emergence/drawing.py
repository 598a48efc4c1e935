"""A circuit as nodes and edges for drawing (Figs 15-16): :func:`circuit_graph` feeds
:func:`thinking_sparks.plots.circuit_drawing`; :func:`edge_graph` rebuilds a cached circuit's edge
graph from the model's config alone (no weights loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from transformers import AutoConfig

from thinking_sparks.circuits.attribute import Attribution
from thinking_sparks.circuits.circuit import threshold, top_n
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.emergence.sweep import CircuitResult
from thinking_sparks.models import resolve_spec


@dataclass
class CircuitDrawing:
    """A circuit ready to draw: ``nodes`` and ``edges`` of :func:`circuit_graph`, and its name."""

    name: str
    nodes: pd.DataFrame
    edges: pd.DataFrame


def edge_graph(r: CircuitResult, settings: CircuitConfig) -> Graph:
    """The circuit's edge graph, from the model's config alone (a cached circuit loads no weights)."""
    cfg = AutoConfig.from_pretrained(resolve_spec(r.model))
    n_heads = int(cfg.num_attention_heads)
    return Graph(int(cfg.num_hidden_layers), n_heads, int(getattr(cfg, "num_key_value_heads", None) or n_heads),
                 settings.gqa)


def circuit_graph(r: CircuitResult, settings: CircuitConfig, tau: float | None = None) -> tuple[pd.DataFrame,
                                                                                              pd.DataFrame]:
    """A circuit as ``nodes`` (``node, x, y, kind, score``) and ``edges`` (``src, dst, x, y, x2, y2,
    score``) for :func:`thinking_sparks.plots.circuit_drawing`: q / k / v inputs of a head are
    merged into one edge per (source node, head), scores summed. ``tau``: the τ-simplified circuit
    (:func:`~thinking_sparks.circuits.circuit.threshold` of the top-n circuit, relative to its
    largest edge) instead of the top-n one."""
    g = edge_graph(r, settings)
    pe = r.per_example()  # [n_pairs, n_src, n_dst]
    a = Attribution(g, pe.mean(0), pe.abs().mean(0), pe.shape[0], settings.method, settings.metric)
    c = top_n(a, r.top_n, settings.aggregation)
    if tau is not None:
        c = threshold(a, tau, relative=True, aggregation=settings.aggregation, base=c)
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


__all__ = ["CircuitDrawing", "circuit_graph", "edge_graph"]
