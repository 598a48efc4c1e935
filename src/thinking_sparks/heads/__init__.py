"""Attention heads by the paper's names: ``L{layer}H{head}`` (e.g. ``L5H1``), 0-indexed."""

from __future__ import annotations

import re

import pandas as pd
import torch

_HEAD = re.compile(r"^L(\d+)H(\d+)$")


def head_name(layer: int, head: int) -> str:
    """``head_name(5, 1) == "L5H1"``."""
    if layer < 0 or head < 0:
        raise ValueError(f"layer and head must be >= 0, got layer={layer}, head={head}")
    return f"L{layer}H{head}"


def parse_head(name: str) -> tuple[int, int]:
    """``parse_head("L5H1") == (5, 1)``; anything else is a ValueError."""
    match = _HEAD.match(name.strip())
    if not match:
        raise ValueError(f"not a head name: {name!r} (expected L<layer>H<head>, e.g. L5H1)")
    return int(match.group(1)), int(match.group(2))


def all_heads(n_layers: int, n_heads: int) -> list[str]:
    """Every head of a model, layer-major: ``["L0H0", "L0H1", ...]``."""
    return [head_name(layer, head) for layer in range(n_layers) for head in range(n_heads)]


def sort_heads(names) -> list[str]:
    """Heads sorted by (layer, head), not lexically (``L2H0`` before ``L10H0``)."""
    return sorted(names, key=parse_head)


def head_write_norms(lm, prompts: list[str], use_chat: bool = True):
    """Mean L2 norm of each head's write into the residual stream, over all prompt positions.

    A head's write is ``z_h @ W_O[:, h*d_head:(h+1)*d_head].T`` (its slice of the attention output
    before heads are summed), ``[pos, d_model]``; its norm is taken per position, then averaged
    over every position of every prompt.

    Args:
        lm: a ``LoadedModel``.
        prompts: user messages (chat template applied when ``use_chat`` and the model has one).

    Returns:
        DataFrame with columns ``layer, head, name, write_norm`` (one row per head).
    """
    if not prompts:
        raise ValueError("head_write_norms needs at least one prompt")
    n_layers, n_heads, d_head = lm.n_layers, lm.n_heads, lm.d_head
    totals = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    count = 0
    w_o = [lm.hf_model.model.layers[layer].self_attn.o_proj.weight.detach().float()
           for layer in range(n_layers)]  # [d_model, n_heads * d_head]

    def make_hook(layer):
        def hook(z, hook):  # z: [batch, pos, n_heads, d_head]
            w = w_o[layer].view(-1, n_heads, d_head)  # [d_model, n_heads, d_head]
            writes = torch.einsum("bphd,mhd->bphm", z.detach().float(), w)
            totals[layer] += writes.norm(dim=-1).sum(dim=(0, 1)).double()
            return z
        return hook

    hooks = [(f"blocks.{layer}.attn.hook_z", make_hook(layer)) for layer in range(n_layers)]
    with torch.no_grad():
        for prompt in prompts:
            ids = lm.encode(lm.chat(prompt) if use_chat else prompt)
            lm.bridge.run_with_hooks(ids, fwd_hooks=hooks)
            count += ids.shape[1]
    rows = [{"layer": layer, "head": head, "name": head_name(layer, head),
             "write_norm": float(totals[layer, head] / count)}
            for layer in range(n_layers) for head in range(n_heads)]
    return pd.DataFrame(rows)
