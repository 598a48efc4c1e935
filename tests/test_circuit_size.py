"""Head share along top-n (circuits.size) on a hand-built attribution with a known answer."""

from __future__ import annotations

import pytest
import torch


def _attribution():
    """2 layers x 2 heads; five scored edges: L0H0 fed by the input and read by the logits (1.0, 0.9),
    L1H1 read by the logits but fed by nothing (0.8: pruned), L0H1 read by the logits (0.7) and fed
    by the input (0.6).  Every other edge scores 0."""
    from thinking_sparks.circuits.attribute import Attribution
    from thinking_sparks.circuits.graph import Graph

    g = Graph(n_layers=2, n_heads=2, n_kv_heads=2)
    s = torch.zeros(g.n_src, g.n_dst)
    for src, dst, v in (("L0H0", "logits", 1.0), ("input", "L0H0.q", 0.9), ("L1H1", "logits", 0.8),
                        ("L0H1", "logits", 0.7), ("input", "L0H1.k", -0.6)):
        s[g.src_index(src), g.dst_index(dst)] = v
    return Attribution(g, s, s.abs(), 1, "hand", "kl")


def test_head_share_along_n():
    from thinking_sparks.circuits.size import head_share

    a = _attribution()
    df = head_share(a, [1, 2, 3, 4, 5])
    # n=1: L0H0 -> logits alone has no input: pruned; n=3, 4: the new edges hang in the air
    assert df.heads.tolist() == [0, 1, 1, 1, 2]
    assert df.head_share.tolist() == [0.0, 0.25, 0.25, 0.25, 0.5]
    assert df.n_heads.tolist() == [4] * 5
    assert df.edge_fraction.iloc[1] == pytest.approx(2 / a.graph.n_edges)
    assert head_share(a, [a.graph.n_edges]).head_share.tolist() == [1.0]  # the whole graph: every head


def test_n_for_head_share():
    from thinking_sparks.circuits.size import PAPER_HEAD_SHARE, n_for_head_share

    a = _attribution()
    assert PAPER_HEAD_SHARE == pytest.approx(56 / 336)
    assert n_for_head_share(a).n == 2  # 17 %: one head of four
    got = n_for_head_share(a, 0.5)
    assert (got.n, got.heads, got.share) == (5, 2, 0.5)
    three = n_for_head_share(a, 0.75)
    assert three.n > 5 and three.heads >= 3
    with pytest.raises(ValueError, match="target head share"):
        n_for_head_share(a, 0)
