"""One circuit configuration: how an EAP / EAP-IG circuit is built, for every caller.

:class:`CircuitConfig` is used by ``sparks circuit``, ``sparks heads`` and ``sparks trace``, the
emergence sweep (:func:`thinking_sparks.emergence.sweep.circuit_for`, where it is part of every
cache key) and the pages (``pages.params.emergence_settings``).  Import-light: no torch until
:meth:`CircuitConfig.validate` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from thinking_sparks.circuits.attribute import METHODS, check_method, riemann_alphas
from thinking_sparks.circuits.circuit import AGGREGATIONS
from thinking_sparks.circuits.graph import GQA_MODES
from thinking_sparks.circuits.metrics import check_metric

#: the paper's top-n (§A.5) and the size of its graph (Qwen2.5-Math-1.5B: 28 x 12 heads, 2 KV
#: heads, q/k/v inputs per query head), so a smaller model keeps the same *fraction* of edges
PAPER_TOP_N = 5000
PAPER_EDGES = 183_555


def scaled_top_n(n_edges: int, paper_n: int = PAPER_TOP_N, paper_edges: int = PAPER_EDGES) -> int:
    """The paper's share of edges applied to a graph of ``n_edges`` edges (at least 1)."""
    return max(1, round(n_edges * paper_n / paper_edges))


def paper_fraction() -> float:
    """The paper's share of edges kept (5000 of 183,555)."""
    return PAPER_TOP_N / PAPER_EDGES


@dataclass(frozen=True)
class CircuitConfig:
    """How a circuit is built (the paper's EAP-IG choices and ours); every field enters cache keys.

    Attributes:
        method: ``eap | eap-ig-inputs | eap-ig-joint-activations | clean-corrupted`` (``exact``
            scores nodes: ``sparks circuit`` only), see :func:`thinking_sparks.circuits.attribute`.
        steps: integrated-gradient steps m.
        rule: Riemann rule of the IG path: ``left`` (alpha = k/m, k = 0..m-1, the reference
            library's), ``right`` (k = 1..m, the paper's Eq. 3) or ``midpoint``.
        metric: ``kl | logit-diff | answer-logprob``, each a mean over the target positions.
        gqa: ``ungrouped`` (k/v input per query head) or ``grouped`` (per KV group).
        aggregation: top-n ranking, ``mean`` (|mean score|) or ``mean_abs``.
        top_n: edges kept; None: the paper's fraction ``5000 / 183,555`` of this model's graph
            (:meth:`n_for`).
        n_boot: bootstrap resamples of the pairs for a circuit's head inclusion probabilities.
        seed: that bootstrap's seed.
        batch_size: examples per attribution batch (None: the memory planner's).
        dtype: the model's dtype (``float32``, ``bfloat16``...; None: the device's default).
    """

    method: str = "eap-ig-inputs"
    steps: int = 5
    rule: str = "left"
    metric: str = "kl"
    gqa: str = "ungrouped"
    aggregation: str = "mean"
    top_n: Optional[int] = None
    n_boot: int = 100
    seed: int = 0
    batch_size: Optional[int] = None
    dtype: Optional[str] = None

    def n_for(self, graph) -> int:
        """Edges kept in ``graph`` (a :class:`~thinking_sparks.circuits.graph.Graph`)."""
        return self.top_n if self.top_n is not None else scaled_top_n(graph.n_edges)

    def validate(self, edges_only: bool = False) -> CircuitConfig:
        """Raise one ``ValueError`` line on a bad field (before a model is loaded); returns self.

        ``edges_only``: the caller scores edges without building a circuit, so ``exact`` (node
        scores) is allowed.
        """
        if self.method == "exact" and not edges_only:  # exact patching scores nodes: no circuit from it
            raise ValueError(f"unknown --method {self.method!r}; choose one of "
                             f"{', '.join(m for m in METHODS if m != 'exact')}")
        check_method(self.method)
        if self.gqa not in GQA_MODES:
            raise ValueError(f"unknown --gqa {self.gqa!r}; choose one of {', '.join(GQA_MODES)}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown --aggregation {self.aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {self.steps}")
        for name in ("top_n", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.n_boot < 0:
            raise ValueError(f"--n-boot must be >= 0, got {self.n_boot}")
        riemann_alphas(self.steps, self.rule)
        check_metric(self.metric)
        return self


__all__ = ["PAPER_EDGES", "PAPER_TOP_N", "CircuitConfig", "paper_fraction", "scaled_top_n"]
