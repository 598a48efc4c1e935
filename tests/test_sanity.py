"""Sanity floors catch the signatures of a broken evaluation and pass a healthy one."""

from __future__ import annotations

import pandas as pd

from thinking_sparks.evaluation.sanity import SanityFloor, sanity_problems

FLOOR = SanityFloor(reference="organism/teacher@final")


def table(teacher_easy: float, cut: float, others: float = 0.4) -> pd.DataFrame:
    rows = [{"model": "organism/teacher@final", "mode": "default", "difficulty": "easy", "pass@1": teacher_easy,
             "n_samples": 400, "frac_cut": cut}]
    rows += [{"model": f"organism/{run}@final", "mode": "default", "difficulty": d, "pass@1": others,
              "n_samples": 400, "frac_cut": cut} for run in ("base", "sft") for d in ("easy", "hard")]
    return pd.DataFrame(rows)


def test_healthy_table_passes():
    assert sanity_problems(table(0.97, 0.05), FLOOR) == []


def test_broken_generation_is_named():
    # the issue-8 signature: every completion a loop, every pass@1 near 0, the teacher included
    problems = sanity_problems(table(0.01, 1.0, others=0.0), FLOOR)
    assert len(problems) == 3
    assert "teacher" in problems[0] and "0.010" in problems[0]
    assert "token budget" in problems[1]
    assert "no model reaches" in problems[2]


def test_each_floor_alone():
    assert len(sanity_problems(table(0.1, 0.0), FLOOR)) == 1
    assert len(sanity_problems(table(0.97, 0.95), FLOOR)) == 1
    missing = sanity_problems(table(0.97, 0.0), SanityFloor(reference="organism/nope@final"))
    assert missing and "was not evaluated" in missing[0]
    assert sanity_problems(pd.DataFrame(columns=["model", "difficulty", "pass@1"]), FLOOR)


def test_organism_floors_by_profile():
    from thinking_sparks.organism.scores import sanity_floor

    full = sanity_floor("full")
    assert full.reference == "organism/full/teacher@final" and full.min_accuracy == 0.2
    broken = table(0.0, 1.0, others=0.0).replace({"organism/teacher@final": "organism/full/teacher@final"})
    assert len(sanity_problems(broken, full)) == 3
    assert sanity_problems(broken, sanity_floor("tiny")) == []  # a seconds-long zoo may loop and score 0
