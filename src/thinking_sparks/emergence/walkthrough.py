"""One circuit from the ground up (page ``03_circuits``): pairs, edge scores, the IG-steps check,
top-n scaling with faithfulness, the drawing, and head attributions against exact patching.

:func:`walkthrough` returns a :class:`Walkthrough` of tidy frames; the page only shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from thinking_sparks.emergence.pairs import PairParams, PairSet, Side, pairs_frame
from thinking_sparks.emergence.stats import ig_steps_check, spearman, topn_scaling
from thinking_sparks.emergence.sweep import CircuitSettings, _load, circuit_for, pair_set, scaled_top_n

log = logging.getLogger(__name__)


@dataclass
class Walkthrough:
    """What page 03 shows (frames are tidy; see :func:`walkthrough`)."""

    model: str
    base: str
    pairs: PairSet
    pair_text: pd.DataFrame          # prompt, clean prefix, corrupted prefix, answer tokens
    top_edges: pd.DataFrame          # src, dst, score, abs_score, rank (best first)
    n_edges: int                     # edges of the graph
    top_n: int                       # the paper's fraction of them
    ig: pd.DataFrame                 # m, spearman, seconds, chosen
    scaling: pd.DataFrame            # top_n, fraction, edges, heads, faithfulness
    nodes: pd.DataFrame              # circuit drawing
    edges: pd.DataFrame
    exact: pd.DataFrame              # head, attribution, exact
    exact_spearman: float
    faithfulness: float
    heads: list[str]

    @property
    def chosen_steps(self) -> int:
        return int(self.ig.loc[self.ig.chosen, "m"].iloc[0])


def default_sizes(top_n: int, n_edges: int) -> list[int]:
    """Top-n values around the paper's fraction: 1/4x .. 8x (within the graph)."""
    return sorted({max(1, min(n_edges, round(top_n * f))) for f in (0.25, 0.5, 1, 2, 4, 8)})


def walkthrough(model: str, base: str, params: PairParams | None = None, settings: CircuitSettings | None = None,
                ig_steps: Sequence[int] = (5, 20, 100), sizes: Sequence[int] | None = None,
                threshold: float = 0.95) -> Walkthrough:
    """Build ``model``'s circuit against ``base``'s answer prefixes and every check of page 03.

    The IG-steps check and the scaling use the same pairs; the drawn circuit is the cached one
    (:func:`~.sweep.circuit_for`) at ``settings.steps``.
    """
    from thinking_sparks.circuits.attribute import attribute, exact_node_scores, node_scores
    from thinking_sparks.emergence.zoo import circuit_graph

    params, settings = params or PairParams(), settings or CircuitSettings()
    ps = pair_set(Side(model), Side(base), params)
    if len(ps.pairs) < 2:
        raise ValueError(f"{model} answers like {base} on all but {len(ps.pairs)} questions: no circuit to show")
    lm = _load(model)
    a = attribute(lm, ps.pairs, method=settings.method, metric=settings.metric, steps=settings.steps,
                  rule=settings.rule, gqa=settings.gqa, progress=False)
    top = a.to_frame().sort_values("rank").head(15)[["src", "dst", "score", "abs_score", "rank"]]
    n = settings.n_for(a.graph)
    ig = ig_steps_check(lm, ps.pairs, ig_steps, threshold, settings.metric, settings.rule)
    scaling = topn_scaling(lm, ps.pairs, a, sizes or default_sizes(n, a.graph.n_edges), settings.metric,
                           settings.aggregation)
    result = circuit_for(model, Side(model), Side(base), params, settings)
    nodes, edges = circuit_graph(result, settings)
    attr = node_scores(a)
    exact = exact_node_scores(lm, ps.pairs, metric=settings.metric, gqa=settings.gqa)
    ex = pd.DataFrame({"head": list(exact), "attribution": [attr[h] for h in exact], "exact": list(exact.values())})
    return Walkthrough(model, base, ps, pairs_frame(ps, lm.tokenizer), top, a.graph.n_edges, n, ig, scaling, nodes,
                       edges, ex, spearman(ex.attribution, ex.exact), result.faithfulness, list(result.heads))


def paper_fraction() -> float:
    """The paper's share of edges kept (5000 of 183,555)."""
    from thinking_sparks.emergence.sweep import PAPER_EDGES, PAPER_TOP_N

    return PAPER_TOP_N / PAPER_EDGES


__all__ = ["Walkthrough", "default_sizes", "paper_fraction", "scaled_top_n", "walkthrough"]
