"""Emergence room, unit level: head-set algebra, cohorts and the return rule, effect, statistics,
pairs as the paper builds them, and bootstrap determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from thinking_sparks.emergence.sets import HeadSets, cohorts, cross_method, first_heads, frequency_table


def test_head_sets_algebra_and_order():
    s = HeadSets.from_sets({"L0H1", "L1H2", "L2H0"}, {"L1H2", "L3H3"},
                           model_score={"L0H1": 0.1, "L2H0": 0.9, "L1H2": 0.5}, base_score={"L3H3": 1.0})
    assert s.emergent == ("L2H0", "L0H1")  # by the model's score, highest first
    assert s.base_only == ("L3H3",) and s.retained == ("L1H2",)
    assert s.model == {"L0H1", "L1H2", "L2H0"} and s.base == {"L1H2", "L3H3"}
    assert [s.status(h) for h in ("L0H1", "L3H3", "L1H2", "L0H0")] == ["emergent", "base", "retained", "inactive"]
    assert s.counts() == {"emergent": 2, "base_only": 1, "retained": 1}
    assert s.retained_share == pytest.approx(0.5)
    unordered = HeadSets.from_sets({"L10H0", "L2H0"}, set())
    assert unordered.emergent == ("L2H0", "L10H0")  # (layer, head), not lexical
    with pytest.raises(ValueError, match="not a head name"):
        HeadSets.from_sets({"MLP3"}, set())


def test_first_heads_lists_five_by_score():
    s = HeadSets.from_sets({f"L{i}H0" for i in range(7)}, set(), model_score={f"L{i}H0": i for i in range(7)})
    assert first_heads(s) == "L6H0, L5H0, L4H0, L3H0, L2H0 …"
    assert first_heads(HeadSets.from_sets({"L1H1"}, set())) == "L1H1"


def test_cohorts_return_rule_on_hand_made_sequence():
    base = {"B"}
    steps = [100, 200, 300, 400, 500]
    active = [{"A", "B"}, {"A", "C"}, {"C"}, {"A", "C", "D", "B"}, {"D"}]
    bands, counts = cohorts(steps, [{h.replace(h, f"L{ord(h) - 64}H0") for h in s} for s in active],
                            {"L2H0"})
    # A = L1H0 (cohort 100), B = L2H0 (base), C = L3H0 (cohort 200), D = L4H0 (cohort 400)
    got = {(r.step, r.cohort): r.n_active for r in bands.itertuples()}
    assert got[(300, 100)] == 0  # A left ...
    assert got[(400, 100)] == 1  # ... and came back in its first cohort, not a new one
    assert sorted(bands[bands.step == 400].cohort) == [100, 200, 400]
    assert bands.groupby("step").n_active.sum().tolist() == counts.emergent.tolist()
    assert counts.emergent.tolist() == [1, 2, 1, 3, 1]
    assert counts.retained.tolist() == [1, 0, 0, 1, 0]
    assert counts.newcomers.tolist() == [1, 1, 0, 1, 0]
    assert counts.returned.tolist() == [0, 0, 0, 1, 0]
    assert counts.left.tolist() == [0, 0, 1, 0, 2]
    del base


def test_cohorts_rejects_bad_input():
    with pytest.raises(ValueError, match="ascending"):
        cohorts([2, 1], [set(), set()], set())
    with pytest.raises(ValueError, match="2 steps but 1"):
        cohorts([1, 2], [set()], set())


def test_frequency_table_and_cross_method():
    f = frequency_table([{"L0H0", "L1H1"}, {"L1H1"}, {"L1H1", "L0H1"}], {"L0H0"}, 2, 2).set_index("head")
    assert f.loc["L1H1", "frequency"] == 1.0 and f.loc["L1H1", "kind"] == "emergent"
    assert f.loc["L0H0", "frequency"] == pytest.approx(1 / 3) and f.loc["L0H0", "kind"] == "base"
    assert not f.loc["L0H0", "active_final"] and f.loc["L0H1", "active_final"]
    assert f.loc["L1H0", "kind"] == "never"
    c = cross_method({"sft": {"L0H0", "L1H1"}, "grpo": {"L1H1"}}, 2, 2)
    shared = c[c["head"] == "L1H1"]
    assert set(shared.method) == {"sft", "grpo"} and set(shared.methods) == {"sft+grpo"}
    assert c[c["head"] == "L1H0"].methods.tolist() == ["none"]


def test_effect_formula():
    from thinking_sparks.emergence.stats import effect, mean_effect

    post, pre = np.array([0.3, 0.0, 0.2, 0.0]), np.array([0.1, 0.4, 0.2, 0.0])
    e = effect(post, pre)
    assert e[0] == pytest.approx(0.2 / (0.4 + 1e-6)) and e[1] == pytest.approx(-1, abs=1e-5)
    assert e[2] == 0 and e[3] == 0  # equal, and both zero (eps keeps it finite)
    assert mean_effect([post, pre], pre) == pytest.approx(e / 2)
    t = effect(torch.tensor([1.0]), torch.tensor([0.0]))
    assert float(t) == pytest.approx(1, abs=1e-5)


def test_spearman_and_permutation_p():
    from thinking_sparks.emergence.stats import permutation_p, spearman

    x = [1, 2, 3, 4, 5, 6, 7, 8]
    assert spearman(x, [10, 20, 30, 40, 50, 60, 70, 80]) == pytest.approx(1.0)
    assert spearman(x, x[::-1]) == pytest.approx(-1.0)
    assert np.isnan(spearman(x, [1] * 8))
    p = permutation_p(x, [2 * v for v in x], n_perm=2000, seed=0)
    assert p < 0.01 and p == permutation_p(x, [2 * v for v in x], n_perm=2000, seed=0)
    assert permutation_p(x, [3, 8, 1, 6, 2, 7, 4, 5], n_perm=2000) > 0.2


def test_reward_tracking_windows_the_reward_log():
    from thinking_sparks.emergence.stats import reward_tracking

    counts = pd.DataFrame({"step": [2, 4, 6, 8, 10], "emergent": [1, 3, 2, 5, 4]})
    rewards = pd.DataFrame({"step": range(1, 11), "accuracy": [0, .2, .5, .5, .3, .3, .8, .8, .6, .6]})
    r = reward_tracking(counts, rewards, n_perm=500)
    assert r["per_checkpoint"].reward.tolist() == pytest.approx([0.1, 0.5, 0.3, 0.8, 0.6])
    assert r["spearman"] == pytest.approx(1.0) and r["n"] == 5


def test_scaled_top_n_keeps_the_papers_fraction():
    from thinking_sparks.circuits.graph import Graph
    from thinking_sparks.emergence.sweep import PAPER_EDGES, scaled_top_n

    assert Graph(28, 12, 2).n_edges == PAPER_EDGES  # Qwen2.5-Math-1.5B, q/k/v per query head
    assert scaled_top_n(PAPER_EDGES) == 5000
    g = Graph(8, 8, 2)
    assert scaled_top_n(g.n_edges) == round(g.n_edges * 5000 / PAPER_EDGES) and scaled_top_n(10) == 1


def _prefixes(side, completions, prompt=(1, 2, 3)):
    from thinking_sparks.emergence.pairs import Prefixes

    return Prefixes(side, [f"q{i}" for i in range(len(completions))], [list(prompt)] * len(completions),
                    [list(c) for c in completions])


def test_build_pairs_cuts_equal_length_and_drops_identical():
    from thinking_sparks.emergence.pairs import Side, build_pairs

    m, b = Side("m"), Side("b")
    clean = _prefixes(m, [[4, 5, 6, 7], [4, 5], [9, 9, 9], []])
    corr = _prefixes(b, [[4, 8, 6], [4, 5, 6], [9, 9, 9, 9], [5]])
    ps = build_pairs(clean, corr, answer_tokens=None)
    assert ps.n_identical == 2 and ps.n_short == 1 and ps.question_index == [0]
    p = ps.pairs[0]
    assert p.clean_ids == (1, 2, 3, 4, 5, 6) and p.corrupted_ids == (1, 2, 3, 4, 8, 6)
    assert p.target_pos == (2, 3, 4)  # positions that predict the answer tokens
    capped = build_pairs(clean, corr, answer_tokens=2).pairs[0]
    assert capped.clean_ids == (1, 2, 3, 4, 5) and capped.target_pos == (2, 3)
    sw = ps.swapped()
    assert sw.pairs[0].clean_ids == p.corrupted_ids and sw.clean == b and sw.corrupted == m
    with pytest.raises(ValueError, match="different questions"):
        build_pairs(clean, _prefixes(b, [[1]] * 3), None)


def test_build_pairs_span_starts_after_the_longer_prompt():
    """Prompts of different lengths (two modes, two prompting styles): the metric reads only positions
    where *both* sides predict a token of their answer, whichever prompt is longer."""
    from thinking_sparks.emergence.pairs import Prefixes, Side, build_pairs

    short = Prefixes(Side("m"), ["q0"], [[1, 2]], [[7, 8, 9, 10]])
    long = Prefixes(Side("m", "no_think"), ["q0"], [[1, 2, 3, 4]], [[5, 6, 11]])
    for clean, corr in ((short, long), (long, short)):
        p = build_pairs(clean, corr, answer_tokens=None).pairs[0]
        assert len(p.clean_ids) == len(p.corrupted_ids) == 6  # min(2 + 4, 4 + 3)
        assert p.target_pos == (3, 4)  # from the longer prompt's last token on, never inside it
    capped = build_pairs(short, long, answer_tokens=1).pairs[0]
    assert len(capped.clean_ids) == 5 and capped.target_pos == (3,)


def test_registered_modes_key_their_prompt_text(tmp_path):
    from thinking_sparks.emergence.pairs import MODES, Side, register_mode, side_fingerprint
    from thinking_sparks.tiny import build_tiny

    d = str(build_tiny(tmp_path / "m", seed=0))
    register_mode("test-terse", "Be terse.")
    register_mode("test-terse", "Be terse.")  # the same settings again: fine
    with pytest.raises(ValueError, match="already registered"):
        register_mode("test-terse", "Be verbose.")
    fp = side_fingerprint(Side(d, "test-terse"))
    assert fp["suffix"] == "Be terse." and fp["mode"] == "test-terse"
    assert "suffix" not in side_fingerprint(Side(d, "no_think"))  # built-in modes keep their old keys
    MODES.pop("test-terse")


def test_overlap_bootstrap_is_paired_and_deterministic():
    from thinking_sparks.emergence.stats import overlap_bootstrap

    g, pe = _per_example(0)
    _, pe2 = _per_example(1)
    same = overlap_bootstrap(pe, pe, g, 30, n_boot=6, seed=0)
    assert (same.jaccard == 1).all() and (same.only_a == 0).all() and (same.only_b == 0).all()
    a = overlap_bootstrap(pe, pe2, g, 30, n_boot=6, seed=0)
    assert a.equals(overlap_bootstrap(pe, pe2, g, 30, n_boot=6, seed=0)) and (a.jaccard < 1).any()
    assert ((a.n_a - a.only_a) == (a.n_b - a.only_b)).all()  # both sides share the same intersection
    with pytest.raises(ValueError, match="same pairs"):
        overlap_bootstrap(pe, pe2[:5], g, 30)


def test_pair_params_validate():
    from thinking_sparks.emergence.pairs import PairParams, Side

    with pytest.raises(ValueError, match="reasoning_side"):
        PairParams(reasoning_side="teacher")
    with pytest.raises(ValueError, match="n_questions"):
        PairParams(n_questions=1)
    with pytest.raises(ValueError, match="unknown mode"):
        Side("m", "sometimes")


def _per_example(seed=0, n=12):
    from thinking_sparks.circuits.graph import Graph

    g = Graph(3, 4, 2)
    gen = torch.Generator().manual_seed(seed)
    pe = torch.randn(n, g.n_src, g.n_dst, generator=gen) * g.edge_mask()
    s = g.head_src(1, 2)
    pe[:, s] = (pe[:, s] + 3) * g.edge_mask()[s]  # one strong head: strong writes ...
    pe[:, 0, g.dst_index("L1H2.q")] += 3  # ... and a strong read
    return g, pe


def test_bootstrap_inclusion_is_deterministic_by_seed():
    from thinking_sparks.emergence.sweep import inclusion

    g, pe = _per_example()
    a = inclusion(pe, g, 30, n_boot=25, seed=3)
    assert a.shape == (3, 4) and ((a >= 0) & (a <= 1)).all()
    assert np.array_equal(a, inclusion(pe, g, 30, n_boot=25, seed=3))
    assert not np.array_equal(a, inclusion(pe, g, 30, n_boot=25, seed=4))
    assert a[1, 2] == 1.0  # the strong head is in every resampled circuit


def test_verdicts_follow_the_ci():
    import pandas as pd

    from thinking_sparks.emergence.claims import section4_verdicts, wilson
    from thinking_sparks.verdicts import COLUMNS

    lo, hi = wilson(8, 10)
    assert 0.49 < lo < 0.8 < hi < 0.97
    nan = float("nan")

    def table(sft_ci, retained):
        rows = [{"method": "sft", "emergent": 8, "ci_low": sft_ci[0], "ci_high": sft_ci[1], "floor_mean": 4.0,
                 "floor_q95": 10.0, "retained_share": nan, "retained_ci_low": nan, "retained_ci_high": nan},
                {"method": "distill", "emergent": 20, "ci_low": nan, "ci_high": nan, "floor_mean": 4.0,
                 "floor_q95": 10.0, "retained_share": retained[0], "retained_ci_low": retained[1],
                 "retained_ci_high": retained[2]}]
        return pd.DataFrame(rows)

    v = section4_verdicts({}, table((5, 9), (0.6, 0.55, 0.7)), {})
    assert list(v.columns) == list(COLUMNS)
    got = v.set_index("statistic")["verdict"].tolist()
    # sft: CI wholly below the null's 95th percentile -> not reproduced; distill: a sampled count without
    # an interval decides nothing; retained share: CI within (1/2, 1) and containing 2/3
    assert got == ["not reproduced", "inconclusive", "reproduced"]
    v = section4_verdicts({}, table((11, 14), (0.9, 0.85, 0.95)), {})
    # retained: most but not all (reproduced), yet 2/3 lies outside the CI (not reproduced): partly
    assert v.verdict.tolist() == ["reproduced", "inconclusive", "partly"]
    v = section4_verdicts({}, table((2, 12), (0.6, 0.4, 0.9)), {})
    assert v.verdict.tolist() == ["inconclusive", "inconclusive", "inconclusive"]  # straddles