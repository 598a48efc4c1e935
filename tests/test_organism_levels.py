"""The difficulty pilot (organism.levels): its table on the tiny zoo, its problems kept out of the eval
sets, the Wilson interval, and the level choice on literal pilot tables."""

from __future__ import annotations

import pandas as pd
import pytest

from thinking_sparks.organism import levels, task
from thinking_sparks.plan import PLAN, table


def _table(cells: dict[str, list[float]]) -> pd.DataFrame:
    """A literal pilot table: model -> pass@1 at levels 1, 2, 3, ..."""
    return pd.DataFrame([{"model": m, "level": i + 1, "pass@1": v} for m, row in cells.items()
                         for i, v in enumerate(row)])


def test_pilot_on_the_tiny_zoo_has_one_row_per_model_and_level(tiny_zoo):
    out = levels.pilot("tiny", levels=(1, 2), n_problems=3, k=2, runs=("base", "hybrid"))
    assert list(out.columns) == levels.PILOT_COLUMNS
    assert list(zip(out.model, out.level)) == [("base", 1), ("base", 2), ("hybrid (think)", 1), ("hybrid (think)", 2),
                                               ("hybrid (no_think)", 1), ("hybrid (no_think)", 2)]
    assert out.n_answers.tolist() == [6] * 6 and out.n_problems.tolist() == [3] * 6
    assert ((out.ci_low <= out["pass@1"]) & (out["pass@1"] <= out.ci_high)).all()
    assert (out.ci_high > out.ci_low).all()
    assert out[out.run == "base"].distinct_from_base.tolist() == [0.0, 0.0]  # the base against itself
    assert out.distinct_from_base.between(0, 1).all()
    shown = levels.wide(out)
    assert list(shown.columns) == ["model", "L1", "L2"] and len(shown) == 3


def test_pilot_problems_are_disjoint_from_every_eval_set():
    seeds = {seed for _, _, seed in task.EVAL_SETS.values()}
    assert PLAN.levels.pilot_seed not in seeds
    fixed = levels.fixed_expressions()
    assert len(fixed) == 300  # the three role sets, 100 distinct problems each, disjoint by level
    pilots = set()
    for level in task.LEVELS:
        drawn = levels.pilot_problems(level, PLAN.levels.pilot_problems, PLAN.levels.pilot_seed, fixed)
        assert {p.level for p in drawn} == {level}
        assert not {p.expression for p in drawn} & fixed
        assert len({p.expression for p in drawn}) == len(drawn)
        pilots |= {p.expression for p in drawn}
    # the set chosen from the pilot holds none of its problems
    calibrated = set(task.eval_set("calibrated")["expression"])
    assert len(calibrated) == task.EVAL_SETS["calibrated"][1] and not calibrated & pilots
    # level 1's eval split is small and mostly in the easy set: fewer problems, never a repeat
    assert len(levels.pilot_problems(1, 100, PLAN.levels.pilot_seed, fixed)) < 100
    with pytest.raises(ValueError, match="seed of a fixed eval set"):
        levels.pilot_problems(3, 5, task.EVAL_SETS["hard"][2])
    with pytest.raises(ValueError, match="unknown difficulty level 6"):
        levels.pilot_problems(6, 5, PLAN.levels.pilot_seed)


def test_wilson_interval_literal_values():
    # scipy.stats.binomtest(3, 10).proportion_ci(method="wilson") = (0.10779, 0.60322)
    p, lo, hi = levels.wilson(3, 10)
    assert p == 0.3 and lo == pytest.approx(0.107791, abs=1e-6) and hi == pytest.approx(0.603222, abs=1e-6)
    assert levels.wilson(0, 16)[1:] == (0.0, pytest.approx(0.193608, abs=1e-6))
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        levels.wilson(5, 4)


def test_choose_levels_picks_the_range_that_puts_every_model_in_band():
    pilot = _table({"a": [0.9, 0.5, 0.1], "b": [0.7, 0.1, 0.0]})
    choice = levels.choose_levels(pilot, band=(0.2, 0.8))
    assert choice.levels == (1, 2)
    assert choice.mix == {"a": 0.7, "b": 0.4} and choice.outside == () and choice.all_in_band
    # (1, 2, 3) also holds both, with a smaller margin (b at 0.267): ranked second
    assert choice.candidates.levels.tolist()[:2] == [(1, 2), (1, 2, 3)]
    assert choice.sentence() == "Levels 1, 2 put every compared model within 20%-80% pass@1."


def test_choose_levels_says_when_no_level_puts_a_model_in_band():
    pilot = _table({"base": [0.05, 0.01, 0.0], "sft": [0.12, 0.03, 0.0]})
    choice = levels.choose_levels(pilot, band=(0.2, 0.8))
    assert choice.levels is None and not choice.all_in_band
    assert choice.sentence() == "No level mix puts any compared model within 20%-80% pass@1."


def test_choose_levels_names_the_models_left_outside():
    pilot = _table({"base": [0.1, 0.0, 0.0], "sft": [0.95, 0.6, 0.3], "teacher": [1.0, 0.9, 0.7]})
    choice = levels.choose_levels(pilot, band=(0.2, 0.8))
    assert choice.levels == (3,) and choice.outside == ("base",)
    assert choice.mix == {"base": 0.0, "sft": 0.3, "teacher": 0.7}
    assert "outside stay base (0%)" in choice.sentence()
    only = levels.choose_levels(pilot, models=["sft", "teacher"], band=(0.2, 0.8))
    # (3,): sft 0.3, teacher 0.7, margin 0.1; (2, 3) holds both too (0.45, 0.8) with margin 0
    assert only.levels == (3,) and only.all_in_band
    assert only.candidates.levels.tolist()[:2] == [(3,), (2, 3)]


def test_choose_levels_bad_input():
    pilot = _table({"a": [0.5]})
    with pytest.raises(ValueError, match="band must satisfy"):
        levels.choose_levels(pilot, band=(0.8, 0.2))
    with pytest.raises(ValueError, match=r"models \['zz'\] are not in the pilot table"):
        levels.choose_levels(pilot, models=["zz"])
    with pytest.raises(ValueError, match="lacks columns"):
        levels.choose_levels(pilot.drop(columns="level"))


def test_plan_levels_have_reasons():
    shown = table()
    rows = shown[shown.entry.str.startswith("levels.")]
    assert rows.entry.tolist() == ["levels.band", "levels.pilot_seed", "levels.pilot_problems",
                                   "levels.pilot_samples", "levels.calibrated", "levels.premise_set", "levels.circuit",
                                   "levels.second_circuit", "levels.min_distinct", "levels.pilot_date"]
    assert set(PLAN.levels.calibrated) <= set(task.LEVELS) and set(PLAN.levels.circuit) <= set(task.LEVELS)


def test_by_level_splits_an_evaluation_by_the_level_in_the_problem_id():
    samples = pd.DataFrame({"run": ["base"] * 6 + ["hybrid"] * 6, "mode": ["default"] * 6 + ["think"] * 6,
                            "problem_id": ["L2-a", "L1-b", "L2-a", "L1-b", "L3-c", "L3-c"] * 2,
                            "sample_index": [0, 0, 1, 1, 0, 1] * 2, "correct": [1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0]})
    out = levels.by_level(samples)
    assert list(out.columns) == levels.PILOT_COLUMNS
    assert list(zip(out.model, out.level, out["pass@1"])) == [
        ("base", 1, 0.0), ("base", 2, 0.5), ("base", 3, 0.0),
        ("hybrid (think)", 1, 0.5), ("hybrid (think)", 2, 1.0), ("hybrid (think)", 3, 0.5)]
    assert out.k.tolist() == [2] * 6 and out.n_problems.tolist() == [1] * 6
    assert out.ci_high.iloc[1] == pytest.approx(0.905469, abs=1e-6)  # Wilson, 1 of 2
    with pytest.raises(ValueError, match="carries no level"):
        levels.by_level(samples.assign(problem_id="organism-easy-00001"))


def test_standing_says_where_each_pair_can_differ():
    pilot = _table({"base": [0.25, 0.1, 0.0], "sft": [0.9, 0.6, 0.3], "hybrid (think)": [0.5, 0.3, 0.1],
                    "hybrid (no_think)": [0.1, 0.0, 0.0]})
    assert levels.standing(pilot, band=(0.2, 0.8)) == [
        ("sft vs base: never both within 20%-80%: sft is at levels 2, 3, base at level 1 "
         "(best: sft 0.90 at level 1, base 0.25 at level 1)."),
        ("hybrid (think) vs hybrid (no_think): never both within 20%-80%: hybrid (think) is at levels 1, 2, "
         "hybrid (no_think) at no level (best: hybrid (think) 0.50 at level 1, hybrid (no_think) 0.10 at level 1).")]
    closer = _table({"base": [0.3, 0.1], "sft": [0.7, 0.4]})
    assert levels.standing(closer, band=(0.2, 0.8)) == [
        "sft vs base: both within 20%-80% at level 1 (L1: 0.70 vs 0.30), where a difference can show."]


def test_circuit_levels_need_answers_that_differ_from_the_base():
    pilot = _table({"base": [0.3, 0.1, 0.0], "sft": [0.7, 0.5, 0.3]})
    pilot["distinct_from_base"] = [0.0, 0.0, 0.0, 0.2, 0.9, 1.0]  # base rows, then sft's levels 1-3
    choice = levels.choose_circuit_levels(pilot, min_distinct=0.5, band=(0.2, 0.8))
    # level 1 is out (sft writes the base's answer on 80 % of its problems); of levels 2-3 each range holds
    # sft alone in band, and level 2 keeps the base nearest to it (margin -0.1)
    assert choice.levels == (2,)
    assert choice.mix == {"base": 0.1, "sft": 0.5} and choice.outside == ("base",)
    assert levels.choose_circuit_levels(pilot, min_distinct=0.95, band=(0.2, 0.8)).levels == (3,)
    none = levels.choose_circuit_levels(pilot.assign(distinct_from_base=0.1), min_distinct=0.5)
    assert none.levels is None
    with pytest.raises(ValueError, match="lacks column distinct_from_base"):
        levels.choose_circuit_levels(pilot.drop(columns="distinct_from_base"))


def test_sparks_zoo_levels_writes_the_pilot_table(tiny_zoo, tmp_path):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    out = tmp_path / "pilot.csv"
    res = CliRunner().invoke(app, ["zoo", "levels", "--profile", "tiny", "--levels", "2", "--runs", "base,sft",
                                   "--problems", "2", "--samples", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert table.model.tolist() == ["base", "sft"] and table.n_answers.tolist() == [2, 2]
    assert "eval set: " in res.stdout and "circuit set: " in res.stdout and "L2" in res.stdout
    bad = CliRunner().invoke(app, ["zoo", "levels", "--profile", "tiny", "--runs", "nope"])
    assert bad.exit_code != 0 and "unknown runs ['nope']" in bad.output


def test_choose_levels_ranks_compared_pairs_first():
    # (1,) and (1, 2): three models in band but no compared pair (base at 0.05, 0.175);
    # (2,): two models, and they are the pair sft vs base
    pilot = _table({"base": [0.05, 0.3], "sft": [0.5, 0.7], "teacher": [0.6, 0.95], "grpo-easy": [0.5, 0.9]})
    choice = levels.choose_levels(pilot, band=(0.2, 0.8))
    assert choice.levels == (2,) and choice.outside == ("teacher", "grpo-easy")
    assert choice.candidates.iloc[0][["pairs_in_band", "in_band"]].tolist() == [1, 2]


def test_choose_levels_skips_ranges_a_set_cannot_fill():
    pilot = _table({"base": [0.3, 0.1], "sft": [0.6, 0.3]})
    assert levels.choose_levels(pilot, band=(0.2, 0.8)).levels == (1,)
    # 100 problems: level 1 alone would need 100 of its 50; levels 1-2 need 50 of each
    fits = levels.choose_levels(pilot, band=(0.2, 0.8), size=100, capacity={1: 50})
    assert fits.levels == (1, 2) and fits.mix == {"base": 0.2, "sft": 0.45}
    assert (1,) not in fits.candidates.levels.tolist()


def test_capacity_of_an_exhausted_level_is_the_role_sets_share():
    pilot = pd.DataFrame({"model": ["m", "m"], "level": [1, 2], "n_problems": [26, 100]})
    assert levels.capacity(pilot, asked=100) == {1: 50}  # the easy set's half; level 2 was not exhausted
