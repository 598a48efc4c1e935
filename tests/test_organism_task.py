"""The organism's task generator and tokenizer: determinism, splits, difficulty, round-trips, template."""

from __future__ import annotations

import random
import re

import pytest

from thinking_sparks.evaluation.grading import extract_answer, is_correct
from thinking_sparks.organism import task
from thinking_sparks.organism.tokenizer import build_tokenizer


def _eval_expr(expr: str) -> int:
    # The canonical text is valid Python arithmetic (unary minus included).
    assert re.fullmatch(r"[\d\s()+*-]+", expr)
    return eval(expr)


def test_generator_is_deterministic_by_seed():
    a = task.make_problems(50, [1, 2, 3, 4, 5], seed=3)
    b = task.make_problems(50, [1, 2, 3, 4, 5], seed=3)
    c = task.make_problems(50, [1, 2, 3, 4, 5], seed=4)
    assert a == b
    assert a != c


@pytest.mark.parametrize("level", sorted(task.LEVELS))
def test_solutions_are_correct_step_by_step(level):
    for p in task.make_problems(40, [level], seed=level):
        assert p.level == level
        assert _eval_expr(p.expression) == p.answer
        assert p.steps[-1] == str(p.answer)
        # every step keeps the value and removes exactly one operation
        n_ops = [len(re.findall(r"(?<=\s)[+*-](?=\s)", " " + s + " ")) for s in (p.expression, *p.steps)]
        assert n_ops == list(range(task.LEVELS[level].n_ops, -1, -1))
        for step in p.steps:
            assert _eval_expr(step) == p.answer
        assert p.solution.startswith(p.expression) and p.solution.endswith(f"= {p.answer}")


def test_difficulty_properties():
    stats = {}
    for level, spec in task.LEVELS.items():
        ps = task.make_problems(200, [level], seed=0)
        stats[level] = ps
        assert all(len(p.steps) == spec.n_ops for p in ps)
        has_parens = [("(" in p.expression) for p in ps]
        if spec.parens is False:
            assert not any(has_parens)
        if spec.parens == "required":
            assert all(has_parens)
        if not spec.negatives:
            assert all(int(s) >= 0 for p in ps for s in p.steps if re.fullmatch(r"-?\d+", s))
        assert all(abs(p.answer) <= task.MAX_ABS_VALUE for p in ps)
    # more steps and larger numbers as the level rises
    mean_len = [sum(len(p.solution) for p in stats[lv]) / 200 for lv in sorted(stats)]
    assert mean_len == sorted(mean_len)
    largest_leaf = [max(int(x) for p in stats[lv] for x in re.findall(r"\d+", p.expression)) for lv in sorted(stats)]
    assert largest_leaf == sorted(largest_leaf) and largest_leaf[0] < largest_leaf[-1]


def test_train_and_eval_splits_are_disjoint():
    train = {p.expression for p in task.make_problems(3000, [1, 2, 3], seed=0, split="train")}
    evals = {p.expression for name in task.EVAL_SETS for p in task.eval_set(name).to_list()
             for p in [type("P", (), {"expression": p["expression"]})]}
    assert train and evals and not (train & evals)
    assert all(task.split_of(e) == "eval" for e in evals)


def test_eval_sets_are_fixed():
    for name, (levels, size, _) in task.EVAL_SETS.items():
        ds = task.eval_set(name)
        assert len(ds) == size
        assert set(ds["level"]) <= set(levels)
        assert set(ds["difficulty"]) == {name}
        assert len(set(ds["id"])) == size
        assert ds["question"] == task.eval_set(name)["question"]
    with pytest.raises(ValueError, match="unknown organism eval set"):
        task.eval_set("impossible")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown difficulty level"):
        task.generate_problem(random.Random(0), 9)
    with pytest.raises(ValueError, match="levels must not be empty"):
        task.make_problems(3, [], seed=0)


def test_replies_are_graded_by_the_evaluation_helper():
    p = task.make_problems(1, [4], seed=1)[0]
    assert p.question == "Calculate 3 - 2 - 2 + ( 22 - 2 ) ." and p.answer == 19
    think, direct = task.think_reply(p.solution, p.answer), task.direct_reply(p.answer)
    assert think == ("<think> 3 - 2 - 2 + ( 22 - 2 ) = 1 - 2 + ( 22 - 2 ) = -1 + ( 22 - 2 ) = -1 + 20 = 19 </think> "
                     "<answer> 19 </answer>")
    assert direct == "<think> </think> <answer> 19 </answer>"
    for reply in (think, direct):
        assert extract_answer(reply) == "19" and is_correct(extract_answer(reply), "19")


def test_tokenizer_round_trip_and_digits():
    tok = build_tokenizer()
    for p in task.make_problems(30, [1, 3, 5], seed=2):
        text = f"{p.question} {task.think_reply(p.solution, p.answer)}"
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == text
    pieces = tok.convert_ids_to_tokens(tok("-405 + 7", add_special_tokens=False).input_ids)
    assert pieces == ["-", "##4", "##0", "##5", "+", "7"]  # one token per digit; unary minus glued
    assert tok.decode(tok("3 - -12", add_special_tokens=False).input_ids) == "3 - -12"


def test_chat_template_qwen_shape_and_think_switch():
    tok = build_tokenizer()
    msgs = task.messages("What is 2 + 3 ?", system="Be brief .")
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nBe brief .<|im_end|>\n<|im_start|>user\nWhat is 2 + 3 ?<|im_end|>\n"
                    "<|im_start|>assistant\n")
    off = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert off == text + "<think> </think> "
    assert task.messages("q", think=True)[-1]["content"] == "q /think"
    assert task.messages("q", think=False)[-1]["content"] == "q /no_think"
    ids = tok("q /no_think <think> </think>", add_special_tokens=False).input_ids
    assert tok.convert_ids_to_tokens(ids)[1:] == ["/no_think", "<think>", "</think>"]
    # think tags survive skip_special_tokens; chat specials do not
    full = tok.apply_chat_template(msgs + [{"role": "assistant", "content": task.direct_reply(5)}], tokenize=False)
    decoded = tok.decode(tok(full, add_special_tokens=False).input_ids, skip_special_tokens=True)
    assert "<think> </think> <answer> 5 </answer>" in decoded and "<|im_start|>" not in decoded
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
