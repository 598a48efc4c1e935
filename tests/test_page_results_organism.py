"""Page 02 (``pages.organism``): the same tables and verdicts as the notebook computed before the
move (tiny profile), a round trip through the results cache, and a warm rerun that computes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, assert_same_verdicts, before, tiny_params
from thinking_sparks.cache import ResultCache
from thinking_sparks.pages import organism as page

#: rules changed on purpose (issue 21): the tiny models answer every hard problem alike (pass@1 0 on both
#: sides), and a difference that is 0 on every problem has no interval: undecided, not "not reproduced"
#: by a zero-width [0, 0]; SFT's and distillation's premises cite the tables that hold their numbers
CHANGED = {"changed": {"SFT": "inconclusive", "distillation": "inconclusive", "thinking on": "inconclusive",
                       "the teacher": "inconclusive", "grpo-": "inconclusive"},
           "edited": {"SFT raises": {"paper": "§2 premise; Table 5"},
                      "distillation raises": {"paper": "§2 premise; Tables 1, 4"}}}
STEM = "02_organism"


def _params() -> page.Params:
    names = {f.name for f in dataclasses.fields(page.Params)}
    return page.Params(**{k: v for k, v in tiny_params().items() if k in names})


@pytest.mark.slow
def test_organism_page_matches_before_and_rereads_its_cache(tiny_zoo, monkeypatch):
    params = _params()
    assert (params.profile, params.n, params.limit, params.curve_runs) == ("tiny", 2, 3, ["sft", "grpo-hard"])
    ResultCache().clear("page-organism")  # the zoo folder may be kept between sessions: compute afresh
    result = page.run(params)

    for field, name in (("examples", "examples"), ("runs", "runs"), ("loss", "loss"), ("grpo_curves", "curves"),
                        ("rewards", "rewards"), ("wide", "wide"), ("along", "along")):
        assert_same_frame(getattr(result, field), STEM, name)
    for name in ("evaluation.table", "table"):
        assert_same_frame(result.evaluation.table, STEM, name)
    assert_same_frame(result.evaluation.samples, STEM, "evaluation.samples")
    assert_same_frame(result.grpo_curves[result.grpo_curves.term == "accuracy"], STEM, "acc_curve")
    assert_same_frame(result.bars(), STEM, "bars")
    assert result.sanity_problems == []  # the tiny profile's floors are structural only
    assert_same_verdicts(page.verdicts(result), STEM, **CHANGED)
    # the intervals are scipy's BCa bootstrap now (the stored "checks" frame holds the old rule's words)
    assert all("BCa bootstrap" in c for c in page.verdicts(result).criterion)

    hard = {k[5:-1]: v for k, v in before(STEM)["values"].items() if k.startswith("hard[")}
    assert hard["question"] in result.hybrid_prompt and result.hybrid_prompt.rstrip().endswith(
        f"<answer> {hard['answer']} </answer>")
    assert list(result.completions.model) == [f"organism/tiny/{r}@final" for r in page.WRITERS]
    assert set(result.completions.gold) == {hard["answer"]}
    assert result.shapes.sentence() == SENTENCE
    assert result.threads >= 1 and result.seconds >= 0

    def computed(*args, **kwargs):
        raise AssertionError("a warm rerun must compute nothing")

    for name in ("zoo_evaluation", "checkpoint_accuracy", "example_completions"):
        monkeypatch.setattr(page.scores, name, computed)
    monkeypatch.setattr(page, "load_model", computed)
    again = page.run(params)
    assert again.evaluation.samples.equals(result.evaluation.samples)
    assert again.shapes == result.shapes and again.hybrid_prompt == result.hybrid_prompt
    assert_same_verdicts(page.verdicts(again), STEM, **CHANGED)
    with pytest.raises(AssertionError, match="compute nothing"):
        page.run(dataclasses.replace(params, n=3))  # other sampling, other key


def test_broken_evaluation_gives_no_verdicts():
    import pandas as pd

    from thinking_sparks.organism.scores import ZooEvaluation
    from thinking_sparks.organism.shapes import ModelShape, ZooShapes
    from thinking_sparks.verdicts import COLUMNS

    shape = ModelShape(n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, d_model=32, d_ff=64, parameters=20_000)
    empty = pd.DataFrame()
    result = page.Result(examples=empty, hybrid_prompt="", shapes=ZooShapes(shape, shape, 1.0), runs=empty,
                         loss=empty, grpo_curves=empty, rewards=empty, evaluation=ZooEvaluation(empty, empty),
                         wide=empty, sanity_problems=["no model reaches pass@1 0.05 on any set (best 0.000)"],
                         along=empty, completions=empty, threads=1, seconds=0.0)
    v = page.verdicts(result)
    assert v.empty and list(v.columns) == list(COLUMNS)
    assert ZooShapes(shape, shape, 1.0).sentence().endswith("(MLP width 64; 0.02M parameters, 1.0 times the "
                                                             "students') and is pretrained to always reason.")


#: the tiny profile's shapes as the page said them before the move
SENTENCE = ("The students — `base` and every run started from it — have 2 layers of 4 query heads (8 heads; 2 key/value "
            "heads per layer, head_dim 8, d_model 32, MLP width 64; 0.02M parameters). The teacher has 2 layers of 4 "
            "heads at d_model 48 (MLP width 96; 0.05M parameters, 2.1 times the students') and is pretrained to "
            "always reason.")
