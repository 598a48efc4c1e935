"""Reading a Llama-family model's weights for :mod:`.forward`: bridge components unwrapped, RMSNorm,
RoPE's half rotation, one decoder layer's weights with heads split out, and the attention window
of a config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def orig(module):
    """The wrapped HF module of a bridge component (or the module itself)."""
    return getattr(module, "_original_component", module)


def weight_of(module) -> Tensor:
    return orig(module).weight.detach()


def bias_of(module) -> Tensor | None:
    b = getattr(orig(module), "bias", None)
    return None if b is None else b.detach()


def eps_of(norm) -> float:
    norm = orig(norm)
    for name in ("variance_epsilon", "eps"):
        if hasattr(norm, name):
            return float(getattr(norm, name))
    raise ValueError(f"unsupported norm module {type(norm).__name__}: no eps attribute")


def rms_norm(x: Tensor, w: Tensor, eps: float) -> Tensor:
    """HF RMSNorm over the last dim (computed in float32, cast back)."""
    dtype = x.dtype
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dtype)


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


@dataclass
class LayerWeights:
    """One decoder layer's weights, heads split out. Shapes use H query heads, G KV heads."""

    ln1: Tensor  # [D]
    ln1_eps: float
    wq: Tensor  # [H, dh, D]
    bq: Tensor | None  # [H, dh]
    wk: Tensor  # [G, dh, D]
    bk: Tensor | None
    wv: Tensor  # [G, dh, D]
    bv: Tensor | None
    wo: Tensor  # [H, D, dh]
    bo: Tensor | None  # [D]
    q_norm: tuple[Tensor, float] | None
    k_norm: tuple[Tensor, float] | None
    ln2: Tensor
    ln2_eps: float
    mlp: torch.nn.Module  # the HF MLP (gate/up/down) - called on [..., D]
    wo_flat: Tensor  # o_proj weight [D, H * dh]
    w_qkv: Tensor | None = None  # fused [(H + 2G) * dh, D]
    b_qkv: Tensor | None = None


def sliding_window(cfg) -> int | None:
    """The attention window of a config in tokens, or None for full causal attention.

    A query attends to the last ``window`` positions (itself included), so inputs of at most
    ``window`` positions see exactly full causal attention. Mistral-style configs carry
    ``sliding_window`` with no ``use_sliding_window`` flag (the window is on); Qwen2-style configs
    switch it with ``use_sliding_window`` and mark the windowed layers in ``layer_types``.
    """
    window = getattr(cfg, "sliding_window", None)
    if not window:
        return None
    if getattr(cfg, "use_sliding_window", True) is False:
        return None
    types = getattr(cfg, "layer_types", None)
    if types is not None and "sliding_attention" not in types:
        return None
    return int(window)
