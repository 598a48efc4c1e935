"""Attention patterns of every head on a few token sequences, as one long-form table.

The plain Hugging Face model computes attention with SDPA, which does not return the weights;
:func:`eager_attention` switches it to the eager kernel for the duration of a ``with`` block and
always switches back. :func:`attention_table` runs each sequence once and keeps, per head, the
weight of every (query, key) pair at or above ``min_weight`` (the rest is drawn as empty: weights
below it sum to little), so that a page can filter the table by a selected head.

    with eager_attention(lm):
        ...
    table = attention_table(lm, [ids], answer_starts=[12], min_weight=0.01)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import torch

from thinking_sparks.heads import head_name

ATTENTION_COLUMNS = ["sequence", "head", "query", "key", "query_token", "key_token", "weight", "query_answer",
                     "key_answer"]


@contextlib.contextmanager
def eager_attention(lm: Any) -> Iterator[Any]:
    """``lm.hf_model`` on the eager attention kernel (which returns weights) inside the block."""
    hf = lm.hf_model
    before = hf.config._attn_implementation
    hf.set_attn_implementation("eager")
    try:
        yield lm
    finally:
        hf.set_attn_implementation(before)


def attention_weights(lm: Any, ids: Sequence[int]) -> torch.Tensor:
    """``[n_layers, n_heads, T, T]`` attention weights (float32) of one token sequence of length T."""
    x = torch.tensor([list(ids)], dtype=torch.long, device=lm.hf_model.device)
    with eager_attention(lm), torch.no_grad():
        out = lm.hf_model(x, output_attentions=True)
    return torch.stack([a[0].float().cpu() for a in out.attentions])  # [n_layers, n_heads, T, T]


def attention_table(lm: Any, sequences: Sequence[Sequence[int]], answer_starts: Sequence[int],
                    min_weight: float = 0.01) -> pd.DataFrame:
    """Every head's attention on each sequence, one row per kept (query, key) pair.

    Args:
        lm: a ``LoadedModel`` (its tokenizer spells the tokens).
        sequences: token ids, prompt then answer.
        answer_starts: per sequence, the position of its first answer token (the answer span runs
            from there to the end).
        min_weight: weights below this are left out (causal zeros always are).

    Returns:
        :data:`ATTENTION_COLUMNS`: ``sequence`` (its index), ``head`` (``L{l}H{h}``), ``query`` /
        ``key`` positions, their tokens, ``weight``, and whether each position is in the answer span.
    """
    if len(sequences) != len(answer_starts):
        raise ValueError(f"{len(sequences)} sequences but {len(answer_starts)} answer starts")
    frames = []
    for i, (ids, start) in enumerate(zip(sequences, answer_starts, strict=True)):
        w = attention_weights(lm, ids)  # [n_layers, n_heads, T, T]
        tokens = [lm.tokenizer.decode([t]) for t in ids] if lm.tokenizer is not None else [str(t) for t in ids]
        causal = torch.ones(w.shape[-2:], dtype=torch.bool).tril()  # [T, T]: key <= query
        layer, head, q, k = torch.nonzero((w >= min_weight) & causal, as_tuple=True)
        names = [head_name(int(a), int(b)) for a, b in zip(layer.tolist(), head.tolist(), strict=True)]
        qs, ks = q.tolist(), k.tolist()
        frames.append(pd.DataFrame({
            "sequence": i, "head": names, "query": qs, "key": ks,
            "query_token": [tokens[j] for j in qs], "key_token": [tokens[j] for j in ks],
            "weight": w[layer, head, q, k].numpy().round(4),
            "query_answer": [j >= start for j in qs], "key_answer": [j >= start for j in ks]}))
    if not frames:
        return pd.DataFrame(columns=ATTENTION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[ATTENTION_COLUMNS]


__all__ = ["ATTENTION_COLUMNS", "attention_table", "attention_weights", "eager_attention"]
