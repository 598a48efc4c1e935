"""How big the page's circuits are: the paper's edge fraction or the paper's share of heads.

The paper keeps 5,000 of 183,555 edges; its base circuit then holds 56 of 336 heads (17 %).  On a
small model the same edge fraction keeps most heads, so a second size is given beside it
(:class:`~thinking_sparks.plan.SizePlan`): the top-n whose pruned circuit of the *first run's base*
holds the paper's share of heads (:func:`~thinking_sparks.circuits.size.n_for_head_share`), one n
for every circuit of the page as the edge fraction is.  Circuits at that size reuse the per-pair
scores and exact effects of the default-size circuits
(:func:`~thinking_sparks.emergence.sweep.circuit_for`), so the second size costs no attribution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from thinking_sparks.circuits.attribute import Attribution
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.circuits.size import HeadShare, n_for_head_share
from thinking_sparks.emergence.device import load_kept
from thinking_sparks.emergence.modelruns import ModelRun
from thinking_sparks.emergence.pairs import PairParams, Side
from thinking_sparks.emergence.sweep import circuit_for
from thinking_sparks.plan import PLAN, SIZE_RULES

__all__ = ["base_head_share", "sized_config"]


def base_head_share(models: Mapping[str, ModelRun], pairs: PairParams, config: CircuitConfig,
                    share: float = PLAN.size.head_share) -> HeadShare:
    """The smallest top-n whose circuit of the first run's base (against its final checkpoint, at
    the default size: the sweep's own base circuit) holds ``share`` of the heads."""
    if not models:
        raise ValueError("no runs to size circuits on")
    m = next(iter(models.values()))
    if m.base is None:
        raise ValueError(f"run {m.label!r} has no base: the head-share size is read off the base circuit")
    final = list(m.checkpoints)[-1]
    c = circuit_for(m.base, Side(m.base), Side(final), pairs, dataclasses.replace(config, top_n=None))
    if not c.has_signal:
        raise ValueError(f"{m.base}: the base circuit has no signal (fewer than 2 pairs); no head-share size")
    lm = load_kept(m.base, config.dtype)
    per = c.per_example().float()
    a = Attribution(Graph(lm.n_layers, lm.n_heads, lm.n_kv_heads, config.gqa), per.mean(0), per.abs().mean(0),
                    per.shape[0], config.method, config.metric)
    return n_for_head_share(a, share, config.aggregation)


def sized_config(rule: str, models: Mapping[str, ModelRun], pairs: PairParams, config: CircuitConfig) -> CircuitConfig:
    """``config`` with the top-n of ``rule`` (``edge-fraction``: unchanged, the default size;
    ``head-share``: :func:`base_head_share`'s n).  A ``config.top_n`` given by hand is kept."""
    if rule not in SIZE_RULES:
        raise ValueError(f"size must be one of {', '.join(SIZE_RULES)}, got {rule!r}")
    if config.top_n is not None or rule == "edge-fraction":
        return config
    return dataclasses.replace(config, top_n=base_head_share(models, pairs, config).n)
