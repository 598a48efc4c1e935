"""The summary box a page opens with: computed from its parameters, result and verdict table."""

from dataclasses import dataclass

import pandas as pd

from thinking_sparks.pages.summary import box, interval, number, seconds_of
from thinking_sparks.verdicts import Verdict, verdict_table


@dataclass
class _Params:
    model: str = "organism/sft@final"
    runs: tuple = ("sft", "distill")
    n_questions: int = 512
    profile: str = "full"
    dataset: str | None = None


@dataclass
class _Timing:
    heads_s: float
    eval_s: float
    generation_s: float


@dataclass
class _Result:
    seconds: float | dict = 0.0
    timing: _Timing | None = None


def test_numbers_read_like_a_papers():
    assert number(0.31415) == "0.314" and number(12.34) == "12.3" and number(1282.4) == "1,282"
    assert number(4.0) == "4" and number(float("nan")) == "–"
    assert interval(0.312, 0.2349, 0.391) == "0.312 [0.235, 0.391]"
    assert interval(3.0, float("nan"), float("nan")) == "3"


def test_the_box_says_what_ran_the_headline_and_the_counts():
    table = verdict_table([
        Verdict("SFT adds many emergent heads", "Table 3", "count", 4, 2, 6, above=2.0),
        Verdict("Distillation adds many emergent heads", "Table 3", "count", 4, 3, 6, above=1.0),
        Verdict("GRPO adds fewer", "Fig 3", "difference", 1, -3, 3, below=0),
    ])
    b = box(_Params(), _Result(seconds=1282.0), table)
    assert b.ran == ("model `organism/sft@final`; runs `sft, distill`; 512 questions per circuit; "
                     "profile `full`; computed in 21.4 min")
    # the decided row comes first, then the open ones in the table's order
    assert b.headline == ("Distillation adds many emergent heads: 4 [3, 6] (reproduced); "
                          "SFT adds many emergent heads: 4 [2, 6] (inconclusive)")
    assert b.verdicts == "3 checks: 1 reproduced, 2 inconclusive"
    html = b._repr_html_()
    assert "sparks-summary" in html and "<code>organism/sft@final</code>" in html and "<b>Run:</b>" in html
    assert b._repr_markdown_().count("> ") == 3


def test_a_page_without_claims_gets_its_own_headline_and_timing_parts_add_up():
    result = _Result(timing=_Timing(heads_s=30.0, eval_s=60.0, generation_s=50.0))
    assert seconds_of(result) == 90.0  # generation is inside the evaluations, not added again
    assert seconds_of(_Result(seconds={"emergence": 0.5, "ablation": 1.5})) == 2.0  # seconds per part
    b = box(_Params(runs=(), n_questions=None), result, None, headline="the loudest head writes 3.1x the median")
    assert b.headline == "the loudest head writes 3.1x the median" and b.verdicts == "no verdict rows"
    assert b.ran.endswith("computed in 90 s")
    assert box(_Params(), _Result(), pd.DataFrame(columns=["verdict"])).ran.endswith("not recorded")
    runs = box(_Params(runs={"sft": "/models/sft", "base": "/models/base"}), _Result(seconds=5.0), None).ran
    assert "runs `sft=/models/sft, base=/models/base`" in runs  # runs given as model specs
