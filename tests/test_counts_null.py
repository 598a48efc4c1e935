"""The same-size null of "no think-only heads" (pages 06/07): two circuits of one mode on independent
question samples of the comparison's size, and the row it bounds, on constructed scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import attribution_pool
from thinking_sparks.emergence.stats import overlap_bootstrap
from thinking_sparks.emergence.sweep import circuit_heads
from thinking_sparks.interventions.claims import count_verdicts
from thinking_sparks.interventions.counts import same_size_null

POOL, N, TOP_N, N_BOOT, SEEDS = 300, 100, 20, 60, 20


def _heads(g, pe: torch.Tensor, n: int = TOP_N) -> list[str]:
    return sorted(circuit_heads(pe, g, n))


@pytest.fixture(scope="module")
def pool(tiny_qwen2):
    """Per-example scores of the tiny model on ``POOL`` random pairs (as tests/test_headstats.py)."""
    return attribution_pool(tiny_qwen2, POOL)


def _row(pe: torch.Tensor, graph, seed: int, planted: bool) -> str:
    """The "no think-only heads" verdict: think-on on sample 0, the null on sample 1 (independent, the
    same size). Null data: think-off on a third sample of the same model (nothing differs). Planted:
    think-off on sample 0 with the think-on circuit's three strongest heads silenced."""
    s0, s1, s2 = np.random.default_rng(seed).permutation(len(pe))[: 3 * N].reshape(3, N)
    on = pe[s0]
    if planted:
        node = on.mean(0).abs().sum(1)
        heads = [graph.head_src(layer, h) for layer in range(graph.n_layers) for h in range(graph.n_heads)]
        off = on.clone()
        off[:, sorted(heads, key=lambda s: -float(node[s]))[:3]] = 0
    else:
        off = pe[s2]
    boot = overlap_bootstrap(on, off, graph, TOP_N, N_BOOT, seed)
    null = same_size_null(on, pe[s1], graph, TOP_N, N_BOOT, seed)
    return count_verdicts(_heads(graph, on), _heads(graph, off), boot, null)[1].verdict


def test_no_think_only_heads_is_calibrated_against_the_same_size_null(pool):
    """Null data (think-off drawn like think-on): the row finds think-only heads ("not reproduced") in at
    most 5 % of seeds. Planted think-only heads: it never claims their absence ("reproduced") and finds
    them in at least 80 %."""
    pe, graph = pool
    null = [_row(pe, graph, s, planted=False) for s in range(SEEDS)]
    planted = [_row(pe, graph, s, planted=True) for s in range(SEEDS)]
    print("null:", {v: null.count(v) for v in set(null)}, "planted:", {v: planted.count(v) for v in set(planted)})
    assert null.count("not reproduced") / SEEDS <= 0.05
    assert planted.count("reproduced") == 0 and planted.count("not reproduced") / SEEDS >= 0.80


def test_same_size_null_is_deterministic_and_needs_two_rows_a_side(pool):
    pe, graph = pool
    a, b = pe[:N], pe[N: 2 * N]
    got = same_size_null(a, b, graph, 15, 30, seed=3)  # 15 edges: circuits of some of the 8 heads
    assert got.shape == (30,) and np.array_equal(got, same_size_null(a, b, graph, 15, 30, seed=3))
    assert (got >= 0).all() and (got % 1 == 0).all() and got.max() > 0  # heads differ by chance
    one = a[:1].repeat(4, 1, 1)  # every row the same question: every resample the same circuit
    assert same_size_null(one, one, graph, TOP_N, 5).tolist() == [0.0] * 5
    with pytest.raises(ValueError, match="at least 2 pairs"):
        same_size_null(a[:1], b, graph, TOP_N, 5)
