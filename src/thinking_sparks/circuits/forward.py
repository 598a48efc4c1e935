"""A functional forward pass over a TransformerBridge's weights, built for edge attribution.

Why not hooks: EAP needs (a) every head's own write into the residual stream, (b) the gradient of
the loss w.r.t. each head's *own* q / k / v input and each MLP's own input, and (c) for patching,
a different residual input per destination.  Hooks on the bridge can do (a), but (b) and (c) need
the residual stream split per head.  So attention is recomputed here from the bridge's weights
(q/k/v/o projections, optional q/k norms as in Qwen3, RoPE from the model's own rotary module,
eager causal softmax); embeddings, norms, MLPs and unembedding use the same weights.  The tests
check that logits equal the bridge's to float tolerance.

Supported: Llama-family decoders (Llama, Qwen2, Qwen3, SmolLM2, Mistral) with RMSNorm.  Anything
else raises ``ValueError``.  Attention here is full causal attention; a model with sliding-window
attention (Mistral's configs set ``sliding_window`` without a ``use_sliding_window`` switch; Qwen2's
set both) computes the same thing only on inputs that fit in the window, so longer inputs are
refused (see :func:`sliding_window`).

Three modes of :meth:`CircuitModel.run`:
* ``record``: also return every source node's output ``[batch, pos, n_src, d_model]``.
* ``capture``: keep tensors to differentiate: per-head q / k / v projections
  ``[batch, pos, 3H, d_head]`` (k / v expanded per query head) and an alias of each MLP's and the
  logits' input ``[batch, pos, d_model]``; :class:`~.grads.DstGradAccumulator` turns their
  gradients into gradients w.r.t. each destination's residual input.
* ``patch``: every destination reads its own residual input ``resid + sum_u M[u, dst] * offset_u``
  (used by exact patching and faithfulness; see :class:`Patch`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from transformers.activations import ACT2FN

from thinking_sparks.circuits.graph import Graph
from thinking_sparks.circuits.weights import (
    LayerWeights,
    bias_of,
    eps_of,
    orig,
    rms_norm,
    rotate_half,
    sliding_window,
    weight_of,
)


@dataclass
class Patch:
    """Per-destination input offsets for a patched forward.

    Destination ``j`` reads ``resid + sum_u mask[u, j] * (target[u] - current[u])`` where
    ``current`` is source ``u``'s output in this run and ``target`` a fixed tensor (usually the
    corrupted run's outputs).  ``mask`` is ``[n_src, n_dst]`` (0/1 float), ``target`` is
    ``[batch, pos, n_src, d_model]``.  ``mask`` may also be ``[batch, n_src, n_dst]`` (one patch
    per example; exact patching stacks many single-edge patches along the batch).
    """

    mask: Tensor
    target: Tensor

    def touches(self, dst) -> bool:
        """Whether any edge into destination(s) ``dst`` (an index or slice) is patched."""
        return bool(self.mask[..., dst].any())

    def offsets(self, diff: Tensor, src: slice, dst) -> Tensor:
        """``diff`` [b, p, s, D] -> offsets ``[b, p, n, D]`` (slice ``dst``) or ``[b, p, D]`` (int)."""
        m = self.mask.to(diff.dtype)
        if m.dim() == 2:
            m = m[src, dst]
            return torch.einsum("bpsd,sn->bpnd" if m.dim() == 2 else "bpsd,s->bpd", diff, m)
        m = m[:, src, dst]
        return torch.einsum("bpsd,bsn->bpnd" if m.dim() == 3 else "bpsd,bs->bpd", diff, m)


@dataclass
class RunOutput:
    logits: Tensor  # [batch, pos, vocab]
    sources: Tensor | None = None  # [batch, pos, n_src, d_model] (record mode)
    captured: dict[str, list[Tensor]] | None = None  # capture mode


class CircuitModel:
    """Weights of a Llama-family model (a ``LoadedModel``'s plain HF model, a TransformerBridge or an
    HF model), plus the functional forward."""

    def __init__(self, model, gqa: str = "ungrouped") -> None:
        # a LoadedModel's plain HF model holds the same weights as its bridge, which is not built here
        plain = getattr(model, "hf_model", None)
        bridge = plain if plain is not None else getattr(model, "bridge", model)
        hf = getattr(bridge, "original_model", bridge)
        cfg = hf.config
        if not hasattr(hf, "model") or not hasattr(hf.model, "layers"):
            raise ValueError(f"unsupported architecture {type(hf).__name__}: expected model.layers")
        self.window = sliding_window(cfg)
        inner = hf.model
        self.config = cfg
        self.n_layers = cfg.num_hidden_layers
        self.n_heads = cfg.num_attention_heads
        self.n_kv_heads = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.d_model = cfg.hidden_size
        self.d_head = getattr(cfg, "head_dim", None) or self.d_model // self.n_heads
        self.vocab = cfg.vocab_size
        self.graph = Graph(self.n_layers, self.n_heads, self.n_kv_heads, gqa)
        self.embed_w = weight_of(inner.embed_tokens)
        self.device = self.embed_w.device
        self.dtype = self.embed_w.dtype
        self.rotary = inner.rotary_emb
        self.final_norm = weight_of(inner.norm)
        self.final_eps = eps_of(inner.norm)
        self.lm_head = weight_of(hf.lm_head)
        self.lm_bias = bias_of(hf.lm_head)
        H, G, dh, D = self.n_heads, self.n_kv_heads, self.d_head, self.d_model
        self.layers: list[LayerWeights] = []
        for layer in inner.layers:
            layer = orig(layer)
            attn = orig(layer.self_attn)
            for name in ("input_layernorm", "post_attention_layernorm"):
                if "RMSNorm" not in type(orig(getattr(layer, name))).__name__:
                    raise ValueError(f"unsupported norm {type(orig(getattr(layer, name))).__name__}")
            if hasattr(layer, "pre_feedforward_layernorm"):
                raise ValueError("sandwich-norm architectures (Gemma) are not supported")

            def split(t, n):
                return None if t is None else t.reshape(n, dh, *t.shape[1:])

            qn = getattr(attn, "q_norm", None)
            kn = getattr(attn, "k_norm", None)
            self.layers.append(
                LayerWeights(
                    ln1=weight_of(layer.input_layernorm),
                    ln1_eps=eps_of(layer.input_layernorm),
                    wq=split(weight_of(attn.q_proj), H),
                    bq=split(bias_of(attn.q_proj), H),
                    wk=split(weight_of(attn.k_proj), G),
                    bk=split(bias_of(attn.k_proj), G),
                    wv=split(weight_of(attn.v_proj), G),
                    bv=split(bias_of(attn.v_proj), G),
                    wo=weight_of(attn.o_proj).reshape(D, H, dh).permute(1, 0, 2).contiguous(),
                    bo=bias_of(attn.o_proj),
                    q_norm=None if qn is None else (weight_of(qn), eps_of(qn)),
                    k_norm=None if kn is None else (weight_of(kn), eps_of(kn)),
                    ln2=weight_of(layer.post_attention_layernorm),
                    ln2_eps=eps_of(layer.post_attention_layernorm),
                    mlp=orig(layer.mlp),
                    wo_flat=weight_of(attn.o_proj),
                )
            )
        for lw in self.layers:
            H_, G_ = self.n_heads, self.n_kv_heads
            lw.w_qkv = torch.cat([lw.wq.reshape(H_ * dh, D), lw.wk.reshape(G_ * dh, D), lw.wv.reshape(G_ * dh, D)])
            if not (lw.bq is None and lw.bk is None and lw.bv is None):
                parts = [lw.bq, lw.bk, lw.bv]
                sizes = [H_, G_, G_]
                lw.b_qkv = torch.cat([torch.zeros(n * dh, dtype=self.dtype, device=self.device) if t is None
                                      else t.reshape(-1) for t, n in zip(parts, sizes, strict=True)])
        self.scaling = float(getattr(orig(orig(inner.layers[0]).self_attn), "scaling", dh**-0.5))
        self._mlp_fns = [self._make_mlp(lw.mlp) for lw in self.layers]

    def _make_mlp(self, mlp):
        """Plain-tensor MLP (skips bridge hook overhead); falls back to calling the module."""
        try:
            gate, up, down = (orig(getattr(mlp, n)) for n in ("gate_proj", "up_proj", "down_proj"))
            act = ACT2FN[self.config.hidden_act]
        except (AttributeError, KeyError):
            return mlp
        wg, wu, wd = gate.weight.detach(), up.weight.detach(), down.weight.detach()
        bg, bu, bd = (None if m.bias is None else m.bias.detach() for m in (gate, up, down))

        def fn(x: Tensor) -> Tensor:
            return torch.nn.functional.linear(
                act(torch.nn.functional.linear(x, wg, bg)) * torch.nn.functional.linear(x, wu, bu), wd, bd
            )

        return fn

    # -- pieces -------------------------------------------------------------------------------
    def embed(self, ids: Tensor) -> Tensor:
        """``[batch, pos]`` token ids -> ``[batch, pos, d_model]`` embeddings."""
        if ids.max() >= self.vocab or ids.min() < 0:
            raise ValueError(f"token id out of range [0, {self.vocab})")
        return torch.nn.functional.embedding(ids.to(self.device), self.embed_w)

    def rope(self, x: Tensor, n_pos: int) -> tuple[Tensor, Tensor]:
        pos = torch.arange(n_pos, device=x.device).unsqueeze(0)
        cos, sin = self.rotary(x, pos)
        return cos.unsqueeze(2).to(x.dtype), sin.unsqueeze(2).to(x.dtype)  # [1, pos, 1, dh]

    def unembed(self, resid: Tensor) -> Tensor:
        h = rms_norm(resid, self.final_norm, self.final_eps)
        return torch.nn.functional.linear(h, self.lm_head, self.lm_bias)

    def _attention(self, lw: LayerWeights, q: Tensor, k: Tensor, v: Tensor, cos, sin,
                   past: tuple[Tensor, Tensor] | None = None, kv_out: list | None = None) -> Tensor:
        """q, k, v: pre-norm projections ``[batch, pos, H, dh]`` (k, v already per query head).
        ``past``: keys (normed, rotated) and values ``[batch, s, H, dh]`` of ``s`` earlier positions
        the queries also attend to; ``kv_out``: gets this layer's (keys, values) appended.
        Returns z ``[batch, pos, H, dh]``."""
        if lw.q_norm is not None:
            q = rms_norm(q, *lw.q_norm)
        if lw.k_norm is not None:
            k = rms_norm(k, *lw.k_norm)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kv_out is not None:
            kv_out.append((k.detach(), v.detach()))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=1), torch.cat([past[1], v], dim=1)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [b, H, p, dh]
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scaling
        pq, p = scores.shape[-2:]
        causal = torch.ones(pq, p, dtype=torch.bool, device=q.device).triu(p - pq + 1)
        scores = scores.masked_fill(causal, torch.finfo(scores.dtype).min)
        pattern = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        return torch.matmul(pattern, v).transpose(1, 2)  # [b, p, H, dh]

    @staticmethod
    def _proj_split(n: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        """Per-head input ``n`` [b, p, n_heads, D] -> ``[b, p, n_heads, dh]``."""
        out = torch.einsum("bphd,hed->bphe", n, w)
        return out if b is None else out + b

    def _expand_kv(self, t: Tensor) -> Tensor:
        """``[b, p, G, dh]`` -> ``[b, p, H, dh]`` (query head h reads KV group h // group)."""
        rep = self.n_heads // self.n_kv_heads
        return t if rep == 1 else t.repeat_interleave(rep, dim=2)

    def head_outputs(self, lw: LayerWeights, z: Tensor) -> Tensor:
        """Per-head writes into the residual: ``[b, p, H, dh] -> [b, p, H, D]``."""
        return torch.einsum("bphe,hde->bphd", z, lw.wo)

    # -- the forward ---------------------------------------------------------------------------
    def run(
        self,
        emb: Tensor,
        *,
        record: bool = False,
        capture: bool = False,
        patch: Patch | None = None,
        override=None,
        positions: Tensor | None = None,
        start: int = 0,
        past: list[tuple[Tensor, Tensor]] | None = None,
        kv_out: list | None = None,
    ) -> RunOutput:
        """Forward from input embeddings ``emb`` [batch, pos, d_model].

        ``start``, ``past``: ``emb`` holds positions ``start ..`` of the inputs, whose first
        ``start`` positions' per-layer keys and values ``past`` (from ``kv_out`` of an earlier run)
        are attended to as they are (no patch or override then); ``kv_out``: a list that gets each
        layer's keys (normed, rotated) and values ``[batch, pos, H, dh]``.

        ``override(start, outs)`` (optional) maps the source outputs ``outs`` [b, p, n, D] with
        source indices ``start..start+n-1`` to the values actually written into the residual
        (EAP-IG-activations uses a straight-through interpolation here).
        ``positions`` (``[n]`` long, optional): compute logits only at these positions.
        """
        g = self.graph
        b, p, _ = emb.shape
        if self.window is not None and start + p > self.window:
            raise ValueError(f"input of {p} positions is longer than the model's sliding attention window "
                             f"({self.window}); the circuit engine computes full causal attention, which equals "
                             "the model's only within the window: use shorter pairs")
        if start and (past is None or patch is not None or override is not None):
            raise ValueError("a run from position start > 0 needs past keys and values, and no patch or override")
        H, G = self.n_heads, self.n_kv_heads
        cos, sin = self.rope(emb, start + p)
        if start:
            cos, sin = cos[:, start:], sin[:, start:]
        need_sources = record or patch is not None or override is not None
        split_heads = patch is not None or override is not None  # residual built from per-head outputs
        sources: list[Tensor] = []
        captured: dict[str, list[Tensor]] = {"qkv": [], "mlp": [], "logits": [], "resid": []}

        def push(start: int, outs: Tensor) -> Tensor:
            if override is not None:
                outs = override(start, outs)
            if need_sources:
                sources.append(outs)
            return outs

        if override is not None:
            emb = override(0, emb.unsqueeze(2)).squeeze(2)
        if need_sources:
            sources.append(emb.detach().unsqueeze(2) if not split_heads else emb.unsqueeze(2))
        resid = emb
        offsets = None
        for li, lw in enumerate(self.layers):
            if patch is not None and patch.touches(g.attn_dst_slice(li)):
                n_up = g.n_upstream_attn(li)
                cur = torch.cat(sources, dim=2)  # [b, p, n_up, D]
                diff = patch.target[:, :, :n_up].to(cur.dtype) - cur
                sl = g.attn_dst_slice(li)
                offsets = patch.offsets(diff, slice(0, n_up), sl)
                x = resid.unsqueeze(2) + offsets  # [b, p, H + 2K, D]
                n = rms_norm(x, lw.ln1, lw.ln1_eps)
                K = g.n_kv_inputs
                nq, nk, nv = n[:, :, :H], n[:, :, H : H + K], n[:, :, H + K :]
                q = self._proj_split(nq, lw.wq, lw.bq)
                if g.gqa == "ungrouped":
                    idx = torch.arange(H, device=emb.device) // (H // G)
                    k = self._proj_split(nk, lw.wk[idx], None if lw.bk is None else lw.bk[idx])
                    v = self._proj_split(nv, lw.wv[idx], None if lw.bv is None else lw.bv[idx])
                else:
                    k = self._expand_kv(self._proj_split(nk, lw.wk, lw.bk))
                    v = self._expand_kv(self._proj_split(nv, lw.wv, lw.bv))
            else:
                if capture:
                    captured["resid"].append(resid.detach())
                n = rms_norm(resid, lw.ln1, lw.ln1_eps)
                qkv = torch.nn.functional.linear(n, lw.w_qkv, lw.b_qkv).view(b, p, H + 2 * G, -1)
                q, k, v = qkv.split([H, G, G], dim=2)
                k, v = self._expand_kv(k), self._expand_kv(v)
                if capture:  # one tensor per layer: q, k, v per query head [b, p, 3H, dh]
                    qkv_h = torch.cat([q, k, v], dim=2)
                    captured["qkv"].append(qkv_h)
                    q, k, v = qkv_h.split([H, H, H], dim=2)
            z = self._attention(lw, q, k, v, cos, sin, None if past is None else past[li], kv_out)
            if split_heads:
                attn_out = push(g.head_src(li, 0), self.head_outputs(lw, z)).sum(2)
            elif record and not capture:  # no-grad record: the per-head writes sum to o_proj's output
                heads = self.head_outputs(lw, z)
                sources.append(heads)
                attn_out = heads.sum(2)
            else:
                attn_out = torch.nn.functional.linear(z.reshape(b, p, -1), lw.wo_flat)
                if record:
                    with torch.no_grad():
                        sources.append(self.head_outputs(lw, z.detach()))
            if lw.bo is not None:
                attn_out = attn_out + lw.bo
            resid = resid + attn_out
            if patch is not None and patch.touches(g.mlp_dst(li)):
                n_up = g.n_upstream_mlp(li)
                cur = torch.cat(sources, dim=2)
                diff = patch.target[:, :, :n_up].to(cur.dtype) - cur
                off = patch.offsets(diff, slice(0, n_up), g.mlp_dst(li))
                mlp_in = resid + off
            else:
                mlp_in = resid.view_as(resid) if capture else resid
                if capture:
                    captured["mlp"].append(mlp_in)
            mlp_out = self._mlp_fns[li](rms_norm(mlp_in, lw.ln2, lw.ln2_eps))
            if split_heads:
                mlp_out = push(g.mlp_src(li), mlp_out.unsqueeze(2)).squeeze(2)
            elif record:
                sources.append(mlp_out.detach().unsqueeze(2))
            resid = resid + mlp_out
        if patch is not None and patch.touches(g.logits_dst):
            cur = torch.cat(sources, dim=2)
            diff = patch.target.to(cur.dtype) - cur
            resid = resid + patch.offsets(diff, slice(None), g.logits_dst)
        elif capture:
            resid = resid.view_as(resid)
            captured["logits"].append(resid)
        logits = self.unembed(resid if positions is None else resid[:, positions])
        return RunOutput(
            logits=logits,
            sources=torch.cat(sources, dim=2) if record else None,
            captured=captured if capture else None,
        )
