"""pass@k, success@k and bootstrap CIs against hand-computed values."""

from __future__ import annotations

import math
from math import comb

import numpy as np
import pandas as pd
import pytest

from thinking_sparks.evaluation.metrics import (
    bootstrap_ci,
    default_ks,
    pass_at_k,
    per_problem,
    success_at_k,
    summarize,
)


def samples(table: dict[str, tuple[str, list[int]]]) -> pd.DataFrame:
    """{problem_id: (difficulty, [correct in generation order])} -> tidy samples table."""
    rows = [
        {"problem_id": pid, "difficulty": diff, "sample_index": j, "correct": bool(v)}
        for pid, (diff, flags) in table.items()
        for j, v in enumerate(flags)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (4, 1, 1, 0.25),
        (4, 0, 4, 0.0),
        (4, 4, 1, 1.0),
        (4, 2, 3, 1.0),  # n - c < k
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - comb(7, 5) / comb(10, 5)),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n():
    n, c, k = 1000, 7, 64
    exact = 1 - comb(n - c, k) / comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-10)


def test_pass_at_1_is_mean_correctness():
    for n in (1, 3, 8):
        for c in range(n + 1):
            assert pass_at_k(n, c, 1) == pytest.approx(c / n)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (4, 5, 1), (4, -1, 1), (4, 1, 0), (4, 1, 5)])
def test_pass_at_k_rejects_bad_input(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_success_at_k_depends_on_order():
    early, late = [True, False, False, False], [False, False, False, True]
    assert success_at_k(early, 1) == 1.0 and success_at_k(late, 1) == 0.0
    assert success_at_k(early, 2) == 1.0 and success_at_k(late, 2) == 0.0
    assert success_at_k(late, 4) == 1.0
    # pass@k is the same for both orders
    assert pass_at_k(4, 1, 2) == 0.5
    with pytest.raises(ValueError):
        success_at_k(early, 5)


def test_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(6) == [1, 2, 4]
    assert default_ks(64)[-1] == 64


def test_per_problem_and_summary_by_difficulty():
    df = samples({
        "a": ("easy", [1, 0, 0, 0]),   # c=1: pass@2 = 0.5, success@1 = 1, success@2 = 1
        "b": ("easy", [0, 0, 0, 1]),   # c=1: pass@2 = 0.5, success@1 = 0, success@2 = 0
        "c": ("hard", [0, 0, 0, 0]),   # c=0
        "d": ("hard", [1, 1, 0, 1]),   # c=3: pass@2 = 1
    })
    # shuffled rows: order is recovered from sample_index
    df = df.sample(frac=1.0, random_state=0)
    table = per_problem(df).set_index("problem_id")
    assert table.loc["a", "c"] == 1 and table.loc["d", "c"] == 3
    assert table.loc["a", "pass@2"] == 0.5 and table.loc["d", "pass@2"] == 1.0
    assert table.loc["a", "success@1"] == 1.0 and table.loc["b", "success@1"] == 0.0
    summary = summarize(df, n_boot=200, seed=0)
    assert summary.ks == [1, 2, 4]
    assert summary.pass_at_1 == pytest.approx((0.25 + 0.25 + 0 + 0.75) / 4)
    assert summary.get("pass", 2, "easy").value == 0.5
    assert summary.get("success", 1, "easy").value == 0.5
    assert summary.get("success", 2, "easy").value == 0.5
    assert summary.get("pass", 1, "hard").value == pytest.approx(0.375)
    assert summary.get("success", 4, "all").value == 0.75
    frame = summary.to_frame()
    assert set(frame.columns) == {"difficulty", "metric", "k", "value", "ci_low", "ci_high", "n_problems"}
    assert set(frame["difficulty"]) == {"all", "easy", "hard"}
    assert len(frame) == 3 * 2 * 3
    d = summary.to_dict()
    assert d["easy"]["pass@2"]["value"] == 0.5 and d["all"]["n_problems"] == 4


def test_single_difficulty_has_only_the_pooled_group():
    df = samples({"a": ("all", [1, 0]), "b": ("all", [0, 0])})
    frame = summarize(df, n_boot=50).to_frame()
    assert set(frame["difficulty"]) == {"all"}


def test_k_larger_than_n_is_rejected():
    df = samples({"a": ("easy", [1, 0]), "b": ("easy", [0, 1, 1, 0])})
    with pytest.raises(ValueError, match="k=4"):
        per_problem(df, ks=[4])
    assert per_problem(df, ks=[2])["pass@2"].tolist() == [1.0, pytest.approx(5 / 6)]


def test_bad_samples_table():
    with pytest.raises(ValueError, match="lacks columns"):
        per_problem(pd.DataFrame({"problem_id": ["a"]}))
    with pytest.raises(ValueError, match="empty"):
        per_problem(pd.DataFrame(columns=["problem_id", "difficulty", "sample_index", "correct"]))


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    rng = np.random.default_rng(1)
    values = rng.random(50) < 0.3
    lo, hi = bootstrap_ci(values, n_boot=500, seed=3)
    assert lo <= values.mean() <= hi
    assert lo < hi
    assert (lo, hi) == bootstrap_ci(values, n_boot=500, seed=3)
    assert (lo, hi) != bootstrap_ci(values, n_boot=500, seed=4)
    # a 90% interval is no wider than the 95% one
    lo90, hi90 = bootstrap_ci(values, n_boot=500, seed=3, alpha=0.1)
    assert hi90 - lo90 <= hi - lo
    assert all(np.isnan(bootstrap_ci([0.5])))  # one problem: no interval, not a zero-width one
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_summary_cis_contain_values():
    df = samples({f"p{i}": ("easy" if i % 2 else "hard", [(i * j) % 3 == 0 for j in range(4)]) for i in range(20)})
    summary = summarize(df, n_boot=300, seed=0)
    for v in summary.values:
        assert v.ci_low <= v.value <= v.ci_high
    assert summarize(df, n_boot=300, seed=0).to_frame().equals(summary.to_frame())


def test_paired_difference_pairs_problems():
    import pandas as pd

    from thinking_sparks.evaluation.metrics import paired_difference

    def frame(correct: dict[str, list[bool]]) -> pd.DataFrame:
        return pd.DataFrame([{"problem_id": pid, "difficulty": "all", "sample_index": j, "correct": c}
                             for pid, cs in correct.items() for j, c in enumerate(cs)])

    before = frame({"a": [0, 0], "b": [1, 0], "c": [1, 1], "d": [0, 0]})
    after = frame({"d": [1, 1], "c": [1, 1], "b": [1, 1], "a": [1, 0]})  # other order: joined on ids
    change, lo, hi = paired_difference(after, before, n_boot=500)
    assert change == pytest.approx((0.5 + 0.5 + 0 + 1) / 4)
    assert 0 <= lo <= change <= hi <= 1
    same, lo0, hi0 = paired_difference(before, before)
    # no change on any problem: nothing varies, so there is no interval (a zero-width [0, 0] would decide)
    assert same == 0 and math.isnan(lo0) and math.isnan(hi0)
    with pytest.raises(ValueError, match="same problems"):
        paired_difference(before, frame({"a": [1], "z": [0]}))


def test_intervals_from_scipy_known_values():
    from thinking_sparks.evaluation.intervals import difference_ci, mean_ci, proportion_ci

    lo, hi = proportion_ci(3, 10)  # Clopper-Pearson, as tables give it
    assert (round(lo, 4), round(hi, 4)) == (0.0667, 0.6525)
    assert all(math.isnan(x) for x in proportion_ci(0, 0))
    values = np.r_[np.zeros(90), np.ones(10)]  # pass@1 of 10 %: skewed, BCa
    lo, hi = mean_ci(values, n_resamples=2000, seed=0)
    assert 0.03 < lo < 0.1 < hi < 0.18 and (lo, hi) == mean_ci(values, n_resamples=2000, seed=0)
    for constant in ([0.0] * 5, [0.25] * 5, [0.5]):  # nothing varies: no interval (never a zero-width one)
        assert all(math.isnan(x) for x in mean_ci(constant))
    lo, hi = difference_ci(values + 0.2, values, n_resamples=1000)
    assert lo < 0.2 < hi
