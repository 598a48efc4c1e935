"""Circuits room: EAP / EAP-IG edge attribution on a TransformerBridge, circuits and faithfulness.

Typical use::

    from thinking_sparks.circuits import attribute, top_n, evaluate_circuit, load_pairs
    a = attribute(lm, load_pairs("pairs.jsonl", lm.tokenizer), method="eap-ig-inputs", steps=5, metric="kl")
    c = top_n(a, 5000)                  # pruned circuit; c.heads() -> {"L5H1", ...}
    f = evaluate_circuit(lm, pairs, c)  # normalized faithfulness

Node names: ``input``, heads ``L{l}H{h}``, ``MLP{l}``, ``logits``; head inputs ``L{l}H{h}.q/.k/.v``
(GQA grouped mode: ``L{l}G{g}.k/.v`` per KV group).  See :mod:`.graph`.
"""

from thinking_sparks.circuits.attribute import (
    METHODS,
    Attribution,
    attribute,
    exact_node_scores,
    node_scores,
    riemann_alphas,
)
from thinking_sparks.circuits.circuit import Circuit, head_effect, head_importance, prune, threshold, top_n
from thinking_sparks.circuits.faithfulness import Faithfulness, evaluate_circuit, faithfulness_curve
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.circuits.metrics import METRICS
from thinking_sparks.circuits.pairs import Pair, build_style_pairs, load_pairs, save_pairs

__all__ = [
    "METHODS", "METRICS", "Attribution", "Circuit", "Faithfulness", "Graph", "Pair", "attribute",
    "build_style_pairs", "evaluate_circuit", "exact_node_scores", "faithfulness_curve", "head_effect",
    "head_importance", "load_pairs", "node_scores", "prune", "riemann_alphas", "save_pairs", "threshold", "top_n",
]
