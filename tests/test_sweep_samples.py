"""Circuit question samples and the fast sweep path: the plan's generated question set (size, levels,
disjoint from the eval sets), disjoint samples, the bridge-free circuit model (same scores), the
patched-pair subsample and the null circuits a trace exposes."""

from __future__ import annotations

import dataclasses

import pytest
import torch


def test_circuit_question_set_has_the_plans_size_and_levels_and_no_eval_problem():
    from thinking_sparks.evaluation.datasets import load_eval_set
    from thinking_sparks.organism import task
    from thinking_sparks.plan import PLAN

    c = PLAN.circuits
    probs = task.circuit_problems(c.n_questions * c.n_samples, tuple(PLAN.levels.circuit), PLAN.stats.seed)
    assert len(probs) == 1024 and len({p.expression for p in probs}) == 1024
    assert {p.level for p in probs} == {2}  # plan.PLAN.levels.circuit, from the difficulty pilot
    evals = {e for name in task.EVAL_SETS for e in task.eval_set(name)["expression"]}
    assert not evals & {p.expression for p in probs}
    loaded = load_eval_set("organism/circuit")
    assert [p.question for p in loaded] == [p.question for p in probs]
    assert loaded[0].id == "L2-49e4c87d26" and loaded[0].answer == "16"
    questions = {p.question for s in ("easy", "medium", "hard", "calibrated") for p in load_eval_set(f"organism/{s}")}
    assert not questions & {p.question for p in loaded}


def test_samples_are_disjoint_blocks_of_the_set():
    from thinking_sparks.emergence.pairs import PairParams, key_params, questions
    from thinking_sparks.evaluation.datasets import load_eval_set

    p0 = PairParams(dataset="organism/circuit", n_questions=6)
    p1 = dataclasses.replace(p0, sample=1)
    q0, q1 = questions(p0), questions(p1)
    every = load_eval_set("organism/circuit")
    assert [p.id for p in q0] == [p.id for p in every[:6]] and [p.id for p in q1] == [p.id for p in every[6:12]]
    assert not {p.id for p in q0} & {p.id for p in q1}
    assert "sample" not in key_params(p0) and key_params(p1)["sample"] == 1  # sample 0 keeps its old keys
    with pytest.raises(ValueError, match="too few for sample 1"):
        questions(PairParams(dataset="organism/circuit", n_questions=600, sample=1))
    with pytest.raises(ValueError, match="sample must be"):
        PairParams(sample=-1)


def test_check_pairs_is_a_seeded_sorted_subsample():
    from thinking_sparks.emergence.sweep import check_pairs

    assert check_pairs(5, 64) == [0, 1, 2, 3, 4]
    a = check_pairs(500, 64, seed=0)
    assert len(a) == 64 == len(set(a)) and a == sorted(a) and a == check_pairs(500, 64, seed=0)
    assert a[:4] == [7, 24, 29, 44]
    assert a != check_pairs(500, 64, seed=1)


def test_circuit_model_from_the_plain_model_scores_as_through_the_bridge(tiny_model_dir):
    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.forward import CircuitModel
    from thinking_sparks.circuits.pairs import Pair
    from thinking_sparks.models import load_model

    lm = load_model(str(tiny_model_dir))
    fast = CircuitModel(lm)
    assert lm._bridge is None  # no TransformerLens bridge (a deep copy) was built
    slow = CircuitModel(lm.bridge)
    gen = torch.Generator().manual_seed(0)
    pairs = []
    for n in (7, 9, 12):
        ids = torch.randint(1, 50, (2, n), generator=gen).tolist()
        pairs.append(Pair(tuple(ids[0]), tuple(ids[1]), target_pos=tuple(range(n - 4, n))))
    kw = {"keep_per_example": True, "progress": False, "steps": 3, "batch_size": 2}
    a, b = attribute(lm, pairs, circuit_model=fast, **kw), attribute(lm, pairs, circuit_model=slow, **kw)
    assert a.per_example.shape == b.per_example.shape and a.per_example.abs().sum() > 0
    torch.testing.assert_close(a.per_example, b.per_example, rtol=0, atol=1e-6)


def test_trace_builds_null_circuits_on_the_next_sample(tiny_zoo):
    from thinking_sparks.circuits.config import CircuitConfig
    from thinking_sparks.emergence.modelruns import resolve_runs
    from thinking_sparks.emergence.pairs import PairParams, prefix_sampling
    from thinking_sparks.emergence.trace import sweep_jobs, trace_models

    params = PairParams(n_questions=4, sampling=prefix_sampling(24))
    settings = CircuitConfig(steps=2, top_n=20, n_boot=5)
    models = resolve_runs(["sft"], "tiny")
    jobs = sweep_jobs(models, params, samples=2)
    assert len(jobs) == 2 * (1 + 3) and {j[3].sample for j in jobs} == {0, 1}
    tr = trace_models(models, params, settings, samples=2)["sft"]
    assert len(tr.nulls) == len(tr.results) == 3 and tr.base_null is not None
    assert tr.base_null.model == tr.base.model and [r.model for r in tr.nulls] == [r.model for r in tr.results]
    assert tr.base_null.path != tr.base.path and tr.nulls[-1].path != tr.results[-1].path
    assert tr.nulls[-1].per_example().shape[0] == tr.nulls[-1].n_pairs == len(tr.nulls[-1].question_index)
    tables = tr.tables()
    assert [h.heads for h in tables.nulls] == [r.heads for r in tr.nulls]
    assert tables.base_null.heads == tr.base_null.heads
    one = trace_models(models, params, settings, samples=1)["sft"]
    assert one.nulls == [] and one.base_null is None and one.results[-1].heads == tr.results[-1].heads
