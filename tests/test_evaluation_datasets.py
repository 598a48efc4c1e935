"""Eval-set loading: JSON lines (GSM8K-style and plain answers), organism names, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinking_sparks.evaluation.datasets import (
    Problem,
    fingerprint_problems,
    gold_from_answer,
    load_eval_set,
    load_jsonl,
)

GSM8K = Path(__file__).resolve().parents[1] / "data" / "gsm8k" / "test-250.jsonl"  # in the repo, MIT


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_gsm8k_and_plain_answers(tmp_path):
    f = write_jsonl(tmp_path / "mix.jsonl", [
        {"question": "q1", "answer": "step 1\nstep 2\n#### 1,234"},
        {"question": "q2", "answer": 7},
        {"question": "q3", "answer": "\\frac{3}{4}", "difficulty": "hard", "id": "x3"},
        "",
        {"problem": "q4", "answer": "-5", "level": 2},
    ])
    probs = load_eval_set(str(f))
    assert [p.answer for p in probs] == ["1,234", "7", "\\frac{3}{4}", "-5"]
    assert [p.id for p in probs] == ["mix-00000", "mix-00001", "x3", "mix-00003"]
    assert [p.difficulty for p in probs] == ["all", "all", "hard", "2"]
    assert probs[3].question == "q4"
    assert load_eval_set(str(f), limit=2) == probs[:2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": "q", "answer": "1"', "invalid JSON"),
        ('[1, 2]', "expected a JSON object"),
        ('{"answer": "1"}', "missing or empty 'question'"),
        ('{"question": "q"}', "missing 'answer'"),
        ('{"question": "q", "answer": ""}', "bad 'answer'"),
        ('{"question": "q", "answer": null}', "bad 'answer'"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    f = write_jsonl(tmp_path / "bad.jsonl", [{"question": "ok", "answer": "1"}, line])
    with pytest.raises(ValueError, match=message) as err:
        load_jsonl(f)
    assert f"{f}:2" in str(err.value)


def test_missing_file_and_empty_file_and_duplicates(tmp_path):
    with pytest.raises(FileNotFoundError, match="eval set not found"):
        load_eval_set(str(tmp_path / "nope.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no problems"):
        load_eval_set(str(tmp_path / "empty.jsonl"))
    rows = [{"id": 1, "question": "a", "answer": 1}, {"id": 1, "question": "b", "answer": 2}]
    f = write_jsonl(tmp_path / "dup.jsonl", rows)
    with pytest.raises(ValueError, match="duplicate"):
        load_eval_set(str(f))
    with pytest.raises(ValueError, match="limit"):
        load_eval_set(str(f), limit=0)


def test_unknown_organism_set():
    with pytest.raises(ValueError, match="unknown organism eval set"):
        load_eval_set("organism/impossible")


FIRST = {  # the first problem of each fixed organism set (a change of the generator changes these)
    "easy": Problem("L1-49909da1e4", "Compute 6 * 5 .", "30", "easy"),
    "medium": Problem("L3-a27e9e8079", "Evaluate 1 - 3 * 8 - 20 .", "-43", "medium"),
    "hard": Problem("L4-579a10b1b5", "Calculate 3 + 11 - 6 * ( 4 + 5 ) .", "-40", "hard"),
}


def test_organism_sets():
    from thinking_sparks.plan import PLAN

    for level in ("easy", "medium", "hard"):
        assert len(load_eval_set(f"organism/{level}")) == PLAN.sizes.size(level)  # sized by the analysis plan
        assert load_eval_set(f"organism/{level}")[0] == FIRST[level]
        probs = load_eval_set(f"organism/{level}")
        assert probs and all(isinstance(p, Problem) for p in probs)
        assert len({p.id for p in probs}) == len(probs)
        assert load_eval_set(f"organism/{level}") == probs  # fixed sets
        assert all(p.answer.lstrip("-").isdigit() for p in probs)


def test_gold_from_answer():
    assert gold_from_answer("work\n#### 18") == "18"
    assert gold_from_answer(3.5) == "3.5"
    for bad in (None, "", "#### ", True):
        with pytest.raises(ValueError):
            gold_from_answer(bad)


def test_fingerprint_changes_with_content():
    a = [Problem("1", "q", "1")]
    assert fingerprint_problems(a) == fingerprint_problems(list(a))
    assert fingerprint_problems(a) != fingerprint_problems([Problem("1", "q", "2")])


def test_real_gsm8k_file():
    probs = load_eval_set(str(GSM8K))
    assert len(probs) == 250
    assert probs[0].answer == "18"
    assert all(p.answer and p.question for p in probs)
