"""The power calculation (``thinking_sparks.power``) against hand computations, and the plan's sizes
that follow from it."""

from __future__ import annotations

import math

import pytest

from thinking_sparks import plan, power
from thinking_sparks.verdicts import Verdict, verdict_table


def test_problems_needed_matches_a_hand_computation():
    # (1.959964 * 0.7071068 / 0.03)^2 = 2134.14 -> 2135; (1.959964 / 0.03)^2 = 4268.3 -> 4269
    assert power.problems_needed(math.sqrt(0.5), half_width=0.03) == 2135
    assert power.problems_needed(1.0, half_width=0.03) == 4269
    assert power.problems_needed(0.2, half_width=0.05, confidence=0.9) == 44  # (1.644854 * 0.2 / 0.05)^2 = 43.3
    assert power.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert power.half_width_at(math.sqrt(0.5), 200) == pytest.approx(0.097998, abs=1e-6)
    with pytest.raises(ValueError, match="half_width > 0"):
        power.problems_needed(0.5, half_width=0)


def test_sd_bound_with_and_without_the_covariance_assumption():
    assert power.sd_bound() == pytest.approx(math.sqrt(0.5))
    assert power.sd_bound(0.2, 0.4) == pytest.approx(math.sqrt(0.16 + 0.24))  # 0.632456
    assert power.sd_bound(0.2, 0.4, nonnegative_covariance=False) == pytest.approx(0.4 + math.sqrt(0.24))
    assert power.sd_bound(0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="p_a must lie in"):
        power.sd_bound(1.5)


def test_pilot_sd_splits_problems_and_samples():
    x, y = [[1, 1], [0, 0], [1, 0]], [[0, 0], [0, 0], [0, 1]]
    # differences of means 1, 0, 0: variance 1/3; sampling part (0 + 0 + 0.5/2 + 0.5/2) / 3 = 1/6
    assert power.pilot_sd(x, y) == pytest.approx(math.sqrt(1 / 3))
    assert power.pilot_sd(x, y, k=1) == pytest.approx(math.sqrt(1 / 6 + 1 / 3))
    assert power.pilot_sd(x, y, k=4) == pytest.approx(math.sqrt(1 / 6 + 1 / 12))
    with pytest.raises(ValueError, match="same problems"):
        power.pilot_sd(x, y[:2])


def _row(value, lo, hi, criterion="CI above 0", verdict="inconclusive"):
    return {"value": value, "ci_low": lo, "ci_high": hi, "criterion": criterion, "verdict": verdict}


def test_n_to_decide_on_literal_rows():
    assert power.n_to_decide(_row(0.01, -0.01, 0.03), 100) == 400  # w 0.02, d 0.01: 100 * 2^2
    crit = "paired 95% CI of the difference (bootstrap over problems) above 0"
    assert power.n_to_decide(_row(0.012, -0.002, 0.023, crit), 100) == 109  # 100 * (0.0125 / 0.012)^2 = 108.5
    assert power.n_to_decide(_row(0.9, 0.8, 1.1, "CI within (0, 1)"), 100) == 225  # bound 1: w 0.15, d 0.1
    assert power.n_to_decide(_row(-0.5, -0.7, 0.1, "CI below -0.4"), 50) == 800  # w 0.4, d 0.1: 50 * 16
    assert power.n_to_decide(_row(0.05, 0.01, 0.09, verdict="reproduced"), 100) is None
    assert power.n_to_decide(_row(0.0, -0.01, 0.01), 100) is None  # on the bound: no n decides it
    assert power.n_to_decide(_row(0.01, float("nan"), float("nan")), 100) is None
    assert power.n_to_decide(_row(4, 2, 6, "CI above 2"), 497) == 498  # ends on its bound: undecided at n itself
    v = Verdict("c", "p", "s", 0.3, 0.1, 0.5, above=0.2)
    assert v.verdict == "inconclusive"
    assert power.n_to_decide({**v.row(), "above": v.above, "below": v.below}, 10) == 40  # w 0.2, d 0.1


def test_with_n_to_decide_adds_one_optional_column():
    table = verdict_table([Verdict("a", "p", "hard pass@1", 0.01, -0.01, 0.03),
                           Verdict("b", "p", "hard pass@1", 0.05, 0.01, 0.09),
                           Verdict("c", "p", "reward", 0.01, -0.01, 0.03)])
    out = power.with_n_to_decide(table, [100, 100, None])
    assert list(out.columns[:-1]) == list(table.columns) and out.columns[-1] == "n_to_decide"
    assert out["n_to_decide"].tolist()[0] == 400 and out["n_to_decide"].isna().tolist() == [False, True, True]
    with pytest.raises(ValueError, match="one sample size per row"):
        power.with_n_to_decide(table, [1])


def test_every_plan_entry_has_a_reason_and_the_sizes_follow_the_calculation():
    frame = plan.table()
    assert frame["reason"].str.len().min() > 20
    sizes = plan.PLAN.sizes
    n = power.problems_needed(power.sd_bound(), plan.PLAN.stats.half_width, plan.PLAN.stats.confidence)
    assert n == 2135 and sizes.hard_size == n and sizes.medium_size == n and sizes.premise_k == 1
    assert sizes.head_problems == n  # pages 05/06 at the calculation's n (the easy set gives what it holds)


def test_the_easy_set_holds_every_problem_its_levels_give():
    from thinking_sparks.organism import task

    levels, size, seed = task.EVAL_SETS["easy"]
    assert size == plan.PLAN.sizes.easy_size < 2135
    with pytest.raises(ValueError, match="cannot draw"):
        task.make_problems(size + 1, levels, seed, split="eval", unique=True)
    first = task.make_problems(100, levels, seed, split="eval", unique=True)
    assert task.make_problems(size, levels, seed, split="eval", unique=True)[:100] == first  # seed kept


def test_page_05_rows_take_the_problems_of_their_sets():
    import pandas as pd

    from thinking_sparks.pages import interventions as page

    table = verdict_table([Verdict("a", "T1", "pass@1 no ablation − emergent ablated, paired over problems",
                                   0.01, -0.01, 0.03),
                           Verdict("b", "T5", "hard pass@1 x1.3 sft − no intervention, paired over problems",
                                   0.01, -0.02, 0.03)])
    pooled = pd.DataFrame({"condition": ["none", "none", "none", "none", "ablate"],
                           "set": ["easy", "easy", "hard", "hard", "hard"], "problem_id": ["p1", "p2", "p1", "p3", "p3"]})
    per_set = pd.DataFrame({"set": ["organism/hard"] * 3 + ["organism/easy"], "difficulty": ["hard"] * 3 + ["easy"],
                            "problem_id": ["p1", "p2", "p3", "p1"]})
    assert page.sample_sizes(table, pooled, per_set) == [4, 3]
    assert page.sample_sizes(table, pooled.iloc[:0], per_set) == [None, 3]
    out = power.with_n_to_decide(table, page.sample_sizes(table, pooled, per_set))
    assert out["n_to_decide"].tolist() == [16, 19]  # 4 * (0.02 / 0.01)^2; 3 * (0.025 / 0.01)^2 = 18.75
