"""The second circuit question set (the paper's AMC circuits, issue 24): generated like the first,
disjoint from it and from every eval set; page 04 traces the SFT and main GRPO runs on it (Figs 6 and
9) and decides per run whether the two sets give the same final emergent heads."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from tests.page_expect import tiny_params
from thinking_sparks.plan import PLAN


def test_second_set_is_disjoint_from_the_first_and_every_eval_set():
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.organism import task

    second = task._plan_circuit_problems("circuit2")
    first = task._plan_circuit_problems("circuit")
    assert PLAN.second_set.question_set == "organism/circuit2"
    assert len(second) == 1024 * PLAN.second_set.question_scale == len({p.expression for p in second})
    assert {p.level for p in second} == {3} and {p.level for p in first} == {2}  # plan.PLAN.levels
    evals = {e for name in task.EVAL_SETS for e in task.eval_set(name)["expression"]}
    assert not evals & {p.expression for p in second}
    assert not {p.expression for p in first} & {p.expression for p in second}
    loaded = load_eval_set("organism/circuit2")
    assert [p.question for p in loaded] == [p.question for p in second]
    assert {p.difficulty for p in loaded} == {"circuit2"} and loaded[0].id.startswith("L3-")
    assert not {p.id for p in loaded} & {p.id for p in load_eval_set("organism/circuit")}
    # the first set is what it was (its cached circuits keep their keys)
    assert load_eval_set("organism/circuit")[0].id == "L2-49e4c87d26"


def test_the_page_refuses_the_circuit_set_as_its_second_set():
    from thinking_sparks.pages.emergence import Params

    with pytest.raises(ValueError, match="second_set must be a question set other than the circuit set"):
        Params(profile="tiny", second_set="organism/hard")  # tiny's circuit set
    assert Params(profile="tiny", second_set=None).second_set is None


def _verdict(jaccard, low, high, null_q):
    from thinking_sparks.emergence.secondset import AGREEMENT_COLUMNS, SecondSet, agreement_verdicts

    row = dict.fromkeys(AGREEMENT_COLUMNS, 0) | {"run": "sft", "figure": "Fig 6", "first_figure": "Fig 2",
                                                   "jaccard": jaccard, "ci_low": low, "ci_high": high, "null_q": null_q}
    return agreement_verdicts(SecondSet("b", "a", agreement=pd.DataFrame([row])))[0]


def test_the_agreement_rule_on_known_numbers():
    v = _verdict(0.8, 0.7, 0.9, 0.5)
    assert v.verdict == "reproduced" and v.paper == "§4, Fig 6 vs Fig 2 (AMC vs AIME'24 circuits)"
    assert "5% quantile (0.50" in v.criterion
    assert _verdict(0.2, 0.1, 0.3, 0.5).verdict == "not reproduced"
    assert _verdict(0.5, 0.4, 0.6, 0.5).verdict == "inconclusive"
    nonull = _verdict(0.5, 0.4, 0.6, math.nan)  # no second sample: no null, nothing decided
    assert nonull.verdict == "inconclusive" and "decides nothing" in nonull.criterion


@pytest.fixture(scope="module")
def page(tiny_zoo):
    from thinking_sparks.pages import emergence

    names = {f.name for f in dataclasses.fields(emergence.Params)}
    params = emergence.Params(**{k: v for k, v in tiny_params().items() if k in names})
    return emergence, params, emergence.run(params)


def test_the_page_has_figs_6_and_9_and_their_agreement_rows(page):
    emergence, params, result = page
    s = result.second
    assert params.second_set == "organism/circuit2" and s.dataset == "organism/circuit2"
    assert s.first_dataset == "organism/hard"  # the tiny profile's circuit set
    # the claim roles' runs, then the other GRPO runs of the pool (not Fig 8's 20x run)
    assert [tr.run for tr in s.runs] == ["sft", "grpo-hard", "distill", "grpo-easy", "grpo-hard-lr"]
    assert s.figures == ["Fig 6", "Fig 9", "Fig 14", "Fig 9", "Fig 9"]
    assert s.roles == ["sft", "grpo", "distill", "grpo_pool", "grpo_pool"]
    assert s.n_questions == params.n_questions * PLAN.second_set.question_scale  # the confirmatory sample's size
    first = result.traces
    for tr in s.runs:  # every checkpoint of the run, on the second set, with its cohorts and frequencies
        assert tr.steps == first[tr.run].steps and len(tr.results) == len(first[tr.run].results)
        assert len(tr.nulls) == len(tr.results) and tr.base_null is not None  # the same two samples
        assert set(tr.frequency["head"]) == set(first[tr.run].frequency["head"])
        assert {"step", "cohort", "n_active"} <= set(tr.bands.columns)
    a = s.agreement.set_index("run")
    assert list(a.index) == ["sft", "grpo-hard", "distill", "grpo-easy", "grpo-hard-lr"]
    assert list(a.first_figure) == ["Fig 2", "Fig 3", "Fig 14", "Figs 3, 7", "Figs 3, 7"]
    assert (a.n_boot == params.n_boot).all()
    for run, tr in s.traces.items():  # the point sets are the cohort panels' final emergent sets
        e2, e1 = tr.sets().emergent, first[run].sets().emergent
        assert a.loc[run, "emergent_second"] == len(e2) and a.loc[run, "emergent_first"] == len(e1)
        assert a.loc[run, "shared"] == len(set(e1) & set(e2))
    assert len(s.boot) == 5 * params.n_boot and set(s.boot.run) == set(a.index)
    table = emergence.verdicts(result)
    rows = table[table.claim.str.startswith("the emergent heads do not depend on the circuit question set")]
    assert len(rows) == 5 and list(table.index[-5:]) == list(rows.index)  # after the premise row
    assert list(rows.value.round(3)) == list(a.jaccard.round(3))
    assert rows.verdict.isin(["reproduced", "not reproduced", "inconclusive"]).all()


def test_null_data_is_not_called_a_disagreement(tiny_zoo):
    """The same set against itself resampled: the 'second set' is the first set's next question
    samples (1 and 2), so the cross-set Jaccard is a draw of the within-set null; the rule must not
    say the sets differ."""
    from thinking_sparks.emergence import modelruns, secondset
    from thinking_sparks.emergence.sizing import sized_config
    from thinking_sparks.emergence.trace import trace_models
    from thinking_sparks.pages.emergence import Params
    from thinking_sparks.pages.params import emergence_settings

    names = {f.name for f in dataclasses.fields(Params)}
    params = Params(**{k: v for k, v in tiny_params().items() if k in names})
    models = {"sft": modelruns.resolve_runs(["sft"], "tiny")["sft"]}
    pairs, config = emergence_settings(params)
    config = sized_config(params.size, models, pairs, config)
    a = trace_models(models, pairs, config)["sft"]
    b = trace_models(models, dataclasses.replace(pairs, sample=1), config)["sft"]  # samples 1 and 2
    row, boot = secondset.agreement(a, b, config, n_boot=params.n_boot)
    assert len(boot) == params.n_boot and boot.notna().any().all()
    result = secondset.SecondSet("resampled", "first", agreement=pd.DataFrame(
        [{"run": "sft", "figure": "Fig 6", "first_figure": "Fig 2"} | row]))
    v = secondset.agreement_verdicts(result)[0]
    assert not math.isnan(row["null_q"]) and v.verdict != "not reproduced"
    assert row["ci_low"] <= row["ci_high"]


def test_the_section4_claims_are_decided_on_the_second_set(page):
    """Stage 2 of the plan's two-stage design: the §4 rows of the verdict table are computed on the second
    set's traces and Table 3 (not the first set's pilot), and name the set and its size."""
    emergence, params, result = page
    s = result.second
    table = emergence.verdicts(result)
    pilot = emergence.pilot_verdicts(result)
    confirm = table.iloc[:len(pilot)]
    assert list(confirm.claim) == list(pilot.claim)  # the same claims, once each
    where = f"{s.dataset}, {s.n_questions:,} questions per circuit: "
    assert confirm.statistic.str.startswith(where).all() and not pilot.statistic.str.startswith(where).any()
    t2 = s.table.set_index("method")
    row = confirm[confirm.claim == "SFT adds many emergent heads"].iloc[0]
    assert row.value == t2.loc["sft", "emergent"] and row.ci_low == t2.loc["sft", "ci_low"]
    assert (table.claim == "SFT adds many emergent heads").sum() == 1


def test_the_grpo_claims_pool_every_grpo_run(page):
    """Switching and reward tracking are decided on the GRPO runs pooled: the switching row's heads are the
    runs' heads together (each run's counted by :func:`switching` on its second-set trace), and the reward
    row counts every run's checkpoint changes."""
    from thinking_sparks.emergence.claims import switching

    emergence, params, result = page
    s = result.second
    pool = ["grpo-hard", "grpo-easy", "grpo-hard-lr"]
    table = emergence.verdicts(result).set_index("claim")
    row = table.loc["GRPO switches emergent heads on and off"]
    assert " + ".join(pool) in row.statistic
    heads = sum(len(c) for r in pool if (c := switching(s.traces[r])) is not None)
    assert f"bootstrap over {heads} heads" in row.statistic
    changes = sum(int(s.rewards[r].per_checkpoint.reward.notna().sum()) - 1 for r in pool if r in s.rewards)
    reward = table.loc["The number of new heads rises and falls with the accuracy reward"]
    assert f"{changes} changes between" in reward.statistic and " + ".join(r for r in pool if r in s.rewards) in reward.statistic
