"""Does attribution rank the edges that matter? A sweep circuit against exact edge patching (issue 22).

The head-level check of every sweep circuit (:data:`~thinking_sparks.emergence.sweep.AGREEMENT`)
patches whole heads. EAP-IG scores *edges*; :func:`edge_check` patches edges one at a time
(:func:`~thinking_sparks.circuits.patching.patch_edges`, the denoising direction: the sender's
clean contribution restored into one receiver's input of the corrupted run) on the circuit's own
patched pairs (``patch_index``: the plan's ``circuits.patch_pairs`` seeded pairs).

Which edges: the organism's graph holds 6,637 edges; exact patching of all of them costs 450 s
per circuit on 2 CPU cores under a light load (770-2,200 s extrapolated at load 13-17), so
:func:`edge_check` patches the circuit's top-n edges (all of them) plus the plan's
``agreement.edge_sample`` others drawn evenly from ``agreement.edge_strata`` bins of the
attribution rank (:func:`~thinking_sparks.circuits.patching.sample_edges`; every edge when the
graph has no more).

Measured (full profile, page 04's final circuits at the plan: 512 questions, 64 patched pairs,
181 + 1,000 edges, load 13-17 on 2 cores; ``benchmarks/patching_agreement.py --edge-runs``): edge
Spearman 0.68-0.76 (|.| 0.83-0.86; the circuit's all-pair attribution 0.70-0.76), top-181 recall
0.81-0.85; heads on the same pairs 0.79-0.82, top-k recall 0.74-0.83; exact patching 0.8-1.4 s for
every head, 137-394 s for the 1,181 edges per circuit.

Statistics (:class:`EdgeCheck`): Spearman over the patched edges between the edges' attribution on
the same pairs and their exact effects (signed and absolute), the same against the circuit's
attribution (every pair: what ranks its edges), and the recall of the exact top-n (by |effect|,
among the patched edges) by the attributed top-n (n = the circuit's edges); beside them the
head-level Spearman and top-k recall on the same pairs (k = the circuit's heads; heads' node
scores: the sum of their outgoing edges' signed scores) and the exact-patching seconds (heads: the
sweep's, every head; edges: this check's, with the whole graph's time extrapolated).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from thinking_sparks.cache import cached
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.patching import agreement, patch_edges, sample_edges
from thinking_sparks.emergence.device import load_kept
from thinking_sparks.emergence.modelruns import ModelRun
from thinking_sparks.emergence.pairs import PairParams, Side
from thinking_sparks.emergence.sweep import PATCH_BATCH, circuit_for, pair_set
from thinking_sparks.emergence.trace import _ordered
from thinking_sparks.plan import PLAN, AgreementPlan

log = logging.getLogger(__name__)

#: the patching direction taken as ground truth (what EAP-IG, integrated from the corrupted end, approximates)
DIRECTION = "denoise"


@dataclass
class EdgeCheck:
    """One circuit's attribution against exact patching, edges and heads, on its patched pairs."""

    model: str
    clean: str
    corrupted: str
    pairs: int                   # patched pairs
    graph_edges: int             # edges of the model's graph
    edges: int                   # edges patched (the top-n and the stratified sample)
    top_n: int                   # the circuit's edges: k of the edge recall
    edge_spearman: float         # same-pair attribution vs exact edge effects (signed)
    edge_spearman_abs: float     # the same on |values|
    edge_recall: float           # exact top-n among the patched edges found in the attributed top-n
    edge_spearman_circuit: float  # the circuit's attribution (every pair) vs the same exact effects
    heads: int                   # the circuit's heads: k of the head recall
    head_spearman: float         # same-pair head node scores vs exact head effects
    head_spearman_abs: float
    head_recall: float
    head_patch_s: float          # exact patching of every head (the sweep's measurement)
    edge_patch_s: float          # exact patching of the patched edges
    all_edges_s: float           # every edge of the graph, extrapolated from ``edge_patch_s``

    def row(self) -> dict:
        return asdict(self)


def _key(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig,
         plan: AgreementPlan = PLAN.agreement) -> dict:
    # the circuit's cache entry names everything it was built from (weights, pairs, settings)
    c = circuit_for(model, clean, corrupted, params, settings)
    return {"circuit": c.path.name if c.path is not None else None, "plan": plan, "direction": DIRECTION,
            "seed": settings.seed}


@cached("edge-check", key=_key)
def edge_check(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig,
               plan: AgreementPlan = PLAN.agreement) -> EdgeCheck:
    """The check of the sweep circuit ``circuit_for(model, clean, corrupted, params, settings)``
    (built when not cached); cached by that circuit's entry."""
    c = circuit_for(model, clean, corrupted, params, settings)
    nan = float("nan")
    if not c.has_signal:
        return EdgeCheck(model, c.clean, c.corrupted, 0, 0, 0, c.top_n, nan, nan, nan, nan, 0, nan, nan, nan, nan,
                         nan, nan)
    ps = pair_set(clean, corrupted, params)
    sub = [ps.pairs[i] for i in c.patch_index]
    lm = load_kept(model, settings.dtype)
    cm = CircuitModel(lm, gqa=settings.gqa)
    g = cm.graph
    circuit_scores = c.per_example().float().mean(0)  # [n_src, n_dst]
    same = c.checked_per_example().float()           # [n_patched, n_src, n_dst]
    edges = sample_edges(circuit_scores, g.edge_mask(), n=plan.edge_sample, top_n=c.top_n,
                         strata=plan.edge_strata, seed=settings.seed)
    e = patch_edges(lm, sub, edges=edges, metric=settings.metric, direction=DIRECTION, gqa=settings.gqa,
                    batch_size=PATCH_BATCH, circuit_model=cm)
    src, dst = edges[:, 0], edges[:, 1]
    k = min(c.top_n, len(edges))
    on_pairs = agreement(same.mean(0)[src, dst], e.effects, k)
    on_circuit = agreement(circuit_scores[src, dst], e.effects, k)
    idx = torch.tensor([g.head_src(layer, h) for layer in range(g.n_layers) for h in range(g.n_heads)])
    heads = agreement(same[:, idx].sum(2).mean(0), c.exact_per_example().mean(0), max(1, len(c.heads)))
    log.info("%s: %d edges x %d pairs patched in %.1f s; edge Spearman %.3f, recall %.2f", model, len(edges),
             len(sub), e.seconds, on_pairs.spearman, on_pairs.recall)
    return EdgeCheck(model, c.clean, c.corrupted, len(sub), g.n_edges, len(edges), k, on_pairs.spearman,
                     on_pairs.spearman_abs, on_pairs.recall, on_circuit.spearman, heads.k, heads.spearman,
                     heads.spearman_abs, heads.recall, float(c.seconds.get("patch_s", nan)), round(e.seconds, 3),
                     round(e.seconds * g.n_edges / len(edges), 1))


def final_checks(models: dict[str, ModelRun], params: PairParams, settings: CircuitConfig,
                 plan: AgreementPlan = PLAN.agreement) -> pd.DataFrame:
    """One row per run (``run`` then :class:`EdgeCheck`'s fields): its final checkpoint's circuit
    against its base, as the sweep builds it (clean: the checkpoint's own answers)."""
    rows = []
    for label, m in models.items():
        final = _ordered(list(m.checkpoints))[0][-1]
        rows.append({"run": label} | edge_check(final, Side(final), Side(m.base), params, settings, plan).row())
    return pd.DataFrame(rows)


__all__ = ["DIRECTION", "EdgeCheck", "edge_check", "final_checks"]
