"""The organism's premise checks: paired differences by problem, and the samples-per-problem parameter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thinking_sparks.evaluation.metrics import bootstrap_ci, per_problem
from thinking_sparks.organism import premises
from thinking_sparks.verdicts import COLUMNS


def _cell(run: str, correct: np.ndarray, mode: str = "default", difficulty: str = "hard") -> pd.DataFrame:
    """Samples of one cell from a ``(problems, n)`` 0/1 matrix."""
    n_problems, n = correct.shape
    return pd.DataFrame({"run": run, "mode": mode, "difficulty": difficulty,
                         "problem_id": np.repeat([f"p{i:03d}" for i in range(n_problems)], n),
                         "sample_index": np.tile(np.arange(n), n_problems), "correct": correct.reshape(-1).astype(bool)})


def _solves(first: int, n_problems: int = 100, n: int = 4) -> np.ndarray:
    """Problems ``0..first-1`` always solved, the rest never (problem difficulty shared by all models)."""
    out = np.zeros((n_problems, n), dtype=bool)
    out[:first] = True
    return out


def _rewards(change=0.05, lo=0.01, hi=0.09) -> pd.DataFrame:
    return pd.DataFrame([{"run": "grpo-hard", "term": "accuracy", "steps": 150, "window": 25, "first": 0.06,
                          "last": 0.06 + change, "change": change, "ci_low": lo, "ci_high": hi}])


def _unpaired_overlap(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The old rule: do the two cells' separate 95% bootstrap intervals of pass@1 overlap?"""
    lo_a, _ = bootstrap_ci(per_problem(a, ks=[1])["pass@1"])
    _, hi_b = bootstrap_ci(per_problem(b, ks=[1])["pass@1"])
    return lo_a <= hi_b


def test_paired_difference_decides_what_two_overlapping_intervals_cannot():
    # sft solves every problem base solves and 8 more: pass@1 0.38 against 0.30, intervals of +-0.09
    base, sft = _cell("base", _solves(30)), _cell("sft", _solves(38))
    assert _unpaired_overlap(sft, base)  # the unpaired rule would call this inconclusive
    out = premises.claims(pd.concat([base, sft]), _rewards())
    assert list(out.columns) == list(COLUMNS)
    row = out.set_index("claim").loc["SFT raises hard-set pass@1 over base"]
    assert row.verdict == "reproduced"
    assert row.value == pytest.approx(0.08) and 0 < row.ci_low < 0.08 < row.ci_high < 0.16
    assert "n=4" in row.statistic and "paired" in row.criterion


def test_no_difference_is_never_reproduced():
    rng = np.random.default_rng(0)
    same = _solves(30)
    base, sft = _cell("base", same), _cell("sft", same.copy())
    # distill: the same per-problem rates, fresh samples (differences are pure sampling noise)
    rates = rng.uniform(0, 0.2, size=(100, 1))
    base_noise = _cell("base", rng.random((100, 32)) < rates, difficulty="medium")
    distill = _cell("distill", rng.random((100, 32)) < rates, difficulty="medium")
    equal = premises.claims(pd.concat([base, sft]), _rewards()).set_index("claim")
    row = equal.loc["SFT raises hard-set pass@1 over base"]
    # nothing differs on any problem: no interval (a zero-width [0, 0] would decide from no variation at all)
    assert row.value == 0 and np.isnan(row.ci_low) and np.isnan(row.ci_high) and row.verdict == "inconclusive"
    noise = premises.claims(pd.concat([base_noise, distill]), _rewards(), difficulty="medium").set_index("claim")
    row = noise.loc["distillation raises medium-set pass@1 over base"]
    assert row.ci_low < 0 < row.ci_high or row.ci_high <= 0
    assert row.verdict != "reproduced"


def test_every_premise_row_and_missing_cells_left_out():
    base, sft, distill = _cell("base", _solves(2)), _cell("sft", _solves(10)), _cell("distill", _solves(1))
    think, no_think = _cell("hybrid", _solves(9), "think"), _cell("hybrid", _solves(3), "no_think")
    teacher, grpo = _cell("teacher", _solves(40)), _cell("grpo-hard", _solves(2))
    samples = pd.concat([base, sft, distill, think, no_think, teacher, grpo])
    got = premises.claims(samples, _rewards()).set_index("claim")
    assert got.loc["SFT raises hard-set pass@1 over base", "verdict"] == "reproduced"
    assert got.loc["distillation raises hard-set pass@1 over base", "verdict"] == "not reproduced"
    assert got.loc["thinking on beats thinking off on the hard set", "verdict"] == "reproduced"
    teacher_row = got.loc["the teacher is the strongest model on the hard set"]
    # the deciding comparison: the lowest interval among all six other models (sft's, 0.30)
    assert teacher_row.value == pytest.approx(0.30) and "teacher minus sft," in teacher_row.statistic
    assert "of 6 other models" in teacher_row.statistic
    assert teacher_row.verdict == "reproduced"
    assert got.loc["GRPO accuracy reward rises (grpo-hard)", "verdict"] == "reproduced"
    # grpo-hard answers exactly as base on every problem: no interval, so undecided (before: [0, 0], not reproduced)
    assert got.loc["grpo-hard raises hard-set pass@1 over base", "verdict"] == "inconclusive"
    only = premises.claims(pd.concat([base, sft]), _rewards(0.01, -0.02, 0.04))
    assert list(only.claim) == ["SFT raises hard-set pass@1 over base", "GRPO accuracy reward rises (grpo-hard)"]
    assert list(only.verdict) == ["reproduced", "inconclusive"]


def test_difference_needs_the_same_problems_and_the_sample_columns():
    base, sft = _cell("base", _solves(3)), _cell("sft", _solves(5, n_problems=90))
    with pytest.raises(ValueError, match="same problems"):
        premises.difference(pd.concat([base, sft]), ("sft", "default"), ("base", "default"))
    assert premises.difference(base, ("sft", "default"), ("base", "default")) is None  # sft not evaluated
    with pytest.raises(ValueError, match="lacks columns"):
        premises.claims(base.drop(columns="mode"), _rewards())


def test_samples_per_problem_are_validated():
    from thinking_sparks.organism import scores
    from thinking_sparks.runs import make_params

    assert make_params("02_organism", {}).hard_n == premises.HARD_N
    assert make_params("02_organism", {"hard_n": 8}).hard_n == 8
    for bad in (0, -4):
        with pytest.raises(ValueError, match="hard_n must be a positive integer"):
            make_params("02_organism", {"hard_n": bad})
    for bad in ("16", 4.0, True):
        with pytest.raises(ValueError, match="hard_n must be int"):
            make_params("02_organism", {"hard_n": bad})
    with pytest.raises(ValueError, match="hard_n .* must be an integer >= 1"):
        scores.accuracy_table(["organism/tiny/base@final"], hard_n=0)
    with pytest.raises(ValueError, match="n .* must be an integer >= 1"):
        scores.zoo_evaluation("tiny", n=0)
    assert scores._n_for("hard", 4, 32) == 32 and scores._n_for("easy", 4, 32) == 4
    assert scores._n_for("hard", 4, None) == 4


def test_cli_rejects_a_bad_hard_n():
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    res = CliRunner().invoke(app, ["zoo", "report", "--profile", "tiny", "--hard-n", "0"])
    assert res.exit_code == 2 and "--hard-n" in res.output


def test_thinking_is_also_checked_on_the_other_sets():
    hard = [_cell("hybrid", _solves(3), "think"), _cell("hybrid", _solves(2), "no_think")]
    easy = [_cell("hybrid", _solves(40), "think", "easy"), _cell("hybrid", _solves(20), "no_think", "easy")]
    got = premises.claims(pd.concat(hard + easy), _rewards()).set_index("claim")
    assert got.loc["thinking on beats thinking off on the hard set", "verdict"] == "inconclusive"
    easy_row = got.loc["thinking on beats thinking off on the easy set"]
    assert easy_row.verdict == "reproduced" and easy_row.value == pytest.approx(0.20)
    assert easy_row.statistic.startswith("easy pass@1")
