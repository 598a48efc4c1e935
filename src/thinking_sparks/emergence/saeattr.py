"""Sparse-feature circuits (paper v2 §A.3, Fig 12): node attribution over SAE features, per component.

The graph's nodes per layer l: the residual stream after block l seen through that layer's SAE
(:mod:`.sae`; one node per feature and position, plus the SAE's error term ``x - x_hat`` as a node
per position, so the decomposition is exact), and the attention and MLP outputs of block l kept
dense (identity dictionaries: one node per dimension and position). A layer whose SAE is not used
(``SaeSet.used``) keeps dense residual nodes too.

Attribution is EAP-IG restricted to nodes (the same pairs, metric, IG steps and Riemann rule as page
04's circuits, :mod:`thinking_sparks.circuits`): the input embeddings are interpolated from the
corrupted to the clean prompt at ``circuits.attribute.riemann_alphas``, the metric's gradient at
every node is averaged over the steps, and a node's attribution is ``(a_clean - a_corrupted) *
mean grad``. A feature's gradient is the residual's gradient through the decoder row
(``g . w_dec[i] / scale``).

Per question, layer and component ``c`` in (RESID, ATTN, MLP): ``I(l, c) = sum |attribution|``
over the component's nodes at the question's real positions (:func:`node_importance`). Over a
question set, :func:`importance` sums the questions and normalises globally (the total is 1) and
:func:`effect` is Eq. 5, ``E = (I_post - I_pre) / (I_post + I_pre + eps)``. The Fig 12
claims (:data:`CLAIMS`) are statistics of E, with percentile CIs from a bootstrap over questions
paired between the two models, against the 95 % quantile of the same statistic between two
disjoint random samples of the base's questions, each as large as the comparison's (the base is
attributed on twice the comparison's questions: :func:`null_values`, :func:`claim_rows`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from thinking_sparks.cache import cached
from thinking_sparks.circuits.attribute import riemann_alphas
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.circuits.metrics import loss
from thinking_sparks.circuits.pairs import Pair, collate
from thinking_sparks.emergence.device import load_kept
from thinking_sparks.emergence.pairs import PairParams, Side, key_params, side_fingerprint, swap
from thinking_sparks.emergence.sae import Sae, SaeSet, decode, decoder_layers, encode, layer_saes
from thinking_sparks.emergence.sweep import pair_set
from thinking_sparks.plan import PLAN, Plan
from thinking_sparks.verdicts import Verdict

__all__ = ["CLAIMS", "COMPONENTS", "SaeCircuits", "claim_rows", "effect", "effect_frame", "importance", "node_importance",
           "sae_circuits"]

COMPONENTS = ("RESID", "ATTN", "MLP")
EPS = 1e-6
log = logging.getLogger(__name__)
FIG12 = "v2 Fig 12 (Llama-3.1-8B -> R1-Distill-Llama-8B, SAE circuits)"


def _out(o):
    return o[0] if isinstance(o, tuple) else o


def _capture(hf, store: dict):
    """Forward hooks storing ``(component, layer) -> [b, p, D]`` (resid = block output)."""
    hooks = []
    for li, layer in enumerate(decoder_layers(hf)):
        for comp, mod in (("RESID", layer), ("ATTN", layer.self_attn), ("MLP", layer.mlp)):
            hooks.append(mod.register_forward_hook(lambda _m, _i, o, k=(comp, li): store.__setitem__(k, _out(o))))
    return hooks


def _forward(hf, emb: Tensor) -> tuple[Tensor, dict]:
    store: dict = {}
    hooks = _capture(hf, store)
    try:
        logits = hf(inputs_embeds=emb).logits
    finally:
        for h in hooks:
            h.remove()
    return logits, store


def node_importance(hf, pairs: list[Pair], saes: list[Sae | None], metric: str = "kl", steps: int = 5,
                    rule: str = "left", batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, layer and component, ``sum |attribution|`` over the component's nodes.

    Args:
        hf: a plain HF causal LM (Llama family).
        saes: one SAE per layer for the residual nodes, or None (dense residual nodes).
    Returns:
        ``[n_pairs, L, 3]`` (columns :data:`COMPONENTS`) and ``[n_pairs, L]``, the error nodes' share
        of each layer's residual importance (0 where the layer is dense).
    """
    n_layers = len(decoder_layers(hf))
    if len(saes) != n_layers:
        raise ValueError(f"node_importance: {len(saes)} SAEs for {n_layers} layers")
    emb_layer = hf.get_input_embeddings()
    dev = emb_layer.weight.device
    imp, err_share = [], []
    for i in range(0, len(pairs), batch):
        b = collate(pairs[i:i + batch]).to(dev)
        valid = b.valid.float()[..., None]  # [b, p, 1]
        with torch.no_grad():
            e_c, e_r = emb_layer(b.clean), emb_layer(b.corrupted)  # the model's dtype
            logits_c, act_c = _forward(hf, e_c)
            _, act_r = _forward(hf, e_r)
            clean_lp = torch.log_softmax(logits_c.float(), -1)
        keys = list(act_c)
        grads = {k: torch.zeros_like(act_c[k], dtype=torch.float32) for k in keys}
        alphas = riemann_alphas(steps, rule)
        for a in alphas:
            e = (e_r + a * (e_c - e_r)).requires_grad_(True)
            logits, acts = _forward(hf, e)
            g = torch.autograd.grad(loss(metric, logits, b, clean_lp).sum(), [acts[k] for k in keys])
            for k, gk in zip(keys, g):
                grads[k] += gk.float() / len(alphas)
        out = torch.zeros(len(b.clean), n_layers, 3)
        share = torch.zeros(len(b.clean), n_layers)
        for li in range(n_layers):
            for ci, comp in enumerate(COMPONENTS):
                g, xc, xr = grads[(comp, li)], act_c[(comp, li)].float(), act_r[(comp, li)].float()
                sae = saes[li] if comp == "RESID" else None
                if sae is None:
                    out[:, li, ci] = ((xc - xr) * g * valid).abs().sum((1, 2))
                    continue
                fc, fr = encode(sae, xc), encode(sae, xr)
                gf = g @ torch.as_tensor(sae.w_dec, device=dev).T / sae.scale  # [b, p, F]
                feat = ((fc - fr) * gf * valid).abs().sum((1, 2))
                err = (((xc - decode(sae, fc)) - (xr - decode(sae, fr))) * g).sum(-1)  # [b, p]
                err = (err * valid[..., 0]).abs().sum(1)
                out[:, li, ci] = feat + err
                share[:, li] = err / (feat + err).clamp(min=1e-30)
        imp.append(out.detach().cpu().numpy())
        err_share.append(share.detach().cpu().numpy())
    return np.concatenate(imp), np.concatenate(err_share)


def importance(per_question: np.ndarray) -> np.ndarray:
    """``[n, L, 3]`` -> ``[L, 3]``: summed over questions, normalised globally (total 1)."""
    tot = np.asarray(per_question, float).sum(0)
    s = tot.sum()
    return tot / s if s > 0 else np.full_like(tot, np.nan)


def effect(pre: np.ndarray, post: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Eq. 5: ``(post - pre) / (post + pre + eps)`` of two normalised importance maps."""
    return (post - pre) / (post + pre + eps)


def _layers_from(n_layers: int, share: float) -> np.ndarray:
    return np.flatnonzero(np.arange(n_layers) / max(n_layers - 1, 1) >= share - 1e-12)


def _stat(name: str, e: np.ndarray, plan: Plan) -> float:
    n = e.shape[0]
    if name == "attn0":
        return float(e[0, 1])
    resid = float(e[_layers_from(n, plan.sae.mid_late_from), 0].mean())
    mlp = float(e[_layers_from(n, plan.sae.late_from), 2].mean())
    return {"resid": resid, "mlp": mlp, "less": resid - mlp}[name]


#: Fig 12's findings (the MLP one split in two: 'gain late', 'but less'): (statistic name, claim, what the statistic is)
CLAIMS = (("attn0", "Layer-0 attention gains importance strongly in the distilled model", "E(layer 0, ATTN)"),
          ("resid", "Residual features strengthen in mid-late layers", "mean E over RESID of the upper two thirds"),
          ("mlp", "MLPs gain importance in late layers", "mean E over MLP of the upper third"),
          ("less", "MLPs gain less than the residual stream",
           "mean E over RESID of the upper two thirds minus mean E over MLP of the upper third"))


def effect_frame(pre: np.ndarray, post: np.ndarray, plan: Plan = PLAN) -> pd.DataFrame:
    """``layer, component, I_pre, I_post, E, ci_low, ci_high`` (the heatmap's cells; per-cell
    percentile CIs from a bootstrap over questions paired between the models)."""
    ip, iq = importance(pre), importance(post)
    e = effect(ip, iq)
    boot = _boot(pre, post, lambda x: x.ravel(), plan)  # [n_resamples, L*3]
    lo, hi = _q(boot, plan)
    rows = [{"layer": li, "component": c, "I_pre": ip[li, ci], "I_post": iq[li, ci], "E": e[li, ci],
             "ci_low": lo[li * 3 + ci], "ci_high": hi[li * 3 + ci]}
            for li in range(e.shape[0]) for ci, c in enumerate(COMPONENTS)]
    return pd.DataFrame(rows)


def _q(boot: np.ndarray, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    a = (1 - plan.stats.confidence) / 2
    return np.nanquantile(boot, a, axis=0), np.nanquantile(boot, 1 - a, axis=0)


def _boot(pre: np.ndarray, post: np.ndarray, fn, plan: Plan) -> np.ndarray:
    """``fn(E)`` on every resample of the questions (the same draw for both models)."""
    rng = np.random.default_rng(plan.stats.seed)
    n = pre.shape[0]
    idx = rng.integers(0, n, (plan.stats.n_resamples, n))
    return np.array([fn(effect(importance(pre[i]), importance(post[i]))) for i in idx])


def null_values(base: np.ndarray, n: int, name: str, plan: Plan = PLAN) -> np.ndarray:
    """The statistic ``name`` between two disjoint random samples of ``n`` of ``base``'s questions
    (``base``: ``[m, L, 3]`` with ``m >= 2 n``), one value per split: the same-size null."""
    if base.shape[0] < 2 * n:
        raise ValueError(f"a same-size null of {n} questions needs {2 * n} base questions, got {base.shape[0]}")
    rng = np.random.default_rng(plan.stats.seed + 1)
    out = []
    for _ in range(plan.sae.null_splits):
        perm = rng.permutation(base.shape[0])
        out.append(_stat(name, effect(importance(base[perm[:n]]), importance(base[perm[n:2 * n]])), plan))
    return np.array(out)


def claim_rows(pre: np.ndarray, post: np.ndarray, pre_label: str, post_label: str, pre_null: np.ndarray,
               plan: Plan = PLAN) -> list[Verdict]:
    """Fig 12's claims on per-question importances ``pre``/``post`` ``[n, L, 3]`` (same
    questions in the same order): the statistic, its paired-bootstrap CI, and the criterion "CI
    above the base-vs-base null's quantile" (:func:`null_values` on ``pre`` and ``pre_null``, the base
    on ``n`` more questions: two samples of ``n`` drawn from the ``2 n``)."""
    rows = []
    if pre.shape != post.shape or pre.shape[0] < 4 or pre_null.shape != pre.shape:
        return [Verdict(f"SAE circuits: {claim}", FIG12, what, math.nan, math.nan, math.nan,
                        criterion="needs 4 questions on both sides and as many more for the base's null")
                for _, claim, what in CLAIMS]
    both = np.concatenate([pre, pre_null])
    e = effect(importance(pre), importance(post))
    for name, claim, what in CLAIMS:
        boot = _boot(pre, post, lambda x, name=name: _stat(name, x, plan), plan)
        lo, hi = _q(boot[:, None], plan)
        thr = float(np.quantile(null_values(both, pre.shape[0], name, plan), plan.sae.null_quantile))
        rows.append(Verdict(f"SAE circuits: {claim}", FIG12,
                            f"{what}, {post_label} vs {pre_label} ({pre.shape[0]} questions; bootstrap over "
                            "questions paired between the models)",
                            _stat(name, e, plan), float(lo[0]), float(hi[0]), above=thr,
                            criterion=f"CI above {thr:.3f}, the {plan.sae.null_quantile:.0%} quantile of the same "
                                      f"statistic between two disjoint samples of {pre.shape[0]} of the base's "
                                      "questions (the same-size null)"))
    return rows


@dataclass
class SaeCircuits:
    """Page 08's Fig 12 inputs.

    Attributes:
        pre, post: the compared models (base, distilled student).
        quality: the base's SAEs per layer (:class:`~.sae.SaeSet` ``quality``).
        pre_importance, post_importance: ``[n_questions, L, 3]`` per-question importances
            (:func:`node_importance`, columns :data:`COMPONENTS`), questions in the same order.
        pre_null_importance: ``[n_questions, L, 3]`` the base on the next ``n_questions`` pairs: with
            ``pre_importance``, the same-size null's questions (:func:`claim_rows`).
        pre_error, post_error: ``[n_questions, L]`` the error nodes' share of the residual importance.
        question_index: each row's question (position in the circuit question list).
        train_tokens: tokens the SAEs were trained on; seconds: ``sae`` (training, 0 when cached) and
            ``attribution``.
    """

    pre: str
    post: str
    quality: pd.DataFrame
    pre_importance: np.ndarray
    post_importance: np.ndarray
    pre_error: np.ndarray
    post_error: np.ndarray
    question_index: list[int]
    train_tokens: int
    seconds: dict[str, float]
    pre_null_importance: np.ndarray | None = None


def _key(pre: str, post: str, pairs: PairParams, config: CircuitConfig, plan: Plan = PLAN) -> dict:
    return {"pre": side_fingerprint(Side(pre)), "post": side_fingerprint(Side(post)), "pairs": key_params(pairs),
            "metric": config.metric, "rule": config.rule, "sae": asdict(plan.sae), "stats": asdict(plan.stats),
            "version": "node-eap-ig-v2"}


@cached("sae-circuits", key=_key)
def sae_circuits(pre: str, post: str, pairs: PairParams, config: CircuitConfig, plan: Plan = PLAN) -> SaeCircuits:
    """SAEs on ``pre`` (:func:`~.sae.layer_saes`), then node importances of both models on page 04's
    pairs of ``post``'s circuit (clean = ``post``'s prefixes; ``pre`` reads them swapped), the first
    ``plan.sae.n_questions`` pairs (the base on twice as many: its same-size null)."""
    t0 = time.perf_counter()
    saeset: SaeSet = layer_saes(pre, plan.sae)
    t_sae = time.perf_counter() - t0
    ps = pair_set(Side(post), Side(pre), pairs)
    n = min(plan.sae.n_questions, len(ps.pairs) // 2)  # the base needs as many again for its same-size null
    if n < plan.sae.n_questions:
        log.info("Fig 12: %d pairs of %s: %d questions compared (the plan's %d), as many for the base's null",
                 len(ps.pairs), post, n, plan.sae.n_questions)
    keep = ps.pairs[:n]
    saes = [s if u else None for s, u in zip(saeset.saes, saeset.used)]
    t1 = time.perf_counter()
    kw = {"metric": config.metric, "steps": plan.sae.ig_steps, "rule": config.rule, "batch": plan.sae.attr_batch}
    post_imp, post_err = node_importance(load_kept(post).hf_model, keep, saes, **kw)
    pre_imp, pre_err = node_importance(load_kept(pre).hf_model, [swap(p) for p in ps.pairs[:2 * n]], saes, **kw)
    return SaeCircuits(pre, post, saeset.quality, pre_imp[:n], post_imp, pre_err[:n], post_err,
                       list(ps.question_index[:len(keep)]), saeset.train_tokens,
                       {"sae": round(t_sae, 3), "attribution": round(time.perf_counter() - t1, 3)}, pre_imp[n:2 * n])
