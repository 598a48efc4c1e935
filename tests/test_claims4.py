"""Page 04's claims about heads over training (emergence/claims.py, claimstats.py, stats.slope_interval)
on hand-built data whose right verdict is known: for each row one case that must give reproduced, one
not reproduced, one inconclusive; the edge cases the old rules decided by accident; and the calibration
of the reward-tracking rule on simulated null and coupled runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.test_claims_known_data import FakeTrace, heads, table3, verdict_of
from thinking_sparks.emergence import claims as em
from thinking_sparks.emergence.claimstats import (
    independent_difference,
    layer_difference,
    proportion_ci,
    switch_counts,
    switch_difference,
)
from thinking_sparks.emergence.stats import reward_tracking, slope_interval
from thinking_sparks.plan import PLAN

nan = math.nan
YES, NO, UNSURE, PARTLY = "reproduced", "not reproduced", "inconclusive", "partly"


# --- persistence: Clopper-Pearson against the paper's "most" -------------------------------------

def test_proportion_ci_is_clopper_pearson():
    # scipy.stats.binomtest(k, n).proportion_ci() (method "exact") gives these
    assert proportion_ci(8, 10) == pytest.approx((0.44390453769, 0.97478927367), abs=1e-9)
    assert proportion_ci(0, 5) == pytest.approx((0.0, 0.52182375010), abs=1e-9)
    assert proportion_ci(1, 1) == pytest.approx((0.025, 1.0), abs=1e-12)
    assert all(math.isnan(x) for x in proportion_ci(0, 0))


@pytest.mark.parametrize("stay, leave, expected", [(10, 0, YES), (0, 10, NO), (7, 3, UNSURE)])
def test_most_heads_persist(stay, leave, expected):
    new = heads([1 + i % 5 for i in range(stay + leave)])
    tr = FakeTrace(["L0H0"], [["L0H0", *new], ["L0H0", *new[:stay]]])
    row = verdict_of(em.section4_verdicts({"sft": tr}, table3(), {}), "SFT heads persist")
    assert row.verdict == expected and row.value == stay / 10
    assert "'most'" in row.criterion and "Fig 2A/B" in row.paper
    assert (row.ci_low, row.ci_high) == pytest.approx(proportion_ci(stay, 10), abs=1e-3)


# --- switching: against the same-checkpoint null --------------------------------------------------

def test_switch_counts_on_a_hand_made_sequence():
    c = switch_counts([{"L1H0", "L1H1", "L0H0"}, {"L1H1"}, {"L1H0", "L1H1"}],
                      [{"L1H0", "L1H1"}, {"L1H1"}, None], {"L0H0"})
    assert c.values.tolist() == [["L1H0", 1, 1, 0], ["L1H1", 2, 0, 0]]
    assert switch_difference(c)[0] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="2 null circuits for 3"):
        switch_counts([set(), set(), set()], [set(), set()], set())


@dataclass
class NullTrace:
    """A run with a same-checkpoint null circuit per checkpoint (``Trace.nulls``)."""

    checkpoints: list[list[str]]
    nulls: list[list[str]] | None
    base_heads: list[str] = field(default_factory=lambda: ["L0H0"])
    run: str = "grpo-hard"

    @property
    def base(self):
        return SimpleNamespace(heads=self.base_heads, n_layers=6)

    @property
    def results(self):
        return [SimpleNamespace(heads=h, has_signal=True) for h in self.checkpoints]

    def live(self):
        return self.results


A, B = heads([1, 2, 3, 4, 5, 5]), [f"L{layer}H7" for layer in (1, 2, 3, 4, 5)] + ["L3H8"]


@pytest.mark.parametrize("checkpoints, nulls, expected", [
    # every head leaves at the next checkpoint, none is missing from a second sample of its checkpoint
    ([A, B, A, B, A], [A, B, A, B, A], YES),
    # steady heads that the second sample keeps: no switching beyond noise
    ([A, A, A, A, A], [A, A, A, A, A], NO),
    # three heads leave twice each and the null keeps them; the null misses the other three twice each
    ([A, A[3:], A, A[3:], A], [A[:3], A[3:], A[:3], A[3:], A], UNSURE),
])
def test_grpo_switches_against_the_same_checkpoint_null(checkpoints, nulls, expected):
    row = verdict_of(em.section4_verdicts({"grpo-hard": NullTrace(checkpoints, nulls)}, table3(), {}),
                     "GRPO switches")
    assert row.verdict == expected
    if expected == UNSURE:
        assert row.ci_low < 0 < row.ci_high and row.value == 0


def test_switching_without_a_null_or_with_one_head_says_why():
    row = verdict_of(em.section4_verdicts({"grpo-hard": NullTrace([A, B, A], None)}, table3(), {}), "GRPO switches")
    assert row.verdict == UNSURE and "null was not measured" in row.criterion
    one = [["L1H0"], [], ["L1H0"], []]
    row = verdict_of(em.section4_verdicts({"grpo-hard": NullTrace(one, one)}, table3(), {}), "GRPO switches")
    assert row.value == 1.0 and math.isnan(row.ci_low) and row.verdict == UNSURE  # before: reproduced (1/1)
    assert "needs 2 heads, 1 here" in row.criterion


# --- GRPO adds fewer heads than SFT: independent bootstrap draws ------------------------------------

def grpo_table(grpo: np.ndarray, sft: np.ndarray) -> pd.DataFrame:
    t = table3().astype({"emergent": float})
    t = pd.concat([t, t.iloc[:1].assign(method="grpo-hard")], ignore_index=True)
    t.loc[t.method == "grpo-hard", "emergent"] = float(np.median(grpo))
    t.loc[t.method == "sft", "emergent"] = float(np.median(sft))
    t.attrs["boot"] = {"grpo-hard": pd.DataFrame({"emergent": grpo}), "sft": pd.DataFrame({"emergent": sft})}
    return t


def test_independent_difference_pairs_every_draw():
    assert independent_difference(np.arange(5), np.arange(10, 15)) == pytest.approx((-13.4, -6.6))
    assert all(math.isnan(x) for x in independent_difference(np.array([]), np.arange(3)))


@pytest.mark.parametrize("grpo, sft, expected", [((2, 5), (10, 14), YES), ((10, 14), (2, 5), NO),
                                                 ((6, 11), (7, 10), UNSURE)])
def test_grpo_adds_fewer_heads(grpo, sft, expected):
    rng = np.random.default_rng(0)
    t = grpo_table(rng.integers(grpo[0], grpo[1] + 1, 200), rng.integers(sft[0], sft[1] + 1, 200))
    row = verdict_of(em.section4_verdicts({}, t, {}), "GRPO adds fewer")
    assert row.verdict == expected and "Table 3" in row.paper and "19" in row.paper and "34" in row.paper


def test_grpo_fewer_heads_draws_are_not_coupled_by_position():
    sft = np.random.default_rng(1).integers(5, 16, 200)
    row = verdict_of(em.section4_verdicts({}, grpo_table(sft - 1, sft), {}), "GRPO adds fewer")
    # before: draw i minus draw i was -1 every time, a zero-width interval that reproduced the claim
    assert row.verdict == UNSURE and row.ci_low < -5 and row.ci_high > 5


# --- distillation's heads sit earlier: heads resampled independently ----------------------------------

def test_layer_difference_known_cases():
    value, lo, hi = layer_difference(heads([0, 0, 1, 1, 1, 0]), heads([4, 5, 5, 4, 4, 5]), 6)
    assert value == pytest.approx(-0.8) and -1 <= lo <= value <= hi < 0
    value, lo, hi = layer_difference(heads([2, 3]), ["L2H5", "L3H5"], 6)
    assert value == 0.0 and lo < 0 < hi
    assert em.MIN_HEADS == PLAN.section4.min_heads == 2
    value, lo, hi = layer_difference(["L0H0"], ["L5H0"], 6)
    assert value == -1.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in layer_difference([], ["L5H0"], 6))


@pytest.mark.parametrize("distill, sft, expected", [([0, 0, 1, 1, 1, 0], [4, 5, 5, 4, 4, 5], YES),
                                                    ([4, 5, 5, 4, 4, 5], [0, 0, 1, 1, 1, 0], NO),
                                                    ([1, 2, 3, 4], [1, 2, 3, 4], UNSURE), ([0], [5], UNSURE)])
def test_distillation_heads_sit_earlier(distill, sft, expected):
    traces = {"distill": FakeTrace(["L0H9"], [heads(distill)]),
              "sft": FakeTrace(["L0H9"], [[f"L{layer}H{7 + j}" for j, layer in enumerate(sft)]])}
    row = verdict_of(em.section4_verdicts(traces, table3(), {}), "Distillation's emergent heads sit in earlier")
    assert row.verdict == expected and "Fig 14" in row.paper
    assert ("needs 2 heads a side" in row.criterion) == (len(distill) < 2)


# --- about two-thirds retained: direction and number ----------------------------------------------------

@pytest.mark.parametrize("share, expected", [
    ((0.65, 0.6, 0.7), YES),            # most, not all, and 2/3 inside
    ((0.9, 0.85, 0.95), PARTLY),        # most, not all; but 2/3 outside: the number is not reproduced
    ((0.3, 0.2, 0.4), NO),              # at most half retained
    ((1.0, 1.0, 1.0), NO),              # all retained, as the paper says only of the MLP nodes
    ((0.55, 0.45, 0.65), UNSURE),       # straddles one half
    ((0.8, 0.6, 1.0), UNSURE),          # reaches "all"
])
def test_two_thirds_of_base_heads_retained(share, expected):
    row = verdict_of(em.section4_verdicts({}, table3(retained=share), {}), "About two-thirds")
    assert row.verdict == expected and "two-thirds" in row.paper and "0.67" in row.criterion


# --- new heads track the reward: first differences, inverted permutation test ------------------------------

def reward_log(new_heads, reward) -> dict:
    """``reward_tracking`` of per-checkpoint levels (one logged step per checkpoint: window mean = level)."""
    steps = list(range(1, len(reward) + 1))
    return {"grpo-hard": reward_tracking(pd.DataFrame({"step": steps, "emergent": new_heads}),
                                         pd.DataFrame({"step": steps, "accuracy": reward}), n_perm=200)}


def levels(changes, start=0.0):
    return list(start + np.concatenate([[0.0], np.cumsum(changes)]))


DX = [1, -1, 2, 0, -2, 1, 3, -1, 1, -2, 2]
JITTER = [0.004, -0.003, 0.001, 0.002, -0.004, 0.003, -0.001, 0.0, -0.002, 0.001, 0.004]


@pytest.mark.parametrize("dx, dy, expected", [
    (DX, [0.05 * d + j for d, j in zip(DX, JITTER)], YES),
    (DX, [-0.05 * d + j for d, j in zip(DX, JITTER)], NO),
    (DX, [0.03, 0.01, -0.02, 0.04, 0.02, -0.03, -0.01, 0.05, -0.04, 0.0, 0.01], UNSURE),
])
def test_new_heads_track_the_reward(dx, dy, expected):
    row = verdict_of(em.section4_verdicts({}, table3(), reward_log(levels(dx, 5), levels(dy, 0.3))),
                     "The number of new heads")
    assert row.verdict == expected and "11 changes between 12" in row.statistic
    if expected == UNSURE:
        assert row.ci_low < 0 < row.ci_high


def test_trending_levels_without_co_movement_are_not_a_claim():
    heads_up = levels([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0], 2)
    reward_up = levels([0.05, 0.01, 0.0, 0.04, 0.03, 0.0, 0.02, 0.05, 0.01, 0.0, 0.03], 0.2)
    r = reward_log(heads_up, reward_up)["grpo-hard"]
    assert r["spearman"] > 0.9 and r["p"] < 0.05  # the old rule (levels): reproduced
    row = verdict_of(em.section4_verdicts({}, table3(), {"grpo-hard": r}), "The number of new heads")
    assert row.verdict == UNSURE


@pytest.mark.parametrize("new_heads, why", [
    ([0, 2, 1, 4], "3 changes are too few"),  # rho = 1 over four checkpoints (before: an interval, reproduced)
    ([3], "1 checkpoint(s) with a reward"),
    ([3, 5], "2 checkpoint(s) with a reward"),
    ([0, 1, 2, 3, 4, 5], "changes by the same amount"),  # steady rise: no change to compare the reward's with
])
def test_too_few_checkpoints_give_no_interval(new_heads, why):
    reward = [0.1 * h for h in new_heads]
    row = verdict_of(em.section4_verdicts({}, table3(), reward_log(new_heads, reward)), "The number of new heads")
    assert row.verdict == UNSURE and math.isnan(row.ci_low) and why in row.criterion


def test_slope_interval_known_values():
    out = slope_interval([0, 1, 2, 3, 4, 5], [0.0, 0.2, 0.1, 0.5, 0.4, 0.6])
    # 15 pairwise slopes, sorted: -.1 -.1 .05 .05 .067 .1 .1 .12 .15 .15 .167 .167 .2 .2 .4 (median .12);
    # S = 13 - 2 = 11. Kendall's null over the 720 orders: |S| >= 13 in 12 (1.7 %), >= 11 in 40 (5.6 %),
    # so the 95 % test rejects at |S| >= 13 and the CI runs from the 2nd to the 14th slope
    assert out["finite"] and out["slope"] == pytest.approx(0.12) and out["tau"] == pytest.approx(11 / 15)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((-0.1, 0.2))
    assert out["p"] == pytest.approx(40 / 720)
    assert not slope_interval([1, 1, 1], [1, 2, 3])["finite"]  # x constant: no slope


def walk(rng, n, coupling):
    dh = rng.choice([-1, 0, 1], n - 1)
    new_heads = np.maximum(0, 5 + np.concatenate([[0], np.cumsum(dh)]))
    dr = rng.normal(0, 0.05, n - 1) + coupling * np.diff(new_heads)
    return list(new_heads), levels(dr, 0.3)


@pytest.mark.parametrize("coupling, low, high", [(0.0, 0, 5), (0.1, 80, 100)])
def test_reward_rule_calibration(coupling, low, high):
    """100 simulated GRPO runs of 10 checkpoints: new heads a lazy +-1 random walk, reward a Gaussian
    random walk (step sd 0.05). Independent (coupling 0): the rule claims at most 5 of 100 (exact
    permutation test: 2.5 % expected). Planted coupling 0.1 reward per new head (correlation of the
    changes about 0.86): it claims at least 80 of 100."""
    claims = 0
    for seed in range(100):
        nh, rw = walk(np.random.default_rng(seed), 10, coupling)
        row = verdict_of(em.section4_verdicts({}, table3(), reward_log(nh, rw)), "The number of new heads")
        claims += row.verdict == YES
    assert low <= claims <= high, claims


def test_the_plan_gives_every_section4_entry_a_reason():
    from thinking_sparks import plan

    t = plan.table()  # raises when an entry has no reason
    s4 = t[t.entry.str.startswith("section4.")].set_index("entry").value
    assert s4["section4.retained_share"] == pytest.approx(2 / 3) and s4["section4.persist_share"] == 0.5
    assert s4["section4.retained_contrast"] == 1.0 and s4["section4.retained_majority"] == 0.5


# --- the GRPO claims pooled over runs (the second set's grpo_pool) ---------------------------------------
def _per_checkpoint(heads_seq, rewards_seq):
    return {"per_checkpoint": pd.DataFrame({"step": range(len(heads_seq)), "new_heads": heads_seq,
                                            "reward": rewards_seq})}


def test_pooled_reward_row_pools_each_runs_changes():
    """Two runs whose reward moves 0.01 per new head at every change: the pooled slope is 0.01 with an
    interval above 0 (7 + 6 = 13 changes: the permutation test can reach 95 %), while neither run's 6-7
    changes alone ties it down as tightly; a run with a NaN reward loses only that checkpoint."""
    rng = np.random.default_rng(1)
    a = np.cumsum(rng.integers(-3, 4, 8)).astype(float)
    b = np.cumsum(rng.integers(-3, 4, 7)).astype(float)
    ra, rb = 0.3 + 0.01 * a, 0.1 + 0.01 * b
    rows = {"x": _per_checkpoint(a, ra), "y": _per_checkpoint(np.r_[b, 5.0], np.r_[rb, np.nan])}
    row = em.pooled_reward_row(rows)
    assert row.value == pytest.approx(0.01) and row.ci_low > 0 and row.verdict == YES
    assert "13 changes between 15 x + y checkpoints" in row.statistic and "levels" not in row.statistic


def test_pooled_switch_row_counts_heads_per_run():
    """Heads of different runs are different units even with the same name; null data (a head missing from
    the next checkpoint exactly as often as from the same checkpoint's second circuit) claim nothing."""
    ckpts = [["L0H0", "L1H1"], ["L0H0"], ["L0H0", "L1H1"], ["L1H1"]]
    nulls = [["L0H0"], ["L0H0", "L1H1"], ["L1H1"], ["L1H1"]]
    def circuit(h):
        return SimpleNamespace(heads=h, has_signal=True)

    tr = SimpleNamespace(nulls=[circuit(n) for n in nulls], results=[circuit(c) for c in ckpts],
                         base=circuit([]), run="r")
    row = em.pooled_switch_row({"r1": tr, "r2": tr})
    assert "bootstrap over 4 heads" in row.statistic and row.statistic.count("r1 + r2") == 1
    assert row.value == pytest.approx(0.0) and row.verdict != YES
