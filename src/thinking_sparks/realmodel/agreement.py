"""Does attribution find the heads that matter in the real model?  Each style circuit's EAP-IG head
scores against exact patching of every head, on the circuit's own pairs.

Exact patching (:func:`~thinking_sparks.circuits.patching.patch_nodes`) is the ground truth in the
``denoise`` direction: run the corrupted input and restore one head's clean output; the loss it
removes is what EAP-IG, integrating gradients from the corrupted end, approximates.  The ``noise``
direction (corrupt one head in the clean run, where KL to the clean run is flat) is measured beside
it.  A head's attribution is its node score: the signed sum of its outgoing edges' mean scores.

:func:`circuit_agreement` does one circuit (cached: the model's fingerprint, both sides'
fingerprints, the pair and circuit settings, which fix the pairs, and the analysis dtype);
:func:`style_agreement` does the think and direct circuits of a model's two prompting styles.

Measured on SmolLM2-135M-Instruct, page 07's defaults (12 pairs, 3 IG steps, KL span), the think
circuit (204 of 270 heads): denoise Spearman 0.635 (|values| 0.588), top-204 recall 0.84, top-27
recall 0.63; noise Spearman 0.252, recall 0.82 / 0.56.  Patching all 270 heads once costs about
407 CPU-s per direction (815 CPU-s, 1,618 s wall for both on a shared 2-core machine), so a cold
page run spends about 27 CPU-minutes here (two circuits).  Tiny test model: denoise 0.90 / 0.95,
noise 0.24 / 0.50 (think / direct).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from thinking_sparks import runtime
from thinking_sparks.cache import cached
from thinking_sparks.circuits.agreement import head_scores
from thinking_sparks.circuits.attribute import Attribution
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.patching import agreement, patch_nodes
from thinking_sparks.emergence.device import analysis_dtype, load_kept
from thinking_sparks.emergence.pairs import PairParams, Side, side_fingerprint
from thinking_sparks.emergence.sweep import circuit_for, pair_set
from thinking_sparks.models import fingerprint, resolve_spec
from thinking_sparks.realmodel.styles import style_side

log = logging.getLogger(__name__)

__all__ = ["DIRECTIONS", "CircuitAgreement", "StyleAgreement", "circuit_agreement", "style_agreement"]

#: the ground truth first, the other direction beside it
DIRECTIONS = ("denoise", "noise")
#: the second recall is at this share of all heads (the circuits of a small model hold most heads)
TENTH = 0.1


@dataclass
class CircuitAgreement:
    """One circuit's head attributions against exact head patching.

    ``table``: one row per direction: ``spearman`` (signed), ``spearman_abs``, ``recall`` (of the
    ``k`` = circuit's heads largest |effects| among the ``k`` largest |attributions|), ``recall_tenth``
    at ``k_tenth`` = a tenth of all heads, ``effect_sum`` (the heads' effects summed),
    ``clean_loss`` / ``corrupted_loss`` (mean loss of the two runs) and ``patch_s``;
    ``heads``: per head (layer-major) its ``attribution``, each direction's exact effect and
    ``in_circuit``; ``seconds`` / ``cpu_seconds``: the patching's wall and CPU seconds (all directions).
    """

    label: str
    n_pairs: int
    n_heads: int
    table: pd.DataFrame
    heads: pd.DataFrame
    seconds: float
    cpu_seconds: float

    def row(self, direction: str = "denoise") -> dict:
        """The ``table`` row of one direction as a dict."""
        return self.table.set_index("direction").loc[direction].to_dict()


def _key(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig) -> dict:
    where = resolve_spec(model)
    return {"model": where if isinstance(where, str) else fingerprint(where), "clean": side_fingerprint(clean),
            "corrupted": side_fingerprint(corrupted), "pairs": asdict(params), "circuit": asdict(settings),
            "dtype": analysis_dtype(), "directions": list(DIRECTIONS)}


def _nan_table(k: int, k_tenth: int) -> pd.DataFrame:
    nan = float("nan")
    return pd.DataFrame([{"direction": d, "spearman": nan, "spearman_abs": nan, "recall": nan, "k": k,
                          "recall_tenth": nan, "k_tenth": k_tenth, "effect_sum": nan, "clean_loss": nan,
                          "corrupted_loss": nan, "patch_s": 0.0} for d in DIRECTIONS])


@cached("circuit-agreement", key=_key)
def circuit_agreement(model: str, clean: Side, corrupted: Side, params: PairParams,
                      settings: CircuitConfig) -> CircuitAgreement:
    """Patch every head of ``model`` once per direction on the pairs of its circuit clean =
    ``clean`` vs corrupted = ``corrupted`` (built or read by
    :func:`~thinking_sparks.emergence.sweep.circuit_for`) and rank its head attributions against them."""
    c = circuit_for(model, clean, corrupted, params, settings)
    names = [f"L{l}H{h}" for l in range(c.n_layers) for h in range(c.n_heads)]
    k, k_tenth = max(1, len(c.heads)), max(1, round(TENTH * len(names)))
    if not c.has_signal:  # fewer than 2 pairs: nothing to rank
        return CircuitAgreement(c.clean, c.n_pairs, len(names), _nan_table(k, k_tenth),
                                pd.DataFrame({"head": names, "attribution": float("nan"), "in_circuit": [n in c.heads for n in names]}
                                             | {d: float("nan") for d in DIRECTIONS}), 0.0, 0.0)
    pairs = pair_set(clean, corrupted, params).pairs
    per = c.per_example().float()  # [n_pairs, n_src, n_dst]
    if per.shape[0] != len(pairs):
        raise RuntimeError(f"{c.clean}: the circuit kept {per.shape[0]} pairs, the pairs are {len(pairs)}")
    lm = load_kept(model, settings.dtype)
    cm = CircuitModel(lm, gqa=settings.gqa)
    mean = per.mean(0)
    attr = head_scores(Attribution(cm.graph, mean, mean.abs(), per.shape[0], settings.method, settings.metric), "node")
    heads = pd.DataFrame({"head": names, "attribution": attr.tolist(), "in_circuit": [n in c.heads for n in names]})
    rows, t0, c0 = [], time.perf_counter(), runtime.cpu_seconds()
    for direction in DIRECTIONS:
        e = patch_nodes(lm, pairs, metric=settings.metric, direction=direction, gqa=settings.gqa,
                        batch_size=settings.batch_size or 8, circuit_model=cm)
        if e.nodes != names:
            raise RuntimeError("patched heads are not in the graph's layer-major order")
        heads[direction] = e.effects.tolist()
        s, s10 = agreement(attr, e.effects, k), agreement(attr, e.effects, k_tenth)
        rows.append({"direction": direction, "spearman": s.spearman, "spearman_abs": s.spearman_abs,
                     "recall": s.recall, "k": k, "recall_tenth": s10.recall, "k_tenth": k_tenth,
                     "effect_sum": float(e.effects.sum()), "clean_loss": e.clean_loss,
                     "corrupted_loss": e.corrupted_loss, "patch_s": e.seconds})
        log.info("%s, %s: spearman %.3f, recall %.2f (k=%d), %.1f s", c.clean, direction, s.spearman, s.recall, k,
                 e.seconds)
    return CircuitAgreement(c.clean, c.n_pairs, len(names), pd.DataFrame(rows), heads, time.perf_counter() - t0,
                            runtime.cpu_seconds() - c0)


@dataclass
class StyleAgreement:
    """:func:`circuit_agreement` of a model's ``think`` (step-by-step vs direct) and ``direct``
    (swapped) circuits; ``table``: both tables, a ``circuit`` column first."""

    think: CircuitAgreement
    direct: CircuitAgreement

    @property
    def table(self) -> pd.DataFrame:
        parts = [c.table.assign(circuit=name) for name, c in (("think", self.think), ("direct", self.direct))]
        df = pd.concat(parts, ignore_index=True)
        return df[["circuit"] + [c for c in df.columns if c != "circuit"]]


def style_agreement(model: str, params: PairParams, settings: CircuitConfig) -> StyleAgreement:
    """Both style circuits' agreement with exact head patching (``params.dataset``: bare questions)."""
    think, direct = style_side(model, "think"), style_side(model, "direct")
    with torch.no_grad():
        return StyleAgreement(circuit_agreement(model, think, direct, params, settings),
                              circuit_agreement(model, direct, think, params, settings))
