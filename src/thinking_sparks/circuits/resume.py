"""Resuming a cached forward from one layer: the fast path of exact head patching.

A head patch changes nothing before its layer, so :func:`trace` runs the unpatched input once and
keeps every layer's input residual and per-head ``z``; :func:`resume` then starts at the patched
layer for many stacked patches at once.  Two more savings, both exact:

* **Shared prefix.**  Where the clean and corrupted inputs agree token for token from the first
  position (a chat model's system prompt and the question, before the two prompting styles'
  instructions part), every activation is identical in both runs, so no patch can change them.
  :func:`shared_prefix` finds that length ``s`` (capped at the first read position) and the
  patched forwards compute only the positions from ``s`` on, their queries attending to the cached
  keys and values of the prefix (:func:`prefix_kv`).
* **Tail.**  Positions after the last read position cannot influence the read logits (causal
  attention), so they are not computed.

Measured on SmolLM2-135M-Instruct's style pairs (70 positions, 32 shared, read at 54..68; 4 pairs,
the 18 heads of layers 0 and 15, second of two repetitions on a loaded 2-core machine): 37 CPU-s
with the shortcut, 61 without, identical effects.

Shapes: ``b`` pairs, ``p`` positions, ``D`` model width, ``H`` query heads, ``G`` KV heads, ``dh``
head width; ``n`` stacked patches make ``n b`` rows (block-major: block ``j`` is rows
``j b .. j b + b - 1``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.weights import rms_norm, rotate_half

__all__ = ["attn_z", "finish", "prefix_kv", "resume", "shared_prefix", "trace"]

Run = tuple[list[Tensor], list[Tensor], tuple[Tensor, Tensor]]


def attn_z(cm: CircuitModel, li: int, resid: Tensor, rope) -> Tensor:
    """Layer ``li``'s per-head attention outputs (hook_z) ``[b, p, H, dh]`` from ``resid`` ``[b, p, D]``."""
    lw, (b, p, _) = cm.layers[li], resid.shape
    H, G = cm.n_heads, cm.n_kv_heads
    qkv = torch.nn.functional.linear(rms_norm(resid, lw.ln1, lw.ln1_eps), lw.w_qkv, lw.b_qkv).view(b, p, H + 2 * G, -1)
    q, k, v = qkv.split([H, G, G], dim=2)
    return cm._attention(lw, q, cm._expand_kv(k), cm._expand_kv(v), *rope)


def finish(cm: CircuitModel, li: int, resid: Tensor, z: Tensor) -> Tensor:
    """The residual after layer ``li`` given its input ``resid`` and its heads' ``z``."""
    lw = cm.layers[li]
    attn = torch.nn.functional.linear(z.flatten(2), lw.wo_flat)
    resid = resid + (attn if lw.bo is None else attn + lw.bo)
    return resid + cm._mlp_fns[li](rms_norm(resid, lw.ln2, lw.ln2_eps))


def trace(cm: CircuitModel, emb: Tensor) -> Run:
    """One plain run: each layer's input residual ``[b, p, D]`` and z ``[b, p, H, dh]``, and the RoPE."""
    rope = cm.rope(emb, emb.shape[1])
    resid, rs, zs = emb, [], []
    for li in range(cm.n_layers):
        rs.append(resid)
        zs.append(attn_z(cm, li, resid, rope))
        resid = finish(cm, li, resid, zs[-1])
    return rs, zs, rope


def shared_prefix(clean: Tensor, corrupted: Tensor, cols: Tensor) -> int:
    """Leading positions where every row of ``clean`` and ``corrupted`` (``[b, p]`` token ids)
    agree, at most the first read position ``min(cols)``."""
    same = (clean == corrupted).int().cumprod(1).sum(1)
    return int(min(int(same.min()), int(cols.min())))


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin


def prefix_kv(cm: CircuitModel, run: Run, s: int) -> list[tuple[Tensor, Tensor]]:
    """Per layer, the keys (normed, rotated) and values ``[b, s, G, dh]`` of the first ``s``
    positions of ``run`` (identical in every patched run: see the module docstring)."""
    rs, _, (cos, sin) = run
    H, G = cm.n_heads, cm.n_kv_heads
    out = []
    for li, lw in enumerate(cm.layers):
        x = rs[li][:, :s]
        qkv = torch.nn.functional.linear(rms_norm(x, lw.ln1, lw.ln1_eps), lw.w_qkv, lw.b_qkv)
        _, k, v = qkv.view(x.shape[0], s, H + 2 * G, -1).split([H, G, G], dim=2)
        if lw.k_norm is not None:
            k = rms_norm(k, *lw.k_norm)
        out.append((_rotate(k, cos[:, :s], sin[:, :s]), v))
    return out


def _suffix_z(cm: CircuitModel, li: int, resid: Tensor, pkv: tuple[Tensor, Tensor], rope, s: int) -> Tensor:
    """z ``[n b, q, H, dh]`` of layer ``li`` at positions ``s .. s + q - 1`` from their residual
    ``resid`` ``[n b, q, D]``, the queries attending to the prefix's cached ``pkv`` as well."""
    lw, (nb, q_len, _) = cm.layers[li], resid.shape
    H, G = cm.n_heads, cm.n_kv_heads
    qkv = torch.nn.functional.linear(rms_norm(resid, lw.ln1, lw.ln1_eps), lw.w_qkv, lw.b_qkv)
    q, k, v = qkv.view(nb, q_len, H + 2 * G, -1).split([H, G, G], dim=2)
    if lw.q_norm is not None:
        q = rms_norm(q, *lw.q_norm)
    if lw.k_norm is not None:
        k = rms_norm(k, *lw.k_norm)
    cos, sin = (t[:, s : s + q_len] for t in rope)
    q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
    if s:
        n = nb // pkv[0].shape[0]
        k = torch.cat([pkv[0].repeat(n, 1, 1, 1), k], 1)
        v = torch.cat([pkv[1].repeat(n, 1, 1, 1), v], 1)
    q, k, v = (t.transpose(1, 2) for t in (q, cm._expand_kv(k), cm._expand_kv(v)))  # [nb, H, len, dh]
    scores = torch.matmul(q, k.transpose(-1, -2)) * cm.scaling
    causal = torch.ones(q_len, s + q_len, dtype=torch.bool, device=q.device).triu(s + 1)
    scores = scores.masked_fill(causal, torch.finfo(scores.dtype).min)
    pattern = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(pattern, v).transpose(1, 2)


def resume(cm: CircuitModel, run: Run, other: Run, layer: int, heads: Tensor, cols: Tensor, s: int = 0,
           pkv: list[tuple[Tensor, Tensor]] | None = None) -> Tensor:
    """Logits ``[n b, len(cols), vocab]`` of ``run`` with, in stacked row ``i``, the z of the heads
    ``heads[i]`` (``[n b, H]`` bool) of ``layer`` taken from ``other``; layers before it are reused,
    and only positions ``s .. max(cols)`` are computed (``pkv``: :func:`prefix_kv` of ``run`` at
    ``s``, needed when ``s > 0``)."""
    rs, zs, rope = run
    n = heads.shape[0] // rs[0].shape[0]
    e = int(cols.max()) + 1
    if s and pkv is None:
        raise ValueError("resume from a shared prefix needs its cached keys and values (prefix_kv)")
    z = torch.where(heads[:, None, :, None], other[1][layer][:, s:e].repeat(n, 1, 1, 1),
                    zs[layer][:, s:e].repeat(n, 1, 1, 1))
    resid = finish(cm, layer, rs[layer][:, s:e].repeat(n, 1, 1), z)
    for li in range(layer + 1, cm.n_layers):
        resid = finish(cm, li, resid, _suffix_z(cm, li, resid, pkv[li] if s else None, rope, s))
    return cm.unembed(resid[:, cols - s])
