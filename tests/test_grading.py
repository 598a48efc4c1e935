"""Answer extraction and grading on organism, GSM8K, boxed and malformed formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from thinking_sparks.evaluation.grading import extract_answer, follows_format, is_correct, parse_number

GSM8K = Path(__file__).resolve().parents[1] / "data" / "gsm8k" / "test-250.jsonl"  # in the repo, MIT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # organism format
        ("<think> 3 + 4 = 7 , 7 * 6 = 42 </think> <answer> 42 </answer>", "42"),
        ("<think> </think> <answer> -5 </answer>", "-5"),
        ("<think> 2 + 2 = 4 </think><answer>4</answer><|im_end|>", "4"),
        ("<answer> 1 </answer> oops <answer> 2 </answer>", "2"),  # last tag wins
        ("<think> 1 + 1 = 2 </think> <answer> 13", "13"),  # unclosed, truncated
        ("<ANSWER> 8 </ANSWER>", "8"),
        ("< answer > 8 < / answer >", "8"),
        ("<answer>The answer is 9.</answer>", "9"),
        ("<answer> 1,234 </answer>", "1234"),
        ("<think> 5 + 2 = 7 </think> <answer> </answer>", None),  # empty tag: no fallback
        ("<answer>5</answer><answer>", "5"),  # a new tag opened at the very end: the complete one counts
        ("<answer>5</answer><answer> 6", "6"),  # ... unless the open one has content (truncated answer)
        # boxed
        (r"so the answer is \boxed{12}.", "12"),
        (r"\boxed{3} then \boxed{\frac{3}{4}}", r"\frac{3}{4}"),
        (r"\boxed{\sqrt{\frac{1}{2}}}", r"\sqrt{\frac{1}{2}}"),
        (r"\boxed{1,234}", "1234"),
        (r"answer \boxed 7", "7"),
        (r"\fbox{5}", "5"),
        (r"\boxed{\text{5} is it", r"\text{5} is it"),  # unbalanced: rest of text
        # GSM8K
        ("She sells 9 * 2 = $<<9*2=18>>18.\n#### 18", "18"),
        ("lots of steps 1,000 + 234\n#### 1,234", "1234"),
        ("#### -7", "-7"),
        ("#### $3.50", "3.50"),
        # last number fallback
        ("The answer is 3/4.", "3/4"),
        ("She has $18.00 left.", "18.00"),
        ("items 1, 2, 3", "3"),
        ("temperature −12 degrees", "-12"),
        ("x = .5", ".5"),
        ("version2 has 10 apples", "10"),
        ("the result is 12 - 7", "7"),  # a binary minus is not a sign
        ("12-7", "7"),
        ("so x = -7", "-7"),
        ("a loss of - 3", "3"),  # a detached dash is not a sign
        ("about 1.5e3 people", "1.5e3"),  # scientific notation is one number (graded as 1500)
        ("it costs $ 5", "5"),
        # malformed / empty
        ("", None),
        ("no numbers at all", None),
        ("<think> unfinished reasoning", None),
        ("<|im_end|>", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_extract_answer_handles_none():
    assert extract_answer(None) is None


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("1234", "1,234"),
        ("1,234", "1234"),
        ("$18", "18"),
        ("18.00", "18"),
        ("18.0", "18"),
        ("3/4", "0.75"),
        (r"\frac{3}{4}", "0.75"),
        (r"-\dfrac{1}{2}", "-0.5"),
        (" 42 ", "42"),
        ("-5", "-5.0"),
        ("50%", "50"),
        ("42 apples", "42"),
        (r"\text{5 apples}", "5"),
        ("x+1", "X + 1"),
        ("18", "Janet sells 16 - 3 - 4 = 9 duck eggs.\n#### 18"),  # whole GSM8K solution as gold
        ("0.3333333", "0.33333333"),  # rounded decimals within tolerance
    ],
)
def test_is_correct_true(pred, gold):
    assert is_correct(pred, gold)


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        (None, "1"),
        ("", "1"),
        ("12", "21"),
        ("-5", "5"),
        ("0.7", "0.75"),
        ("3/4", "4/3"),
        ("1/0", "0"),
        ("apples", "5"),
        ("x+1", "x+2"),
    ],
)
def test_is_correct_false(pred, gold):
    assert not is_correct(pred, gold)


def test_is_correct_accepts_numeric_gold():
    assert is_correct("7", 7)
    assert is_correct("7.0", 7)
    assert not is_correct("7", None)


def test_scientific_notation_grades_as_its_value():
    assert is_correct(extract_answer("about 1.5e3 people"), "1500")
    assert is_correct(extract_answer("<answer> 2E-2 </answer>"), "0.02")


def test_parse_number():
    assert parse_number("1,234.50") == parse_number("1234.5")
    assert parse_number("abc") is None
    assert parse_number("1e3") == 1000
    assert parse_number("1/0") is None


def test_grading_does_not_import_torch():
    code = "import sys, thinking_sparks.evaluation.grading; print('torch' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gsm8k_solutions_grade_against_their_own_final_answer():
    lines = GSM8K.read_text().splitlines()
    assert len(lines) == 250
    for line in lines:
        row = json.loads(line)
        gold = row["answer"].rsplit("####", 1)[1].strip()
        assert is_correct(extract_answer(row["answer"]), gold), row["answer"][-60:]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>", True),
        ("<think> </think> <answer> -5 </answer>", True),
        ("  <think>\n2 * 3 = 6\n</think>\n<answer>6</answer>\n", True),
        ("<think> </think> <answer> </answer>", False),
        ("<answer> 7 </answer>", False),
        ("<think> 3 + 4 = 7 </think> 7", False),
        ("<think> x </think> <answer> 7 </answer> trailing", False),
        ("<think> x </think> <answer> 7 </answer> <answer> 8 </answer>", False),
        ("", False),
        (None, False),
    ],
)
def test_follows_format(text, ok):
    assert follows_format(text) is ok


@pytest.mark.parametrize(
    ("text", "reward"),
    [
        ("<think> 3 + 4 = 7 </think> <answer> 7 </answer>", 1.0),
        ("<think> </think> <answer>   </answer>", 0.0),  # empty answer
        ("<think> x </think> <answer> a < b </answer>", 0.0),  # '<' in the answer
        ("<think> x </think> <answer> 7 </answer> <answer> 8 </answer>", 0.0),  # two answers
        ("<think> a </think> b </think> <answer> 1 </answer>", 1.0),  # the think block may hold a stray tag
        ("<think>\n1\n</think>\n<answer>\n1\n</answer>\n", 1.0),
        ("<answer> 7 </answer>", 0.0),  # no think block
    ],
)
def test_grpo_format_reward(text, reward):
    """GRPO's format reward on plain and chat-form completions (literal rewards; the grader's
    ``follows_format`` is the same definition and must agree)."""
    from thinking_sparks.organism.grpo import format_reward

    assert format_reward([text]) == [reward]
    assert format_reward([[{"role": "assistant", "content": text}]]) == [reward]
    assert follows_format(text) is (reward == 1.0)
