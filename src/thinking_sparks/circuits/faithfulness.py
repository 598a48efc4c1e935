"""Circuit faithfulness: run the clean input with every edge *outside* the circuit patched to its
source's output from the full corrupted run (edges inside carry the current run's outputs), then

    normalized = (L_corrupted - L_circuit) / (L_corrupted - L_clean)

with L the metric's loss averaged over examples (for ``logit-diff`` this is the usual
``(LD_circuit - LD_corrupted) / (LD_clean - LD_corrupted)``).  1 = the circuit alone recovers the
clean behaviour, 0 = no better than the fully corrupted run (the empty circuit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
import torch

from thinking_sparks.circuits.attribute import _batches
from thinking_sparks.circuits.circuit import Circuit, top_n
from thinking_sparks.circuits.forward import CircuitModel, Patch
from thinking_sparks.circuits.metrics import check_metric, loss
from thinking_sparks.circuits.pairs import Pair


@dataclass
class Faithfulness:
    """Means over examples. ``*_loss`` in the metric's loss convention (logit-diff: -LD)."""

    n_requested: int | None
    n_edges: int
    n_nodes: int
    circuit_loss: float
    clean_loss: float
    corrupted_loss: float
    circuit_kl: float

    @property
    def normalized(self) -> float:
        den = self.corrupted_loss - self.clean_loss
        return (self.corrupted_loss - self.circuit_loss) / den if den != 0 else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "normalized_faithfulness": self.normalized}


def evaluate_circuit(
    model,
    pairs: list[Pair],
    circuit: Circuit,
    metric: str = "logit-diff",
    batch_size: int = 32,
    circuit_model: CircuitModel | None = None,
    n_requested: int | None = None,
) -> Faithfulness:
    """Faithfulness of ``circuit`` on ``pairs`` (see module docstring)."""
    check_metric(metric)
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=circuit.graph.gqa)
    if cm.graph != circuit.graph:
        raise ValueError("circuit and model graphs differ (check the gqa mode)")
    g = cm.graph
    off = (g.edge_mask() & ~circuit.edges).float().to(cm.device)
    sums = torch.zeros(4, dtype=torch.float64)
    with torch.no_grad():
        for batch in _batches(pairs, batch_size):
            check_metric(metric, batch)
            batch = batch.to(cm.device)
            e_clean, e_corr = cm.embed(batch.clean), cm.embed(batch.corrupted)
            cols = batch.cols
            clean = cm.run(e_clean, positions=cols)
            corr = cm.run(e_corr, record=True, positions=cols)
            clp = torch.log_softmax(clean.logits.float(), -1)
            patched = cm.run(e_clean, patch=Patch(off, corr.sources), positions=cols).logits
            sums += torch.stack(
                [
                    loss(metric, patched, batch, clp).sum(),
                    loss(metric, clean.logits, batch, clp).sum(),
                    loss(metric, corr.logits, batch, clp).sum(),
                    loss("kl", patched, batch, clp).sum(),
                ]
            ).double().cpu()
    m = (sums / len(pairs)).tolist()
    return Faithfulness(n_requested, circuit.n_edges, circuit.n_nodes, m[0], m[1], m[2], m[3])


def faithfulness_curve(
    model,
    pairs: list[Pair],
    attribution,
    sizes: list[int],
    metric: str = "logit-diff",
    aggregation: str = "mean",
    batch_size: int = 32,
    circuit_model: CircuitModel | None = None,
):
    """Faithfulness of pruned top-n circuits for each n in ``sizes`` -> DataFrame (one row per n)."""
    cm = circuit_model if circuit_model is not None else CircuitModel(model, gqa=attribution.graph.gqa)
    rows = []
    for n in sizes:
        c = top_n(attribution, n, aggregation)
        rows.append(evaluate_circuit(model, pairs, c, metric, batch_size, cm, n_requested=n).as_dict())
    return pd.DataFrame(rows)
