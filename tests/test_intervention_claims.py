"""Verdicts of the intervention claims, on hand-made sample tables whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thinking_sparks.evaluation.metrics import paired_difference
from thinking_sparks.interventions import claims
from thinking_sparks.interventions.experiments import ExperimentResult
from thinking_sparks.verdicts import COLUMNS


def samples(condition: str, rates: dict[str, float], n: int = 8, n_problems: int = 30, seed: int | None = None
            ) -> pd.DataFrame:
    """``n`` samples for each of ``n_problems`` problems per set; the first ``rate * n`` correct (``seed``
    None), else each correct with chance ``rate``."""
    rng = None if seed is None else np.random.default_rng(seed)
    rows = []
    for s, rate in rates.items():
        for p in range(n_problems):
            for j in range(n):
                ok = j < round(rate * n) if rng is None else bool(rng.random() < rate)
                rows.append({"problem_id": f"{s}-{p}", "difficulty": s, "sample_index": j,
                             "correct": ok, "condition": condition, "set": s})
    return pd.DataFrame(rows)


def result(*frames) -> ExperimentResult:
    return ExperimentResult(pd.DataFrame(), pd.concat(frames, ignore_index=True))


def test_ablation_verdicts_follow_the_data():
    sets = ("easy", "hard")
    res = result(samples("no ablation", dict.fromkeys(sets, 0.75), seed=1),
                 samples("ablate emergent", dict.fromkeys(sets, 0.25), seed=2),
                 samples("random #0", dict.fromkeys(sets, 0.75)), samples("random #1", dict.fromkeys(sets, 0.5)),
                 samples("ablate control", dict.fromkeys(sets, 0.0)))
    v = claims.ablation_verdicts(res, n_boot=200)
    assert list(v.columns) == list(COLUMNS) and len(v) == 3
    assert list(v["verdict"]) == ["reproduced"] * 3
    assert abs(v["value"].iloc[0] - 0.5) < 0.05 and abs(v["value"].iloc[1] - 0.375) < 0.05
    assert "26.6 − 0.00" in v["statistic"].iloc[2]  # the control row compares with the emergent ablation
    flipped = result(samples("no ablation", dict.fromkeys(sets, 0.25), seed=3),
                     samples("ablate emergent", dict.fromkeys(sets, 0.75), seed=4))
    assert list(claims.ablation_verdicts(flipped, n_boot=200)["verdict"]) == ["not reproduced"]


def test_scaling_and_think_verdicts():
    # Table 5: x1.3 SFT heads lower AIME'24 (13.3 -> 0.00) and raise MATH (56.0 -> 58.2); rows by difficulty
    res = result(samples("no intervention", {"easy": 0.5, "hard": 0.5}, seed=5),
                 samples("x1.3 sft", {"hard": 0.25, "easy": 0.75}, seed=6))
    v = claims.scaling_verdicts(res, n_boot=200)
    assert list(v["claim"]) == ["Scaling up (x1.3) SFT's heads in the base model lowers hard-set pass@1",
                                "Scaling up (x1.3) SFT's heads in the base model raises easy-set pass@1"]
    assert list(v["verdict"]) == ["reproduced", "reproduced"]
    off = samples("think off", {"hard": 0.0}, n=8)
    off["correct"] = off["sample_index"].isin([4, 5])  # never right first, always right by k = 8
    abl = off.assign(condition="think off + ablation")
    even = abl["problem_id"].str.split("-").str[1].astype(int) % 2 == 0
    abl["correct"] = even & (abl["sample_index"] == 0)  # half right at once, half never
    # paired-bootstrap counts: n_off - n_on in [1, 2], think-on-only in [0, 1], below the null's 95% (1.95)
    boot = pd.DataFrame({"n_a": [1] * 8, "n_b": [2, 3] * 4, "only_a": [0, 0, 0, 1] * 2})
    v = claims.think_verdicts(["L0H1"], ["L0H1", "L1H0"], pd.concat([off, abl]), boot=boot, null=np.array([1.0, 2.0]),
                              n_boot=200)
    assert list(v["verdict"]) == ["reproduced"] * 4
    assert v["criterion"].iloc[1] == ("CI at or below the 95% quantile of the same-mode null (1.95; not reproduced "
                                      "when wholly above it)")
    assert list(v["value"]) == [1.0, 0.0, 0.5, -0.5]
    v = claims.think_verdicts(["L0H1", "L2H2"], ["L0H1"], pd.concat([off, abl.assign(correct=even)]),
                              boot=boot.assign(n_b=0, only_a=3), null=np.array([1.0]), n_boot=200)
    assert list(v["verdict"]) == ["not reproduced", "not reproduced", "reproduced", "reproduced"]


def test_paired_difference_is_paired():
    a = samples("a", {"easy": 0.5})
    b = a.assign(correct=~a["correct"] & (a["sample_index"] < 6))
    value, lo, hi = paired_difference(a, b, n_boot=100)
    assert value == pytest.approx(0.25) and np.isnan(lo) and np.isnan(hi)  # every problem differs alike: nothing to resample
    c = b.assign(correct=b["correct"] | ((b["problem_id"].str[-1] == "1") & (b["sample_index"] == 7)))
    value, lo, hi = paired_difference(a, c, n_boot=100)  # a few problems differ: a paired interval, not nan
    assert lo <= value <= hi and hi - lo < 0.1
