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


def test_a_circuit_at_another_size_reuses_the_cached_attribution(tmp_path, monkeypatch, tiny_zoo_cache):
    """The tiny sft circuit at top-12, derived from the cached default-size circuit's per-pair scores
    and exact effects (no attribution, no patching), equals the one computed from scratch."""
    import numpy as np

    from thinking_sparks.circuits.config import CircuitConfig
    from thinking_sparks.emergence import sweep
    from thinking_sparks.emergence.pairs import PairParams, Side

    (tmp_path / "organism").symlink_to(tiny_zoo_cache[0] / "organism")  # the zoo's models, a fresh results cache
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    params, model, base = PairParams(n_questions=6), "organism/tiny/sft@final", "organism/tiny/base@final"
    default = sweep.circuit_for(model, Side(model), Side(base), params, CircuitConfig(n_boot=5, steps=2))
    ps = sweep.pair_set(Side(model), Side(base), params)
    small = CircuitConfig(top_n=12, n_boot=5, steps=2)
    scratch = sweep.circuit_for(model, Side(model), Side(base), params, small, pairs=ps)  # pairs given: no reuse

    def boom(*a, **k):
        raise AssertionError("the resized circuit attributed or patched again")

    monkeypatch.setattr(sweep, "attribute", boom)
    monkeypatch.setattr(sweep, "patch_nodes", boom)
    resized = sweep.circuit_for(model, Side(model), Side(base), params, small)
    assert not resized.cached and default.top_n < 12 and resized.top_n == scratch.top_n == 12
    assert resized.heads == scratch.heads and len(resized.heads) > len(default.heads)
    np.testing.assert_allclose(resized.inclusion, scratch.inclusion)
    np.testing.assert_allclose(resized.importance, scratch.importance, atol=1e-6)
    np.testing.assert_allclose(resized.exact, default.exact)
    assert resized.faithfulness == pytest.approx(scratch.faithfulness, abs=1e-5)
    assert resized.patch_recall == pytest.approx(scratch.patch_recall)
    assert resized.patch_spearman == pytest.approx(default.patch_spearman)
