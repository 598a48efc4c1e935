"""The sweep's fast paths give the old numbers: gradient attribution from the first differing
position (:mod:`thinking_sparks.circuits.prefixed`) against full-length runs, and the batched
bootstrap inclusion against one circuit per resample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thinking_sparks.circuits.attribute import attribute
from thinking_sparks.circuits.pairs import Pair, collate
from thinking_sparks.circuits.prefixed import first_difference


def _prefix_pairs(vocab: int) -> list[Pair]:
    """Pairs of mixed lengths sharing their first 4-6 tokens, read before and after the first
    difference (the loss terms before it are constant)."""
    g = torch.Generator().manual_seed(5)
    out = []
    for i, (length, diff) in enumerate([(9, 4), (11, 6), (10, 5), (12, 4), (9, 7)]):
        clean = torch.randint(1, vocab, (length,), generator=g)
        corr = clean.clone()
        corr[diff:] = torch.randint(1, vocab, (length - diff,), generator=g)
        corr[diff] = (clean[diff] % (vocab - 1)) + 1  # differs at diff for sure
        a, b = torch.randperm(vocab, generator=g)[:2].tolist()
        out.append(Pair(tuple(clean.tolist()), tuple(corr.tolist()), a, b,
                        target_pos=tuple(range(2 + i % 2, length - 1))))
    return out


def test_first_difference_is_the_batch_minimum():
    clean = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    corr = torch.tensor([[1, 2, 9, 4], [1, 2, 3, 9]])
    assert first_difference(clean, corr) == 2
    assert first_difference(clean, clean) == 4


@pytest.mark.parametrize(("method", "metric"), [("eap-ig-inputs", "kl"), ("eap-ig-inputs", "logit-diff"),
                                                ("eap", "logit-diff"), ("clean-corrupted", "answer-logprob")])
def test_prefixed_scores_equal_full_length_runs(tiny_qwen2, method, metric):
    pairs = _prefix_pairs(tiny_qwen2.config.vocab_size)
    batch = collate(pairs[:3])
    assert first_difference(batch.clean, batch.corrupted) == 4  # the fast path skips positions here
    kw = {"method": method, "metric": metric, "steps": 3, "batch_size": 3, "progress": False,
          "keep_per_example": True}
    new = attribute(tiny_qwen2, pairs, shared_prefix=True, **kw).per_example
    old = attribute(tiny_qwen2, pairs, shared_prefix=False, **kw).per_example
    # per example (not eap on kl: its gradient at the clean run is 0, its scores float noise)
    scale = old.abs().amax(dim=(1, 2), keepdim=True)
    assert bool((scale > 0).all())
    assert float(((new - old).abs() / scale).max()) < 1e-5


def test_batched_inclusion_equals_one_circuit_per_resample():
    from thinking_sparks.circuits.graph import Graph
    from thinking_sparks.emergence.sweep import circuit_heads, inclusion
    from thinking_sparks.heads import parse_head

    g = Graph(3, 4, 2)
    gen = torch.Generator().manual_seed(0)
    pe = torch.randn(20, g.n_src, g.n_dst, generator=gen) * g.edge_mask()
    for aggregation in ("mean", "mean_abs"):
        want = np.zeros((3, 4), dtype=np.float32)
        draws = torch.Generator().manual_seed(7)
        for _ in range(30):  # the old loop: the same draws, one circuit each
            rows = torch.randint(0, 20, (20,), generator=draws)
            for name in circuit_heads(pe, g, 25, rows, aggregation):
                layer, h = parse_head(name)
                want[layer, h] += 1
        got = inclusion(pe, g, 25, n_boot=30, seed=7, aggregation=aggregation)
        assert np.array_equal(got, want / 30)
        assert 0 < got.sum() < 12
