"""Page 04's ``n_to_decide`` (emergence.decide): the sample size behind each row and the n at which an
inconclusive row's interval would clear its bound, on constructed rows."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from thinking_sparks.emergence.decide import row_sizes, with_n_to_decide
from thinking_sparks.verdicts import Verdict, verdict_table


def _trace(n_pairs: int, signal: bool = True) -> SimpleNamespace:
    return SimpleNamespace(results=[SimpleNamespace(n_pairs=n_pairs, has_signal=signal)])


TRACES = {"sft": _trace(500), "distill": _trace(480), "grpo": _trace(490), "flat": _trace(1, signal=False)}
ROLES = {"sft": "sft", "distill": "distill", "grpo": "grpo"}
TABLE3 = pd.DataFrame({"method": ["sft", "distill", "grpo"], "floor_q95": [2.0, 1.0, 2.0]})


def _rows() -> pd.DataFrame:
    nan = math.nan
    return verdict_table([
        # straddles its floor 2.0: w = 3, d = 2 -> 500 x 2.25 = 1125 questions
        Verdict("SFT adds many emergent heads", "", "emergent heads, sft final vs base", 4, 1, 7, above=2.0,
                criterion="CI above the same-size null's 95% quantile (2.0)"),
        # wholly above its floor 1.0: decided, no n
        Verdict("Distillation adds many emergent heads", "", "emergent heads", 4, 3, 6, above=1.0,
                criterion="CI above the same-size null's 95% quantile (1.0)"),
        # 6 of 9 heads: w = 0.313, d = 0.167 -> 9 x 3.5128 = 31.6 -> 32 heads
        Verdict("SFT heads persist to the end of training", "", "share of ever-emergent sft heads active at the "
                "final checkpoint (6/9; Clopper-Pearson CI)", 0.667, 0.299, 0.925, above=0.5),
        # no interval: no n
        Verdict("GRPO switches emergent heads on and off", "", "bootstrap over 1 heads", 0.2, nan, nan, above=0.0),
        # GRPO - SFT: w = 3, d = 1 -> min(490, 500) x 9 = 4410 questions
        Verdict("GRPO adds fewer emergent heads than SFT", "", "emergent heads, grpo final minus sft final", -1,
                -4, 2, below=0.0),
        # 7 changes: w = 0.02, d = 0.005 -> 7 x 16 = 112 changes
        Verdict("The number of new heads rises and falls with the accuracy reward", "",
                "Sen slope ..., 7 changes between 8 grpo checkpoints", 0.005, -0.015, 0.025, above=0.0),
        # mean layer: sides of 4 and 3 heads -> n = 3; w = 0.3, d = 0.1 -> 27 heads a side
        Verdict("Distillation's emergent heads sit in earlier layers than SFT's", "",
                "mean relative layer, distill (4) minus sft (3)", -0.1, -0.4, 0.2, below=0.0),
    ])


def test_row_sizes_name_what_each_interval_resamples():
    assert row_sizes(_rows(), TRACES, ROLES) == [500, 480, 9, 1, 490, 7, 3]
    assert row_sizes(_rows().iloc[:1], {"sft": TRACES["flat"]}, ROLES) == [None]  # no signal, no size


def test_n_to_decide_is_finite_where_the_interval_has_width_and_none_where_decided_or_missing():
    got = with_n_to_decide(_rows(), TRACES, ROLES, TABLE3)
    assert list(got["verdict"]) == ["inconclusive", "reproduced", "inconclusive", "inconclusive", "inconclusive",
                                    "inconclusive", "inconclusive"]
    assert got["n_to_decide"].tolist() == [1125, pd.NA, 32, pd.NA, 4410, 112, 27]
    # every inconclusive row with an interval of width gets a finite n at least its own size
    sizes = row_sizes(_rows(), TRACES, ROLES)
    for (_, r), n in zip(got.iterrows(), sizes, strict=True):
        if r.verdict == "inconclusive" and r.ci_high > r.ci_low:
            assert r.n_to_decide >= n
    # without the run's floor in Table 3 the count row has no bound: no n
    assert with_n_to_decide(_rows(), TRACES, ROLES, TABLE3.iloc[1:])["n_to_decide"].isna().iloc[0]
