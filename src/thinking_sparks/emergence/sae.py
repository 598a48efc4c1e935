"""Residual-stream sparse autoencoders for the organism's base (paper v2 §A.3, Fig 12), one per layer.

The paper uses pre-trained residual SAEs (Llama Scope); none exist for our models, so we train
them here on residual activations of the organism's task data: worked training-split problems in
the chat format (``organism.task.make_problems``, never an eval or circuit set), read at every
layer's output (``resid_post``).

Why not sae-lens (which the issue names): sae-lens 6.54.12 declares ``transformer-lens>=2.16.1,<4``
and we pin transformer-lens 4.3.0. Installed without its dependencies into a scratch folder, its
import fails at ``sae_lens/saes/sae.py`` (``from transformer_lens.HookedTransformer import
HookedRootModule``: that module is gone in transformer-lens 4), and every SAE class and its trainer
subclass it, so it cannot run against our pinned stack. This module is our own small trainer.

The SAE is a TopK SAE (Gao et al. 2024): ``f = TopK(ReLU((x - b_dec) W_enc + b_enc))``,
``x_hat = f W_dec + b_dec`` with the decoder bias tied (subtracted before encoding), decoder rows
kept at unit norm after every Adam step, and inputs scaled so their mean squared norm is ``d_model``
(the scale is stored and undone on decoding). TopK fixes L0 at k by construction, so no L1
coefficient is tuned. Everything is seeded (:class:`~thinking_sparks.plan.SaePlan`), deterministic on CPU.

:func:`layer_saes` trains all layers' SAEs and measures each on held-out problems (cached):
fraction of variance explained, L0, and the next-token KL with the SAE's reconstruction spliced
in place of the residual (with the KL score ``1 - KL_spliced / KL_zero`` that decides use).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from thinking_sparks.cache import cached
from thinking_sparks.emergence.device import load_kept
from thinking_sparks.models import fingerprint, resolve_spec
from thinking_sparks.organism.chat import messages, think_reply
from thinking_sparks.organism.task import make_problems
from thinking_sparks.plan import PLAN, SaePlan

log = logging.getLogger(__name__)

__all__ = ["Sae", "SaeSet", "decode", "encode", "layer_saes", "residuals", "spliced", "task_sequences", "train_sae"]


@dataclass
class Sae:
    """One layer's SAE (float32 numpy): ``w_enc [D, F]``, ``b_enc [F]``, ``w_dec [F, D]`` (unit rows),
    ``b_dec [D]``; ``scale``: inputs are multiplied by it before encoding; ``k``: active features."""

    w_enc: np.ndarray
    b_enc: np.ndarray
    w_dec: np.ndarray
    b_dec: np.ndarray
    scale: float
    k: int

    def tensors(self, device="cpu") -> tuple[Tensor, ...]:
        return tuple(torch.as_tensor(a, device=device) for a in (self.w_enc, self.b_enc, self.w_dec, self.b_dec))


def encode(sae: Sae, x: Tensor) -> Tensor:
    """``x [..., D]`` (model units) -> feature activations ``[..., F]`` (at most ``k`` nonzero)."""
    w_enc, b_enc, _, b_dec = sae.tensors(x.device)
    return _encode(x.float() * sae.scale, w_enc, b_enc, b_dec, sae.k)


def decode(sae: Sae, f: Tensor) -> Tensor:
    """Features ``[..., F]`` -> reconstruction ``[..., D]`` in model units."""
    _, _, w_dec, b_dec = sae.tensors(f.device)
    return (f @ w_dec + b_dec) / sae.scale


def _encode(x: Tensor, w_enc: Tensor, b_enc: Tensor, b_dec: Tensor, k: int) -> Tensor:
    pre = torch.relu((x - b_dec) @ w_enc + b_enc)
    top = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter_(-1, top.indices, top.values)


def train_sae(acts: Tensor, plan: SaePlan, seed: int) -> tuple[Sae, list[float]]:
    """Train a TopK SAE on ``acts [N, D]`` (model units) with Adam; returns it and the normalised
    MSE (``||x - x_hat||^2 / ||x - mean||^2``, scaled units) of every ``plan.log_every``-th batch."""
    if acts.dim() != 2 or acts.shape[0] < 2:
        raise ValueError(f"train_sae needs activations [N >= 2, D], got {tuple(acts.shape)}")
    gen = torch.Generator().manual_seed(seed)
    x_all = acts.detach().float().cpu()
    n, d = x_all.shape
    n_feat = plan.dict_factor * d
    scale = float((d / x_all.pow(2).sum(1).mean()).sqrt())
    x_all = x_all * scale
    w_dec = torch.randn(n_feat, d, generator=gen)
    w_dec /= w_dec.norm(dim=1, keepdim=True)
    params = {"w_enc": w_dec.t().clone(), "b_enc": torch.zeros(n_feat), "w_dec": w_dec,
              "b_dec": x_all.mean(0).clone()}
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.Adam(params.values(), lr=plan.lr)
    var = (x_all - x_all.mean(0)).pow(2).sum(1).mean()
    curve = []
    for step in range(plan.steps):
        x = x_all[torch.randint(0, n, (min(plan.batch, n),), generator=gen)]
        f = _encode(x, params["w_enc"], params["b_enc"], params["b_dec"], plan.k)
        err = (f @ params["w_dec"] + params["b_dec"] - x).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        err.backward()
        opt.step()
        with torch.no_grad():
            params["w_dec"] /= params["w_dec"].norm(dim=1, keepdim=True).clamp(min=1e-8)
        if step % plan.log_every == 0 or step == plan.steps - 1:
            curve.append(float(err.detach() / var))
    out = {k: v.detach().numpy().astype(np.float32) for k, v in params.items()}
    return Sae(out["w_enc"], out["b_enc"], out["w_dec"], out["b_dec"], scale, plan.k), curve


def task_sequences(tokenizer, n: int, seed: int, plan: SaePlan) -> list[list[int]]:
    """Token ids of ``n`` worked training-split problems in the chat format (question, then the
    reasoning reply), levels drawn uniformly from ``plan.levels``."""
    out = []
    for p in make_problems(n, plan.levels, seed, split="train"):
        chat = messages(p.question) + [{"role": "assistant", "content": think_reply(p.solution, p.answer)}]
        ids = tokenizer.apply_chat_template(chat, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        out.append([int(t) for t in ids])
    return out


def _batches(seqs: list[list[int]], size: int):
    for i in range(0, len(seqs), size):
        chunk = seqs[i:i + size]
        width = max(map(len, chunk))
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        valid = torch.zeros(len(chunk), width, dtype=torch.bool)
        for j, s in enumerate(chunk):
            ids[j, :len(s)] = torch.tensor(s)
            valid[j, :len(s)] = True
        yield ids, valid  # right-padded: causal attention keeps pads out of real positions


def _out(o):
    return o[0] if isinstance(o, tuple) else o


def decoder_layers(hf) -> list:
    return list(hf.model.layers)


@torch.no_grad()
def residuals(hf, seqs: list[list[int]], batch: int) -> list[Tensor]:
    """Every layer's output residual at every real token of ``seqs``: ``n_layers x [tokens, D]``."""
    layers = decoder_layers(hf)
    keep: list[list[Tensor]] = [[] for _ in layers]
    dev = next(hf.parameters()).device
    for ids, valid in _batches(seqs, batch):
        store: dict[int, Tensor] = {}
        hooks = [m.register_forward_hook(lambda _m, _i, o, li=li, s=store: s.__setitem__(li, _out(o)))
                 for li, m in enumerate(layers)]
        try:
            hf(input_ids=ids.to(dev))
        finally:
            for h in hooks:
                h.remove()
        for li in range(len(layers)):
            keep[li].append(store[li][valid.to(dev)].float().cpu())
    return [torch.cat(k) for k in keep]


@contextlib.contextmanager
def spliced(hf, layer: int, replace):
    """Within the block, layer ``layer``'s output residual ``[b, p, D]`` is replaced by ``replace(x)``."""
    def hook(_m, _i, o):
        if isinstance(o, tuple):
            return (replace(o[0]).to(o[0].dtype), *o[1:])
        return replace(o).to(o.dtype)

    h = decoder_layers(hf)[layer].register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()


@torch.no_grad()
def _splice_quality(hf, seqs: list[list[int]], layer: int, sae: Sae, batch: int) -> dict[str, float]:
    """Mean next-token KL(clean || spliced) and KL(clean || zeroed) over real tokens, and the share of
    tokens whose top-1 prediction the splice changes."""
    dev = next(hf.parameters()).device
    kl_s = kl_z = changed = 0.0
    n = 0
    for ids, valid in _batches(seqs, batch):
        ids, v = ids.to(dev), valid.to(dev)
        ref = torch.log_softmax(hf(input_ids=ids).logits.float(), -1)[v]
        with spliced(hf, layer, lambda x: decode(sae, encode(sae, x))):
            sp = torch.log_softmax(hf(input_ids=ids).logits.float(), -1)[v]
        with spliced(hf, layer, torch.zeros_like):
            zp = torch.log_softmax(hf(input_ids=ids).logits.float(), -1)[v]
        p = ref.exp()
        kl_s += float((p * (ref - sp)).sum())
        kl_z += float((p * (ref - zp)).sum())
        changed += float((ref.argmax(-1) != sp.argmax(-1)).sum())
        n += int(v.sum())
    return {"kl": kl_s / n, "kl_zero": kl_z / n, "top1_changed": changed / n}


@dataclass
class SaeSet:
    """All layers' SAEs of one model and their quality.

    Attributes:
        spec: the model the SAEs were trained on.
        saes: one :class:`Sae` per layer (layer order).
        quality: per layer: ``layer, fve`` (fraction of variance explained, held-out tokens),
            ``l0`` (mean active features), ``dead`` (share of features never active on held-out
            tokens), ``kl`` (next-token KL with the reconstruction spliced in), ``kl_zero`` (with the
            residual zeroed), ``kl_score`` (1 - kl / kl_zero), ``top1_changed``, ``used`` (kl_score at
            least ``plan.min_kl_score``), ``seconds`` (training), ``final_nmse``.
        train_tokens, heldout_tokens: tokens trained on / measured on.
    """

    spec: str
    saes: list[Sae]
    quality: pd.DataFrame
    train_tokens: int
    heldout_tokens: int

    @property
    def used(self) -> list[bool]:
        return [bool(u) for u in self.quality.used]


def _key(spec: str, plan: SaePlan) -> dict:
    where = resolve_spec(spec)
    return {"spec": spec, "fingerprint": fingerprint(where) if not isinstance(where, str) else where,
            "plan": asdict(plan), "trainer": "topk-tied-bdec-v1"}


@cached("sae-layers", key=_key)
def layer_saes(spec: str, plan: SaePlan = PLAN.sae) -> SaeSet:
    """Train one SAE per layer of ``spec`` on its residuals over ``plan.train_problems`` worked
    problems (seed ``plan.seed``), measured on ``plan.heldout_problems`` others (seed + 1)."""
    lm = load_kept(spec)
    hf = lm.hf_model
    train = task_sequences(lm.tokenizer, plan.train_problems, plan.seed, plan)
    held = task_sequences(lm.tokenizer, plan.heldout_problems, plan.seed + 1, plan)
    acts, hacts = residuals(hf, train, plan.forward_batch), residuals(hf, held, plan.forward_batch)
    saes, rows = [], []
    for li, (x, hx) in enumerate(zip(acts, hacts)):
        t0 = time.perf_counter()
        sae, curve = train_sae(x, plan, plan.seed + li)
        secs = time.perf_counter() - t0
        f = encode(sae, hx)
        rec = decode(sae, f)
        fve = 1 - float((hx - rec).pow(2).sum() / (hx - hx.mean(0)).pow(2).sum())
        q = _splice_quality(hf, held, li, sae, plan.forward_batch)
        rows.append({"layer": li, "fve": fve, "l0": float((f > 0).float().sum(-1).mean()),
                     "dead": float(((f > 0).sum(0) == 0).float().mean()), **q,
                     "kl_score": 1 - q["kl"] / q["kl_zero"] if q["kl_zero"] > 0 else float("nan"),
                     "seconds": round(secs, 3), "final_nmse": curve[-1]})
        log.info("SAE layer %d: fve %.3f, L0 %.1f, KL %.4f (%.1f s)", li, fve, rows[-1]["l0"], q["kl"], secs)
        saes.append(sae)
    quality = pd.DataFrame(rows)
    quality["used"] = quality.kl_score >= plan.min_kl_score
    return SaeSet(spec, saes, quality, int(sum(map(len, train))), int(sum(map(len, held))))
