"""Does attribution find the heads that matter in the real model?  Each style circuit's EAP-IG head
scores against exact patching of every head, on the circuit's own pairs.

Exact patching is the ground truth in the ``denoise`` direction: run the corrupted input and
restore one head's clean output; the loss it removes is what EAP-IG, integrating gradients from the
corrupted end, approximates.  Every circuit of the emergence room already holds it
(:func:`~thinking_sparks.emergence.sweep.circuit_for` patches all heads once, per pair, and caches
the effects), so the page's agreement costs no new forward: :func:`circuit_agreement` reads the
circuit's per-pair node scores and exact effects and bootstraps Spearman and top-k recall over the
pairs (:func:`~thinking_sparks.circuits.agreement.agreement_bootstrap`; resamples, confidence and
seed from :data:`thinking_sparks.plan.PLAN` ``.stats``).  The ``noise`` direction (corrupt one head
in the clean run, where KL to the clean run is flat) is patched only when asked for (benchmarks).
A head's attribution is its node score: the signed sum of its outgoing edges' scores.

Cost: the page's agreement adds no forward pass; its bootstrap (2,000 resamples of 12 pairs x 270
heads) takes about 5 CPU-s per circuit.  The patching it reads is the circuit's own: on SmolLM2's
style pairs (12 pairs of 70 positions, the first 32 shared by both styles, read at 54..68) patching
all 270 heads once took 551 CPU-s (1,981 s wall, load average 14 on 2 cores) with the shared-prefix
shortcut of :mod:`thinking_sparks.circuits.resume` (``benchmarks/realmodel_patching.py``); the
earlier 407 CPU-s per direction without it were measured under a lighter load, so compare the
paired micro-benchmark there instead (1.6x fewer CPU-s, identical effects).  Earlier measurement
(page 07's defaults; before this module read the circuit's own patches): think circuit denoise
Spearman 0.635, noise 0.252.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from thinking_sparks import runtime
from thinking_sparks.cache import cached
from thinking_sparks.circuits.agreement import agreement_bootstrap
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.patching import agreement, patch_nodes
from thinking_sparks.emergence.device import analysis_dtype, load_kept
from thinking_sparks.emergence.pairs import PairParams, Side, side_fingerprint
from thinking_sparks.emergence.sweep import AGREEMENT, circuit_for, pair_set
from thinking_sparks.models import fingerprint, resolve_spec
from thinking_sparks.plan import PLAN
from thinking_sparks.realmodel.styles import style_side

log = logging.getLogger(__name__)

__all__ = ["DIRECTIONS", "CircuitAgreement", "StyleAgreement", "circuit_agreement", "premise_rows", "style_agreement"]

#: the ground truth (read from the circuit), and the other direction (patched when asked for)
DIRECTIONS = ("denoise", "noise")
#: the second recall is at this share of all heads (the circuits of a small model hold most heads)
TENTH = 0.1


@dataclass
class CircuitAgreement:
    """One circuit's head attributions against exact head patching.

    ``table``: one row per direction: ``spearman`` (signed) with ``spearman_low`` / ``spearman_high``
    (bootstrap over pairs, :data:`~thinking_sparks.plan.PLAN` ``.stats``), ``spearman_abs``,
    ``recall`` (of the ``k`` = circuit's heads largest |effects| among the ``k`` largest
    |attributions|) with ``recall_low`` / ``recall_high``, ``recall_tenth`` at ``k_tenth`` = a tenth
    of all heads, ``effect_sum`` (the heads' effects summed), ``clean_loss`` / ``corrupted_loss``
    (mean loss of the two runs; NaN for the circuit's own denoising patch) and ``patch_s`` (seconds
    of patching every head once: the circuit's own for ``denoise``);
    ``heads``: per head (layer-major) its ``attribution``, each direction's exact effect and
    ``in_circuit``; ``seconds`` / ``cpu_seconds``: this call's wall and CPU seconds.
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


def _key(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig,
         directions: tuple[str, ...] = ("denoise",)) -> dict:
    where = resolve_spec(model)
    return {"model": where if isinstance(where, str) else fingerprint(where), "clean": side_fingerprint(clean),
            "corrupted": side_fingerprint(corrupted), "pairs": asdict(params), "circuit": asdict(settings),
            "dtype": analysis_dtype(), "directions": list(directions), "stats": asdict(PLAN.stats),
            "agreement": AGREEMENT}


def _row(direction: str, attr_pe: torch.Tensor, exact_pe: torch.Tensor, k: int, k_tenth: int) -> dict:
    """Agreement of the pair means, its bootstrap interval over pairs and the recall at a tenth."""
    nan = float("nan")
    attr, exact = attr_pe.mean(0), exact_pe.mean(0)
    s, s10 = agreement(attr, exact, k), agreement(attr, exact, k_tenth)
    st = PLAN.stats
    boot = agreement_bootstrap(attr_pe, exact_pe, k, st.n_resamples, st.seed)
    q = ((1 - st.confidence) / 2, (1 + st.confidence) / 2)
    ci = {c: boot[c].dropna().quantile(list(q)).tolist() if boot[c].notna().any() else [nan, nan]
          for c in ("spearman", "recall")}
    return {"direction": direction, "spearman": s.spearman, "spearman_low": ci["spearman"][0],
            "spearman_high": ci["spearman"][1], "spearman_abs": s.spearman_abs, "recall": s.recall,
            "recall_low": ci["recall"][0], "recall_high": ci["recall"][1], "k": k, "recall_tenth": s10.recall,
            "k_tenth": k_tenth, "effect_sum": float(exact.sum())}


def _nan_row(direction: str, k: int, k_tenth: int) -> dict:
    nan = float("nan")
    return {"direction": direction, **{c: nan for c in ("spearman", "spearman_low", "spearman_high", "spearman_abs",
                                                         "recall", "recall_low", "recall_high")},
            "k": k, "recall_tenth": nan, "k_tenth": k_tenth, "effect_sum": nan, "clean_loss": nan,
            "corrupted_loss": nan, "patch_s": 0.0}


@cached("circuit-agreement", key=_key)
def circuit_agreement(model: str, clean: Side, corrupted: Side, params: PairParams, settings: CircuitConfig,
                      directions: tuple[str, ...] = ("denoise",)) -> CircuitAgreement:
    """Rank the head attributions of ``model``'s circuit clean = ``clean`` vs corrupted =
    ``corrupted`` (built or read by :func:`~thinking_sparks.emergence.sweep.circuit_for`) against
    exact head patching in each of ``directions`` (``denoise``: the circuit's own, no new forward)."""
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad or not directions:
        raise ValueError(f"directions must be some of {', '.join(DIRECTIONS)}, got {list(directions)}")
    t0, c0 = time.perf_counter(), runtime.cpu_seconds()
    c = circuit_for(model, clean, corrupted, params, settings)
    names = [f"L{l}H{h}" for l in range(c.n_layers) for h in range(c.n_heads)]
    k, k_tenth = max(1, len(c.heads)), max(1, round(TENTH * len(names)))
    heads = pd.DataFrame({"head": names, "in_circuit": [n in c.heads for n in names]})
    if not c.has_signal:  # fewer than 2 pairs: nothing to rank
        heads["attribution"] = float("nan")
        for d in directions:
            heads[d] = float("nan")
        return CircuitAgreement(c.clean, c.n_pairs, len(names), pd.DataFrame([_nan_row(d, k, k_tenth) for d in directions]),
                                heads, 0.0, 0.0)
    idx = torch.tensor([1 + l * (c.n_heads + 1) + h for l in range(c.n_layers) for h in range(c.n_heads)])
    attr_pe = c.per_example().float()[:, idx].sum(2)  # [n_pairs, n_heads]: per-pair node scores
    heads.insert(1, "attribution", attr_pe.mean(0).tolist())
    rows = []
    for direction in directions:
        if direction == "denoise":
            exact_pe = c.exact_per_example().float()
            extra = {"clean_loss": float("nan"), "corrupted_loss": float("nan"),
                     "patch_s": float(c.seconds.get("patch_s", float("nan")))}
        else:
            pairs = pair_set(clean, corrupted, params).pairs
            e = patch_nodes(load_kept(model, settings.dtype), pairs, metric=settings.metric, direction=direction,
                            gqa=settings.gqa, batch_size=settings.batch_size or 8)
            if e.nodes != names:
                raise RuntimeError("patched heads are not in the graph's layer-major order")
            exact_pe = e.per_example
            extra = {"clean_loss": e.clean_loss, "corrupted_loss": e.corrupted_loss, "patch_s": e.seconds}
        if exact_pe.shape != attr_pe.shape:
            raise RuntimeError(f"{c.clean}: {tuple(exact_pe.shape)} exact effects vs {tuple(attr_pe.shape)} attributions")
        heads[direction] = exact_pe.mean(0).tolist()
        rows.append(_row(direction, attr_pe, exact_pe, k, k_tenth) | extra)
        log.info("%s, %s: spearman %.3f [%.3f, %.3f], recall %.2f (k=%d)", c.clean, direction, rows[-1]["spearman"],
                 rows[-1]["spearman_low"], rows[-1]["spearman_high"], rows[-1]["recall"], k)
    return CircuitAgreement(c.clean, c.n_pairs, len(names), pd.DataFrame(rows), heads, time.perf_counter() - t0,
                            runtime.cpu_seconds() - c0)


@dataclass
class StyleAgreement:
    """:func:`circuit_agreement` of a model's ``think`` (step-by-step vs direct) and ``direct``
    (swapped) circuits; ``table``: both tables, a ``circuit`` column first; ``heads``: both head
    frames, a ``circuit`` column first (the page's scatter)."""

    think: CircuitAgreement
    direct: CircuitAgreement

    def _both(self, what: str) -> pd.DataFrame:
        parts = [getattr(c, what).assign(circuit=name) for name, c in (("think", self.think), ("direct", self.direct))]
        df = pd.concat(parts, ignore_index=True)
        return df[["circuit"] + [c for c in df.columns if c != "circuit"]]

    @property
    def table(self) -> pd.DataFrame:
        return self._both("table")

    @property
    def heads(self) -> pd.DataFrame:
        return self._both("heads")


def style_agreement(model: str, params: PairParams, settings: CircuitConfig,
                    directions: tuple[str, ...] = ("denoise",)) -> StyleAgreement:
    """Both style circuits' agreement with exact head patching (``params.dataset``: bare questions)."""
    think, direct = style_side(model, "think"), style_side(model, "direct")
    with torch.no_grad():
        return StyleAgreement(circuit_agreement(model, think, direct, params, settings, directions),
                              circuit_agreement(model, direct, think, params, settings, directions))


def premise_rows(ag: StyleAgreement, direction: str = "denoise") -> list:
    """The §3 premise on each style circuit (:func:`~thinking_sparks.circuits.claims.premise_verdicts`,
    the organism's rule: Spearman CI above 0.8, top-k recall CI above 0.5), the circuit named in
    each row's statistic."""
    from thinking_sparks.circuits.claims import premise_verdicts

    rows = []
    for name in ("think", "direct"):
        r = getattr(ag, name).row(direction)
        rows += [dataclasses.replace(v, statistic=f"{v.statistic}, {name} circuit")
                 for v in premise_verdicts(r["spearman"], r["spearman_low"], r["spearman_high"], r["recall"],
                                           r["recall_low"], r["recall_high"], direction, int(r["k"]))]
    return rows
