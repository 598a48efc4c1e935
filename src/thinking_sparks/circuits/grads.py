"""Gradients w.r.t. every destination's own residual input, accumulated over gradient runs.

Head h's q (k, v) input is the residual ``x`` seen through ``RMSNorm`` and head h's slice of
q_proj only.  With ``n = w * x * r``, ``r = rsqrt(mean(x^2) + eps)``, ``q_h = W_h n + b_h`` and
``g = dL/dq_h`` (captured per head; k / v per *query* head, i.e. after the GQA expansion)::

    dL/dx (through head h's q) = (r g) (W_h * w)  -  (r^2 / D) <g, q_h - b_h> x

(the RMSNorm vector-Jacobian product, using ``<g W_h, w * x> = <g, q_h - b_h> / r``).  Over IG
steps k the first term is linear in ``r_k g_k`` with fixed weights, so we accumulate
``A = sum_k w_k r_k g_k`` in d_head space and multiply by the weights once; the second term is a
sum of m rank-one terms ``c_k x_k``.  Per step this costs a few small d_head-sized tensor ops on
top of the backward pass.  MLP and logits inputs are captured directly (aliases of the residual).
Grouped GQA k / v destinations are the sums over their query heads (exact, by linearity).
"""

from __future__ import annotations

import torch
from torch import Tensor

from thinking_sparks.circuits.forward import CircuitModel


def folded_qkv_weights(cm: CircuitModel) -> tuple[list[Tensor], list[Tensor | None]]:
    """Per layer: q, k, v weights per query head with the ln1 weight folded in ``[3H, dh, D]``
    (float32) and the matching biases ``[3H, dh]`` (None without biases). Cached on ``cm``."""
    cached = getattr(cm, "_folded_qkv", None)
    if cached is not None:
        return cached
    H, G = cm.n_heads, cm.n_kv_heads
    idx = torch.arange(H, device=cm.device) // (H // G)
    ws, bs = [], []
    for lw in cm.layers:
        ws.append(torch.cat([lw.wq, lw.wk[idx], lw.wv[idx]], dim=0).float() * lw.ln1.float())
        if lw.bq is None and lw.bk is None and lw.bv is None:
            bs.append(None)
            continue
        zeros = torch.zeros(H, cm.d_head, device=cm.device, dtype=torch.float32)
        parts = [lw.bq, None if lw.bk is None else lw.bk[idx], None if lw.bv is None else lw.bv[idx]]
        bs.append(torch.cat([zeros if t is None else t.float() for t in parts], dim=0))
    cm._folded_qkv = (ws, bs)
    return ws, bs


class DstGradAccumulator:
    """``add`` once per gradient run, then read ``layer_grads(l)`` / ``logits_grad()``."""

    def __init__(self, cm: CircuitModel) -> None:
        self.cm = cm
        self.w_all, self.b_all = folded_qkv_weights(cm)
        self.A: list[Tensor | None] = [None] * cm.n_layers
        self.C: list[list[Tensor]] = [[] for _ in range(cm.n_layers)]
        self.X: list[list[Tensor]] = [[] for _ in range(cm.n_layers)]
        self.M: list[Tensor | None] = [None] * cm.n_layers
        self.logits: Tensor | None = None

    @staticmethod
    def inputs(captured: dict[str, list[Tensor]]) -> list[Tensor]:
        """Tensors to differentiate (layer-major qkv, mlp; then logits)."""
        out: list[Tensor] = []
        for li in range(len(captured["qkv"])):
            out += [captured["qkv"][li], captured["mlp"][li]]
        return out + captured["logits"]

    def add(self, captured: dict[str, list[Tensor]], grads: list[Tensor], weight: float) -> None:
        """Accumulate one gradient run (``grads`` aligned with :meth:`inputs`) with ``weight``."""
        D = self.cm.d_model
        for li, lw in enumerate(self.cm.layers):
            g, gm = grads[2 * li].float(), grads[2 * li + 1]  # [b, p, 3H, dh], [b, p, D]
            vals = captured["qkv"][li].detach().float()
            if self.b_all[li] is not None:
                vals = vals - self.b_all[li]
            x = captured["resid"][li].float()  # [b, p, D]
            r = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + lw.ln1_eps)  # [b, p, 1]
            a = g * (weight * r).unsqueeze(-1)
            self.A[li] = a if self.A[li] is None else self.A[li].add_(a)
            c = (g * vals).sum(-1) * (weight * r.pow(2) / D)  # [b, p, 3H]
            self.C[li].append(c)
            self.X[li].append(x)
            gm = gm.float() * weight
            self.M[li] = gm if self.M[li] is None else self.M[li].add_(gm)
        gl = grads[-1].float() * weight
        self.logits = gl if self.logits is None else self.logits.add_(gl)

    def layer_grads(self, li: int) -> Tensor:
        """Accumulated gradients of layer ``li``'s destination inputs, float32.

        Returns:
            ``[H + 2K + 1, b, p * D]``: the q, k, v destinations (K = H ungrouped, n_kv_heads
            grouped) then the MLP destination; ``.permute(1, 2, 0)`` feeds a batched matmul.
        """
        A = self.A[li]  # [b, p, 3H, dh]
        b, p, n3, e = A.shape
        C = torch.stack(self.C[li])  # [m, b, p, 3H]
        X = torch.stack(self.X[li])  # [m, b, p, D]
        m, D = C.shape[0], X.shape[-1]
        out = torch.empty(n3 + 1, b * p, D, device=A.device, dtype=torch.float32)
        torch.bmm(A.reshape(b * p, n3, e).transpose(0, 1), self.w_all[li], out=out[:n3])  # [3H, bp, D]
        g2 = torch.bmm(C.permute(1, 2, 3, 0).reshape(b * p, n3, m), X.permute(1, 2, 0, 3).reshape(b * p, m, D))
        out[:n3].sub_(g2.transpose(0, 1))
        out[n3].copy_(self.M[li].reshape(b * p, D))
        out = out.view(n3 + 1, b, p * D)
        if self.cm.graph.gqa == "grouped":
            H, Gk = self.cm.n_heads, self.cm.n_kv_heads
            kv = out[H:n3].reshape(2 * Gk, H // Gk, b, -1).sum(1)
            out = torch.cat([out[:H], kv, out[n3:]], dim=0)
        return out

    def logits_grad(self) -> Tensor:
        """``[b, p, D]`` accumulated gradient at the logits input."""
        return self.logits
