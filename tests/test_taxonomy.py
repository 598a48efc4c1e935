"""Failure taxonomy of the organism's worked solutions, on hand-written completions."""

from __future__ import annotations

import pandas as pd
import pytest

from thinking_sparks.interventions.taxonomy import (
    CATEGORIES,
    classify,
    classify_samples,
    expression_of,
    failure_counts,
    parse,
    value,
)
from thinking_sparks.organism import task

EXPR = "( 12 + 7 ) * 3 - 45"  # = 19 * 3 - 45 = 57 - 45 = 12


def reply(chain: str, answer) -> str:
    return task.think_reply(chain, answer)


@pytest.mark.parametrize("completion, finish, category, step", [
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45 = 12", 12), "stop", "correct", 0),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 56 - 45 = 11", 11), "stop", "arithmetic_slip", 2),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45 = 11", 11), "stop", "arithmetic_slip", 3),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45", 13), "stop", "arithmetic_slip", 3),  # final jump
    (reply("( 12 + 7 ) * 3 - 45 = 12 + 21 - 45 = 33 - 45 = -12", -12), "stop", "order_of_operations", 1),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 19 * -42 = -798", -798), "stop", "order_of_operations", 2),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 = 57", 57), "stop", "dropped_or_invented_term", 1),
    (reply("( 12 + 7 ) * 3 - 45 + 2 = 19 * 3 - 45 + 2 = 14", 14), "stop", "dropped_or_invented_term", 1),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 54 = 57 - 54 = 3", 3), "stop", "dropped_or_invented_term", 1),
    (reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 19 * 3 - 45 = 19 * 3 - 45", 0), "stop", "cutoff_or_loop", 0),
    ("<think> ( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57", "length", "cutoff_or_loop", 0),
    ("<think> ( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45 = 12 </think>", "eos", "no_answer_or_format", 0),
    ("<think> 19 * 3 - 45 </think> <answer> twelve </answer>", "stop", "no_answer_or_format", 0),
    (reply("( 12 + 7 ) * 3 - 45 = nineteen * 3 - 45", 0), "stop", "no_answer_or_format", 1),
    (task.direct_reply(15), "stop", "unexplained", 0),
    ("<answer> 15 </answer>", "stop", "unexplained", 0),  # think-off: the prompt closed the think block
    ("<think> 19 * 3 - 45 = 12 <answer> 15 </answer>", "stop", "no_answer_or_format", 0),  # never closed
])
def test_categories(completion, finish, category, step):
    d = classify(completion, EXPR, 12, finish)
    assert (d.category, d.step) == (category, step), d


def test_legal_shortcuts_are_not_errors():
    # another legal order, and two operations in one step, keep the value
    assert classify(reply("2 * 3 + 4 * 5 = 2 * 3 + 20 = 26", 26), "2 * 3 + 4 * 5", 26).category == "correct"
    d = classify(reply("2 * 3 + 4 * 5 = 26 + 1", 27), "2 * 3 + 4 * 5", 26)
    assert d.category == "dropped_or_invented_term" and d.step == 1
    # a jump that ignores precedence: 2 + 3 * 4 read left to right is 20
    assert classify(reply("2 + 3 * 4 = 20", 20), "2 + 3 * 4", 14).category == "order_of_operations"
    assert classify(reply("2 + 3 * 4 = 15", 15), "2 + 3 * 4", 14).category == "arithmetic_slip"


def test_parser_and_negative_numbers():
    assert value(parse("3 - -5 * 2")) == 13
    assert value(parse("( 4 - 9 ) * -2")) == 10
    assert value(parse("10 - 4 - 3")) == 3  # left-associative
    with pytest.raises(ValueError):
        parse("3 + ( 4")


def test_every_level_of_the_task_grades_its_own_solution_correct():
    problems = task.make_problems(60, levels=(1, 2, 3, 4, 5), seed=7)
    for p in problems:
        text = reply(p.solution, p.answer)
        assert classify(text, expression_of(p.question + " /think"), p.answer).category == "correct"
        # one step of every multi-step solution made wrong by one is an arithmetic slip or a term change
        if len(p.steps) > 1:
            bad = p.steps[0].split()
            i = max(j for j, t in enumerate(bad) if t.lstrip("-").isdigit())
            bad[i] = str(int(bad[i]) + 1)
            wrong = reply(" = ".join([p.expression, " ".join(bad)]), p.answer + 1)
            assert classify(wrong, p.expression, p.answer).category in ("arithmetic_slip",
                                                                         "dropped_or_invented_term")


def test_counts_table():
    samples = pd.DataFrame({
        "problem_id": ["a", "a", "b"],
        "completion": [reply("2 + 3 = 5", 5), reply("2 + 3 = 6", 6), task.direct_reply(1)],
        "gold": ["5", "5", "7"], "finish_reason": ["stop"] * 3, "cond": ["x", "y", "y"],
    })
    out = classify_samples(samples, {"a": "What is 2 + 3 ?", "b": "Compute 3 + 4 ."})
    assert out["failure"].tolist() == ["correct", "arithmetic_slip", "unexplained"]
    counts = failure_counts(out, by=["cond"])
    assert len(counts) == 2 * len(CATEGORIES)
    y = counts[counts["cond"] == "y"].set_index("failure")
    assert y.loc["arithmetic_slip", "count"] == 1 and y.loc["correct", "count"] == 0
    assert y["share"].sum() == pytest.approx(1.0)


def test_the_harness_grade_decides_correct():
    """Two answer tags: grading reads the last one, so the taxonomy follows the grade, not its own parse."""
    import pandas as pd

    from thinking_sparks.interventions.taxonomy import classify_samples

    text = reply("( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45 = 12", 12) + " <answer> 13 </answer>"
    samples = pd.DataFrame([{"problem_id": "p", "completion": text, "gold": "12", "finish_reason": "stop",
                             "correct": False}])
    out = classify_samples(samples, {"p": f"What is {EXPR} ?"})
    assert out["failure"].iloc[0] != "correct"
