"""Fig 15: τ-simplified circuits of the base, the distilled student, and the student without thinking.

Panels (the paper's, on the organism; the distillation run's base and final checkpoint):

* **(A)** the base's circuit (clean = the base's answers, corrupted = the student's: the base circuit
  of every emergence sweep);
* **(B)** the distilled student's circuit with its own sampled answer (clean = its answers,
  corrupted = the base's);
* **(C)** the student answering *without* its thinking marker: clean = its answers asked in
  ``PLAN.fig15.no_think_mode`` (the organism's template pre-fills an empty ``<think> </think>``),
  corrupted = the base's answers, as in (B): (B) and (C) differ in the clean side's mode alone.

**Simplification** (paper §A.5, "threshold τ = 0.1"; raw or normalised is not stated): from the
top-n circuit, keep the edges whose ranking key is at least ``τ`` times the circuit's largest, then
prune nodes left without a path (:func:`~thinking_sparks.circuits.circuit.threshold`). A circuit's
*nodes* are its source nodes with a kept edge plus ``logits`` (the nodes drawn); its *edges* are
edges of the attribution graph (a head's q, k and v inputs count separately).

**The claim** ("(C) is much more complex"): the difference (C) − (B) in nodes and in edges, each
with a percentile bootstrap interval (``scipy.stats.bootstrap``; :data:`~thinking_sparks.plan.PLAN`'s
resamples, confidence and seed) that resamples the circuit questions, paired: one draw of questions
feeds both circuits, each using the pairs it has on the drawn questions (its cached per-example
scores), the circuits rebuilt, simplified and counted. The claim has two parts (nodes, edges),
each reproduced when its interval lies above 0; :func:`~thinking_sparks.verdicts.combine` joins them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from thinking_sparks.circuits.attribute import Attribution
from thinking_sparks.circuits.circuit import Circuit, threshold, top_n
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.claims import PartsVerdict
from thinking_sparks.emergence.drawing import circuit_graph, edge_graph
from thinking_sparks.emergence.pairs import PairParams, Side
from thinking_sparks.emergence.sweep import CircuitResult, circuit_for
from thinking_sparks.plan import PLAN, Plan
from thinking_sparks.verdicts import Verdict, decide

log = logging.getLogger(__name__)

PANELS = {"A": "base", "B": "distilled, own answer", "C": "distilled, no thinking marker"}
MEASURES = ("nodes", "edges")


@dataclass
class Fig15Circuit:
    """One panel: the τ-simplified circuit's counts and drawing frames (None without signal)."""

    panel: str
    name: str
    model: str
    clean: str
    corrupted: str
    has_signal: bool
    n_pairs: int
    nodes: int
    edges: int
    top_n_edges: int
    drawing_nodes: pd.DataFrame | None = None
    drawing_edges: pd.DataFrame | None = None


@dataclass
class Fig15:
    """Fig 15 and its claim: ``circuits`` (A, B, C); ``complexity``: one row per measure (``nodes``,
    ``edges``) with ``B, C, difference, ci_low, ci_high, questions, resamples``."""

    tau: float
    no_think_mode: str
    circuits: list[Fig15Circuit]
    complexity: pd.DataFrame


def simplify(a: Attribution, n: int, tau: float, aggregation: str = "mean") -> Circuit:
    """The τ-simplified circuit: :func:`threshold` (relative to the largest kept edge) of the top-``n`` one."""
    return threshold(a, tau, relative=True, aggregation=aggregation, base=top_n(a, n, aggregation))


def counts(c: Circuit) -> tuple[int, int]:
    """``(nodes, edges)`` of a circuit: source nodes with a kept edge plus ``logits`` (when any edge is
    kept), and kept edges."""
    return (c.n_nodes + 1 if c.n_edges else 0), c.n_edges


def simplified_counts(per_example: torch.Tensor, graph, n: int, tau: float, rows=None,
                      aggregation: str = "mean") -> tuple[int, int]:
    """``(nodes, edges)`` of the τ-simplified circuit built from the mean of ``per_example[rows]``
    (``[n_pairs, n_src, n_dst]``; rows may repeat: a resample; None: every row)."""
    k = per_example.shape[0]
    w = torch.full((k,), 1.0 / k) if rows is None else torch.bincount(torch.as_tensor(rows), minlength=k).float() / len(rows)
    flat = per_example.reshape(k, -1).float()
    mean = (w @ flat).reshape(per_example.shape[1:])
    abs_mean = (w @ flat.abs()).reshape(per_example.shape[1:]) if aggregation == "mean_abs" else mean.abs()
    return counts(simplify(Attribution(graph, mean, abs_mean, k, "bootstrap", "kl"), n, tau, aggregation))


def panel(label: str, r: CircuitResult, settings: CircuitConfig, tau: float) -> Fig15Circuit:
    """Panel ``label``'s simplified circuit of a cached circuit result."""
    if not r.has_signal:
        return Fig15Circuit(label, PANELS[label], r.model, r.clean, r.corrupted, False, r.n_pairs, 0, 0, 0)
    n_nodes, n_edges = simplified_counts(r.per_example(), edge_graph(r, settings), r.top_n, tau,
                                         aggregation=settings.aggregation)
    nodes, edges = circuit_graph(r, settings, tau=tau)
    return Fig15Circuit(label, PANELS[label], r.model, r.clean, r.corrupted, True, r.n_pairs, n_nodes, n_edges,
                        r.n_edges, nodes, edges)


def paired_difference(b: CircuitResult, c: CircuitResult, settings: CircuitConfig, tau: float,
                      plan: Plan = PLAN) -> pd.DataFrame:
    """(C) − (B) in nodes and edges of the τ-simplified circuits, with paired percentile bootstrap
    intervals over the questions (module docstring). Rows ``nodes, edges``; NaN intervals when a side
    has no signal or fewer than two questions are shared."""
    out = {m: {"measure": m, "B": np.nan, "C": np.nan, "difference": np.nan, "ci_low": np.nan, "ci_high": np.nan,
               "questions": 0, "resamples": 0} for m in MEASURES}
    if not (b.has_signal and c.has_signal):
        return pd.DataFrame(list(out.values()))
    g = edge_graph(b, settings)
    pe_b, pe_c = b.per_example(), c.per_example()
    nb = simplified_counts(pe_b, g, b.top_n, tau, aggregation=settings.aggregation)
    nc = simplified_counts(pe_c, g, c.top_n, tau, aggregation=settings.aggregation)
    qs = sorted(set(b.question_index) | set(c.question_index))
    pos_b = {q: i for i, q in enumerate(b.question_index)}
    pos_c = {q: i for i, q in enumerate(c.question_index)}
    for i, m in enumerate(MEASURES):
        out[m] |= {"B": nb[i], "C": nc[i], "difference": nc[i] - nb[i], "questions": len(qs)}
    if len(qs) < 2:
        return pd.DataFrame(list(out.values()))

    def statistic(idx: np.ndarray) -> np.ndarray:
        drawn = [qs[j] for j in idx]
        rb, rc = [pos_b[q] for q in drawn if q in pos_b], [pos_c[q] for q in drawn if q in pos_c]
        if not rb or not rc:
            return np.array([np.nan, np.nan])
        cb = simplified_counts(pe_b, g, b.top_n, tau, rb, settings.aggregation)
        cc = simplified_counts(pe_c, g, c.top_n, tau, rc, settings.aggregation)
        return np.array([cc[0] - cb[0], cc[1] - cb[1]], dtype=float)

    res = stats.bootstrap((np.arange(len(qs)),), statistic, vectorized=False, n_resamples=plan.stats.n_resamples,
                          confidence_level=plan.stats.confidence, method="percentile", rng=plan.stats.seed)
    for i, m in enumerate(MEASURES):
        out[m] |= {"ci_low": float(res.confidence_interval.low[i]), "ci_high": float(res.confidence_interval.high[i]),
                   "resamples": plan.stats.n_resamples}
    return pd.DataFrame(list(out.values()))


def fig15(base: str, student: str, pairs: PairParams, settings: CircuitConfig, plan: Plan = PLAN) -> Fig15:
    """Fig 15's three circuits (cached by :func:`~.sweep.circuit_for`) and the (C) − (B) complexity."""
    tau, mode = plan.fig15.tau, plan.fig15.no_think_mode
    a = circuit_for(base, Side(base), Side(student), pairs, settings)
    b = circuit_for(student, Side(student), Side(base), pairs, settings)
    c = circuit_for(student, Side(student, mode), Side(base), pairs, settings)
    panels = [panel(lab, r, settings, tau) for lab, r in zip("ABC", (a, b, c), strict=True)]
    return Fig15(tau, mode, panels, paired_difference(b, c, settings, tau, plan))


def fig15_verdict(complexity: pd.DataFrame) -> Verdict:
    """The claim's row: the node difference is the shown value; the verdict combines the node and edge
    parts, each reproduced when its interval of (C) − (B) lies above 0."""
    rows = complexity.set_index("measure")
    missing = set(MEASURES) - set(rows.index)
    if missing:
        raise ValueError(f"fig15_verdict: complexity lacks the measures {sorted(missing)}")
    parts = tuple(decide(float(rows.loc[m, "difference"]), float(rows.loc[m, "ci_low"]), float(rows.loc[m, "ci_high"]),
                         above=0.0) for m in MEASURES)
    n, e = rows.loc["nodes"], rows.loc["edges"]
    stat = ("τ-simplified circuit, (C) no thinking minus (B) own answer: nodes (shown) "
            f"{_fmt(n.difference)}; edges {_fmt(e.difference)} [{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]")
    return PartsVerdict("Without its thinking marker the distilled model's circuit is much more complex",
                        "§A.5, Fig 15 (C) vs (B)", stat, float(n.difference), float(n.ci_low), float(n.ci_high),
                        criterion="CI of (C) - (B) above 0 for nodes and for edges", parts=parts)


def _fmt(x: float) -> str:
    return "nan" if x is None or math.isnan(float(x)) else f"{float(x):+g}"


__all__ = ["MEASURES", "PANELS", "Fig15", "Fig15Circuit", "counts", "fig15", "fig15_verdict", "paired_difference",
           "simplified_counts", "simplify"]
