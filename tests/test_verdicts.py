"""Verdict tables: computed verdicts, one schema, sentences that never overclaim."""

from __future__ import annotations

import math

import pytest

from thinking_sparks.verdicts import COLUMNS, Verdict, combine, decide, summary, verdict_table


@pytest.mark.parametrize(
    ("lo", "hi", "threshold", "direction", "expected"),
    [
        (0.05, 0.2, 0.0, "above", "reproduced"),
        (-0.05, 0.2, 0.0, "above", "inconclusive"),  # straddles
        (-0.3, -0.1, 0.0, "above", "not reproduced"),
        (-0.3, 0.0, 0.0, "above", "not reproduced"),  # touching from below is not above
        (0.0, 0.3, 0.0, "above", "inconclusive"),
        (0.2, 0.4, 0.5, "below", "reproduced"),
        (0.4, 0.6, 0.5, "below", "inconclusive"),
        (0.5, 0.6, 0.5, "below", "not reproduced"),
        (math.nan, math.nan, 0.0, "above", "inconclusive"),
    ],
)
def test_decide(lo, hi, threshold, direction, expected):
    assert decide(lo, hi, threshold, direction) == expected


def test_bad_input_raises():
    with pytest.raises(ValueError, match="direction"):
        decide(0, 1, direction="sideways")
    with pytest.raises(ValueError, match="ci_low"):
        Verdict("c", "§1", "s", 0.5, 0.6, 0.4)


def test_table_schema_and_default_criterion():
    rows = [Verdict("SFT raises accuracy", "§5.1", "pass@1 sft - base", 0.1, 0.02, 0.18),
            Verdict("heads emerge", "Table 3", "emergent heads vs noise floor", 12, 3, 20, threshold=5,
                    criterion="CI above the noise floor (5)")]
    t = verdict_table(rows)
    assert list(t.columns) == list(COLUMNS)
    assert t.verdict.tolist() == ["reproduced", "inconclusive"]
    assert t.criterion.tolist() == ["CI above 0", "CI above the noise floor (5)"]
    assert verdict_table([]).columns.tolist() == list(COLUMNS)


def test_combine_and_summary():
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "not reproduced"]) == "partly"
    assert combine(["not reproduced", "not reproduced"]) == "not reproduced"
    assert combine(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine([]) == "inconclusive"
    ok = verdict_table([Verdict("a", "p", "s", 1, 0.5, 1.5)])
    mixed = verdict_table([Verdict("a", "p", "s", 1, 0.5, 1.5), Verdict("b", "p", "s", 0.1, -0.2, 0.4)])
    assert summary(ok).startswith("All 1 checks hold")
    assert "All" not in summary(mixed) and "1 reproduced" in summary(mixed) and "1 inconclusive" in summary(mixed)
    assert "hold" not in summary(verdict_table([]))
