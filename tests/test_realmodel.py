"""The real-model room: SFT data written for a chat model, cached runs and their specs, words/
eval sets, think-vs-direct pairs (on tiny models; SmolLM2 itself runs in the book)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO
from thinking_sparks.organism import task
from thinking_sparks.realmodel import runs


def _value(expr: str) -> int:
    assert re.fullmatch(r"[-0-9 ()+*]+", expr), expr
    return eval(expr)  # noqa: S307 - digits, spaces, parentheses and + - * only (checked above)


@pytest.mark.parametrize("level", [1, 3, 5])
def test_words_solution_is_a_correct_chain(level):
    import random

    for i in range(20):
        p = task.generate_problem(random.Random(i), level)
        lines = runs.words_solution(p).splitlines()
        assert len(lines) == level + 1 and lines[-1] == f"The answer is {p.answer}."
        prev = None
        for line in lines[:-1]:
            left, right = line.split(", ", 1)[1].rstrip(".").split(" = ")
            assert _value(left) == _value(right) == p.answer
            assert prev is None or prev == left  # each step rewrites the previous result
            prev = right
        assert _value(prev) == p.answer and "( " not in lines[0]


def test_gsm8k_solutions_and_disjoint_pool():
    from thinking_sparks.evaluation.datasets import load_jsonl
    from thinking_sparks.evaluation.grading import extract_answer, is_correct

    evals = load_jsonl(REPO / "data" / "gsm8k" / "test-250.jsonl")
    pool = [json.loads(x) for x in (REPO / "data" / "gsm8k" / runs.GSM8K_POOL).read_text().splitlines()]
    assert len(pool) == 400 and not {p.question for p in evals} & {r["question"] for r in pool}
    for r in pool[:50]:
        sol = runs.gsm8k_solution(r["answer"])
        assert "<<" not in sol and "####" not in sol
        assert is_correct(extract_answer(sol), r["answer"].rsplit("####", 1)[1].strip())
    with pytest.raises(ValueError, match="####"):
        runs.gsm8k_solution("no final answer")


@pytest.mark.parametrize("data", runs.DATA)
def test_sft_data_is_conversational(data):
    ds = runs.sft_data(data, 6)
    assert len(ds) == 6 and set(ds.column_names) == {"prompt", "completion"}
    row = ds[0]
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].endswith(runs.INSTRUCTION)
    assert row["completion"][0]["role"] == "assistant"
    assert re.search(r"The answer is -?[\d,.]+\.$", row["completion"][0]["content"])
    with pytest.raises(ValueError, match="exceeds"):
        runs.sft_data("gsm8k", 401)


def test_words_eval_sets_are_disjoint_from_training():
    from thinking_sparks.evaluation.datasets import load_eval_set

    easy = load_eval_set("words/easy")
    direct = load_eval_set("words/easy-direct", limit=5)
    from thinking_sparks.plan import PLAN

    assert len(easy) == PLAN.sizes.easy_size and easy[0].question.endswith(runs.STYLES["think"])  # the plan's size
    assert direct[0].question.endswith(runs.STYLES["direct"]) and direct[0].answer == easy[0].answer
    organism = load_eval_set("organism/easy")
    assert [p.answer for p in easy] == [p.answer for p in organism]
    train_q = {r["prompt"][0]["content"] for r in runs.sft_data("words", 2000)}
    assert not {p.question for p in easy + load_eval_set("words/medium")} & train_q
    with pytest.raises(ValueError, match="unknown words eval set"):
        load_eval_set("words/hard")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A two-step SFT run of a tiny model on words data, registered as run 'tiny'."""
    cache = tmp_path_factory.mktemp("real-cache")
    cfg = runs.RealSFT(model=str(tiny_model_dir), data="words", n_train=16, max_steps=2, n_checkpoints=2,
                       batch_size=4, max_length=64, levels=(1,))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        mp.setitem(runs.RUNS, "tiny", cfg)
        out = runs.train("tiny")
        yield cfg, out


def test_run_is_cached_and_addressable(trained, monkeypatch):
    import os

    from thinking_sparks.models import ModelNotFound, load_model, resolve_spec

    cfg, out = trained
    assert out.name == f"tiny-{runs.run_key(cfg)}" and runs.is_trained("tiny")
    meta = runs.run_meta("tiny")
    assert meta["steps"] == [1, 2] and meta["steps_per_second"] > 0
    assert runs.checkpoint_specs("tiny") == ["real/tiny@1", "real/tiny@2"]
    mtime = os.path.getmtime(out / "run.json")
    assert runs.train("tiny") == out and os.path.getmtime(out / "run.json") == mtime  # cached, not retrained
    assert resolve_spec("real/tiny@final") == out / "checkpoint-2"
    assert resolve_spec(f"real/{out.name}@1") == out / "checkpoint-1"
    lm = load_model("real/tiny@1", device="cpu")
    assert lm.n_layers == 2 and lm.tokenizer is not None
    monkeypatch.setitem(runs.RUNS, "other", runs.RealSFT(model=cfg.model, seed=9))
    for spec, msg in (("real/tiny@7", "no checkpoint at step 7"), ("real/nope@1", "unknown real-model run"),
                      ("real/other@final", "not trained"), ("real/Bad Spec", "bad real-model spec")):
        with pytest.raises((ModelNotFound, FileNotFoundError), match=msg):
            resolve_spec(spec)


def test_run_key_changes_with_what_changes_the_result():
    base = runs.RealSFT()
    keys = {runs.run_key(base)} | {runs.run_key(runs.RealSFT(**{f: v}))
                                   for f, v in (("data", "gsm8k"), ("seed", 1), ("max_steps", 5),
                                                ("learning_rate", 1e-4), ("device", "cuda"))}
    assert len(keys) == 6
    assert base.recipe().max_steps == base.max_steps
    gpu = runs.RealSFT(device="cuda").recipe()
    assert gpu.max_steps == base.gpu_steps and gpu.bf16


def test_style_pairs_are_equal_length_answer_spans(tmp_path):
    from thinking_sparks.models import load_model
    from thinking_sparks.realmodel.styles import style_pairs
    from thinking_sparks.tiny import build_tiny

    lm = load_model(str(build_tiny(tmp_path / "m", seed=1, init_range=0.4)), device="cpu")
    qs = ["what is 3 + 4 ?", "what is 5 times 6 ?", "what is 9 minus 2 ?", "what is 1 + 1 ?"]
    ps = style_pairs(lm, qs, answer_tokens=6, max_new_tokens=8)
    assert len(ps.pairs) + ps.n_identical + ps.n_short == len(qs) and ps.pairs
    for i, pair in zip(ps.question_index, ps.pairs):
        think = lm.tokenizer(lm.chat(runs.ask(qs[i], "think")), add_special_tokens=False).input_ids
        direct = lm.tokenizer(lm.chat(runs.ask(qs[i], "direct")), add_special_tokens=False).input_ids
        start = max(len(think), len(direct))
        assert len(pair.clean_ids) == len(pair.corrupted_ids) <= start + 6
        assert pair.target_pos == tuple(range(start - 1, len(pair.clean_ids) - 1))
        assert list(pair.clean_ids[:len(think)]) == think and list(pair.corrupted_ids[:len(direct)]) == direct
    assert set(ps.texts) == {"think", "direct"}
    with pytest.raises(ValueError, match="differ"):
        style_pairs(lm, qs, clean="think", corrupted="think")
