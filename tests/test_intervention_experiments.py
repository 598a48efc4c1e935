"""The experiment runners on the organism's tiny zoo: tables, sweeps and k curves are computed
from cached evaluations, with the taxonomy attached."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.evaluation.metrics import paired_difference
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.interventions.headsets import layer_counts

PARAMS = EvalParams(dataset="organism/easy", sampling=SamplingConfig(n=2, temperature=0.6, max_new_tokens=12), limit=4, n_boot=50)


@pytest.fixture(scope="module")
def zoo(tiny_zoo):
    return tiny_zoo[1]


@pytest.fixture(scope="module")
def distill(zoo):
    from thinking_sparks.models import load_model

    return load_model("organism/distill@final", device="cpu")


def test_ablation_table(distill):
    sets = {"emergent": ["L0H1", "L1H2"], "base": ["L1H0"], "control": ["L0H0", "L0H3"]}
    conds = ex.ablation_conditions(sets, distill.n_layers, distill.n_heads, random_like="emergent", seeds=range(3))
    assert [c.label for c in conds][:4] == ["no ablation", "ablate emergent", "ablate base", "ablate control"]
    randoms = [c for c in conds if c.group == "random"]
    assert len(randoms) == 3 and all(layer_counts(c.heads) == {0: 1, 1: 1} for c in randoms)
    res = ex.pass_at_1_table(distill, conds, PARAMS)
    assert list(res.table.columns) == ex.TABLE_COLUMNS
    assert len(res.table) == len(conds) * 3 and set(res.table["set"]) == {"easy", "medium", "hard"}
    assert ((res.table["ci_low"] <= res.table["pass@1"]) & (res.table["pass@1"] <= res.table["ci_high"])).all()
    assert res.samples.groupby(["condition", "set"]).size().eq(PARAMS.limit * PARAMS.n).all()
    # ablating every head of the tiny model changes the completions
    every = {"all": [f"L{l}H{h}" for l in range(distill.n_layers) for h in range(distill.n_heads)]}
    full = ex.pass_at_1_table(distill, ex.ablation_conditions(every, distill.n_layers, distill.n_heads), PARAMS,
                              sets=["organism/easy"])
    comp = full.samples.pivot_table(index=["problem_id", "sample_index"], columns="condition",
                                    values="completion", aggfunc="first")
    assert (comp["no ablation"] != comp["ablate all"]).any()
    summary = ex.random_summary(res.table)
    assert list(summary["n_seeds"]) == [3, 3, 3]
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    a = res.samples[(res.samples["condition"] == "no ablation") & (res.samples["set"] == "easy")]
    value, lo, hi = paired_difference(a, a)
    assert value == 0.0 and math.isnan(lo) and math.isnan(hi)  # nothing varies: no interval
    classified, counts = ex.taxonomy(res.samples)
    assert len(classified) == len(res.samples) and counts["count"].sum() == len(res.samples)
    assert (classified["failure"] == "correct").sum() == res.samples["correct"].sum()


def test_scaling_and_think_modes(zoo):
    from thinking_sparks.models import load_model

    base = load_model("organism/base@final", device="cpu")
    conds = ex.scaling_conditions({"sft": ["L0H1", "L1H1"]}, factors=(1.3, 0.5))
    assert [c.label for c in conds] == ["no intervention", "x1.3 sft", "x0.5 sft"]
    table = ex.pass_at_1_table(base, conds, PARAMS, sets=["organism/hard"]).table
    assert list(table["condition"]) == ["no intervention", "x1.3 sft", "x0.5 sft"]

    hybrid = load_model("organism/hybrid@final", device="cpu")
    think = ex.think_conditions(["L1H3"])
    assert [c.think for c in think] == [True, False, False, False]
    assert [c.enable_thinking for c in think] == [None, False, False, False]
    k_res = ex.k_curves(hybrid, think, dataclasses.replace(PARAMS, sampling=dataclasses.replace(PARAMS.sampling, n=4)), dataset="organism/hard")
    curves = k_res.table
    assert k_res.samples.groupby("condition").size().eq(PARAMS.limit * 4).all()
    on = k_res.samples[k_res.samples["condition"] == "think on"]["completion"]
    off = k_res.samples[k_res.samples["condition"] == "think off"]["completion"]
    assert list(on) != list(off)  # the modes reach the prompts
    assert set(curves["k"]) == {1, 2, 3, 4} and set(curves["metric"]) == {"pass", "success"}
    for _, g in curves[curves["metric"] == "pass"].groupby("condition"):
        assert g.sort_values("k")["value"].is_monotonic_increasing  # pass@k never falls with k
    wide = ex.at_k(curves, ks=(1, 4))
    assert list(wide.columns[-2:]) == [1, 4] and len(wide) == 8
    assert ex.head_overlap(["L0H1", "L1H1"], ["L1H1", "L1H2", "L1H3"]) == {
        "n_a": 2, "n_b": 3, "both": 1, "only_a": 1, "only_b": 2, "jaccard": 0.25}


def test_checkpoint_sweep(zoo):
    from thinking_sparks.organism.zoo import checkpoint_steps, run_dir

    steps = checkpoint_steps(run_dir("tiny", "grpo-easy"))
    out = ex.checkpoint_sweep([(s, f"organism/grpo-easy@{s}") for s in steps], PARAMS, sets=["organism/easy"])
    table = out["pass"]
    assert list(table["step"]) == steps
    assert table.loc[table["step"] == steps[0], ["gained", "lost"]].sum().sum() == 0  # the reference itself
    assert set(out["failures"]["step"]) == set(steps)
    assert isinstance(out["samples"], pd.DataFrame) and "failure" in out["samples"]
