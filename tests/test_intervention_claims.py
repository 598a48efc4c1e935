"""Verdicts of the intervention claims, on hand-made sample tables whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thinking_sparks.evaluation.metrics import paired_difference
from thinking_sparks.interventions import claims
from thinking_sparks.interventions.experiments import ExperimentResult
from thinking_sparks.verdicts import COLUMNS


def samples(condition: str, rates: dict[str, float], n: int = 8, n_problems: int = 30) -> pd.DataFrame:
    """``n`` samples for each of ``n_problems`` problems per set; the first ``rate * n`` correct."""
    rows = []
    for s, rate in rates.items():
        for p in range(n_problems):
            for j in range(n):
                rows.append({"problem_id": f"{s}-{p}", "difficulty": s, "sample_index": j,
                             "correct": j < round(rate * n), "condition": condition, "set": s})
    return pd.DataFrame(rows)


def result(*frames) -> ExperimentResult:
    return ExperimentResult(pd.DataFrame(), pd.concat(frames, ignore_index=True))


def test_ablation_verdicts_follow_the_data():
    sets = ("easy", "hard")
    res = result(samples("no ablation", dict.fromkeys(sets, 0.75)), samples("ablate emergent", dict.fromkeys(sets, 0.25)),
                 samples("random #0", dict.fromkeys(sets, 0.75)), samples("random #1", dict.fromkeys(sets, 0.5)),
                 samples("ablate control", dict.fromkeys(sets, 0.0)))
    v = claims.ablation_verdicts(res, n_boot=200)
    assert list(v.columns) == list(COLUMNS) and len(v) == 3
    assert list(v["verdict"]) == ["reproduced"] * 3
    assert np.isclose(v["value"].iloc[0], 0.5) and np.isclose(v["value"].iloc[1], 0.375)
    flipped = result(samples("no ablation", dict.fromkeys(sets, 0.25)), samples("ablate emergent", dict.fromkeys(sets, 0.75)))
    assert list(claims.ablation_verdicts(flipped, n_boot=200)["verdict"]) == ["not reproduced"]


def test_scaling_and_think_verdicts():
    res = result(samples("no intervention", {"easy": 0.75, "hard": 0.25}), samples("x1.3 sft", {"easy": 0.5, "hard": 0.5}))
    assert list(claims.scaling_verdicts(res, n_boot=200)["verdict"]) == ["reproduced", "reproduced"]
    off = samples("think off", {"hard": 0.0}, n=8)
    off["correct"] = off["sample_index"].isin([4, 5])  # never right first, always right by k = 8
    abl = off.assign(condition="think off + ablation")
    even = abl["problem_id"].str.split("-").str[1].astype(int) % 2 == 0
    abl["correct"] = even & (abl["sample_index"] == 0)  # half right at once, half never
    v = claims.think_verdicts(["L0H1"], ["L0H1", "L1H0"], pd.concat([off, abl]), n_boot=200)
    assert list(v["verdict"]) == ["reproduced"] * 4
    assert list(v["value"]) == [1.0, 0.0, 0.5, -0.5]
    v = claims.think_verdicts(["L0H1", "L2H2"], ["L0H1"], pd.concat([off, abl.assign(correct=even)]), n_boot=200)
    assert list(v["verdict"]) == ["not reproduced", "not reproduced", "reproduced", "reproduced"]


def test_paired_difference_is_paired():
    a = samples("a", {"easy": 0.5})
    b = a.assign(correct=~a["correct"] & (a["sample_index"] < 6))
    value, lo, hi = paired_difference(a, b, n_boot=100)
    assert value == lo == hi  # every problem differs by the same amount: a zero-width interval
