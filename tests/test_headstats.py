"""Head-set statistics (emergence.headstats): the batched circuits against the one-at-a-time
reference, the pairing by question, the plan's rule, and the calibration of the emergent-count
verdict on null data and on a planted effect."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from tests.conftest import attribution_pool
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.emergence.headstats import Scores, head_stats, memberships, null_stats, paired_weights, rule
from thinking_sparks.emergence.sweep import circuit_heads
from thinking_sparks.plan import CircuitPlan, StatsPlan

log = logging.getLogger(__name__)


@pytest.mark.parametrize("aggregation", ["mean", "mean_abs"])
@pytest.mark.parametrize("shape", [(2, 4, 2), (3, 4, 4)])
def test_memberships_are_the_circuits_of_circuit_heads(shape, aggregation):
    g = Graph(*shape, "ungrouped")
    pe = torch.randn(12, g.n_src, g.n_dst, generator=torch.Generator().manual_seed(1))
    pe[:, :, 3] = 0.5  # exact ties among edges: taken in graph order, as the stable sort does
    gen = torch.Generator().manual_seed(2)
    rows = [torch.randint(0, 12, (12,), generator=gen) for _ in range(20)]
    w = torch.stack([torch.bincount(r, minlength=12).float() for r in rows] + [torch.zeros(12)])
    got = memberships(pe, w, g, 25, aggregation)
    names = [f"L{layer}H{h}" for layer in range(g.n_layers) for h in range(g.n_heads)]
    want = [circuit_heads(pe, g, 25, r, aggregation) for r in rows] + [set()]  # a zero row: empty circuit
    assert [{n for n, x in zip(names, m.tolist(), strict=True) if x} for m in got] == want
    assert 0 < int(got.sum()) < got.numel()  # neither all heads nor none: the test can fail


def test_paired_weights_resample_questions_once_for_both_circuits():
    qa, qb = np.array([0, 1, 2, 2]), np.array([1, 2, 3])  # question 0 only in a, 3 only in b; 2 twice in a
    wa, wb, c = paired_weights(qa, qb, 50, torch.Generator().manual_seed(0))
    assert c.shape == (50, 4) and (c.sum(1) == 4).all()  # union of 4 questions, 4 draws each
    assert torch.equal(wa[:, 1], wb[:, 0]) and torch.equal(wa[:, 2], wb[:, 1])  # shared questions, same counts
    assert torch.equal(wa[:, 2], wa[:, 3])  # a question's rows move together
    assert torch.equal(wa[:, 0], c[:, 0]) and torch.equal(wb[:, 2], c[:, 3])  # one-sided questions: own count
    inner, _, c2 = paired_weights(qa, qb, 3, torch.Generator().manual_seed(0), parent=torch.tensor([[0, 4, 0, 0.]]))
    assert c2.tolist() == [[0, 4, 0, 0]] * 3 and inner[:, 1].tolist() == [4, 4, 4]  # a resample of a resample
    assert Scores(torch.zeros(3, 1, 1), [10, 3, 7]).ranked().questions.tolist() == [2, 0, 1]


def test_the_plans_rule():
    p_model, p_base = np.array([0.9, 0.9, 0.1, 0.5, 0.8]), np.array([0.1, 0.9, 0.9, 0.5, 0.2])
    got = {k: v.tolist() for k, v in rule(p_model, p_base, CircuitPlan()).items()}
    assert got == {"emergent": [True, False, False, False, True], "base_only": [False, False, True, False, False],
                   "retained": [False, True, False, False, False]}


def test_a_circuit_against_itself_has_no_emergent_heads():
    g = Graph(2, 4, 2, "ungrouped")
    pe = torch.randn(30, g.n_src, g.n_dst, generator=torch.Generator().manual_seed(3))
    pe[:, g.head_src(0, 1)] += 3  # a strong head (its outputs and its query input): in every circuit
    pe[:, 0, g.dst_names.index("L0H1.q")] += 3
    s = Scores(pe, np.arange(30))
    plan = CircuitPlan(n_boot=40, n_inner=10)
    st = head_stats(s, s, g, 20, plan, StatsPlan(seed=1), n_outer=15)
    assert np.array_equal(st.p_model, st.p_base) and st.count() == 0 and st.count("base_only") == 0
    assert (st.boot.emergent == 0).all() and st.ci() == (0.0, 0.0)
    assert st.sets["retained"] == ["L0H1"] and st.p_model[1] == 1.0
    again = head_stats(s, s, g, 20, plan, StatsPlan(seed=1), n_outer=15)
    assert again.boot.equals(st.boot) and np.array_equal(again.p_model, st.p_model)


# ------------------------------------------------------------------ calibration

#: per-example scores of a pool of pairs, split by seed into independent samples of N questions
POOL, N, TOP_N, SEEDS = 300, 60, 15, 100
#: the calibration's resamples (fewer than the plan's, so that 100 seeds take seconds)
CALIBRATION = CircuitPlan(n_boot=100, n_inner=20)
N_OUTER = 50


@pytest.fixture(scope="module")
def pool(tiny_qwen2):
    return attribution_pool(tiny_qwen2, POOL)


def _verdict(model: Scores, base: Scores, null1: Scores, graph, seed: int) -> bool:
    """``reproduced``: the emergent count's CI lies wholly above its same-size null's floor_q95."""
    stats = StatsPlan(seed=seed)
    lo, _ = head_stats(model, base, graph, TOP_N, CALIBRATION, stats, n_outer=N_OUTER).ci()
    _, q95 = null_stats(model, null1, graph, TOP_N, CALIBRATION, stats, n_outer=N_OUTER).floor()
    return lo > q95


def test_emergent_verdict_is_calibrated(pool):
    """Null data (the tiny model against itself on independent question samples): ``reproduced`` in
    at most 5 % of seeds. Planted effect (three heads of the model silenced in the base, their
    scores doubled in the model): ``reproduced`` in at least 80 %."""
    pe, graph = pool
    node = (pe.mean(0).abs().sum(1))[[graph.head_src(layer, h) for layer in range(graph.n_layers)
                                      for h in range(graph.n_heads)]]
    planted = [graph.head_src(int(i) // graph.n_heads, int(i) % graph.n_heads) for i in torch.argsort(-node)[:3]]
    silenced, boosted = pe.clone(), pe.clone()
    silenced[:, planted] = 0
    boosted[:, planted] *= 2
    hits = {"null": 0, "planted": 0}
    q = np.arange(N)
    for seed in range(SEEDS):
        s0, s1, s2 = np.random.default_rng(seed).permutation(POOL)[: 3 * N].reshape(3, N)
        # the base on its own sample; the null: the model on a second independent sample
        hits["null"] += _verdict(Scores(pe[s0], q), Scores(pe[s2], q), Scores(pe[s1], q), graph, seed)
        hits["planted"] += _verdict(Scores(boosted[s0], q), Scores(silenced[s2], q), Scores(boosted[s1], q), graph,
                                    seed)
    rates = {k: v / SEEDS for k, v in hits.items()}
    log.warning("emergent-count verdict reproduced: null %.2f, planted %.2f (%d seeds)", rates["null"],
                rates["planted"], SEEDS)
    print(f"calibration: reproduced on null data {rates['null']:.2f}, with a planted effect {rates['planted']:.2f}")
    assert rates["null"] <= 0.05
    assert rates["planted"] >= 0.80


def test_count_chart_layers_the_interval_over_the_null():
    import pandas as pd

    from thinking_sparks import plots

    df = pd.DataFrame({"run": ["sft", "sft"], "step": [1, 2], "emergent": [0, 2], "ci_low": [0.0, 1.0],
                       "ci_high": [1.0, 3.0], "floor_mean": [0.2, 0.3], "floor_q95": [1.0, 1.0]})
    spec = plots.count_chart(df, "counts").to_dict()
    assert [layer["mark"]["type"] for layer in spec["spec"]["layer"]] == ["line", "line", "rule", "point"]
    with pytest.raises(ValueError, match="missing columns \\['floor_q95'\\]"):
        plots.count_chart(df.drop(columns="floor_q95"), "counts")
