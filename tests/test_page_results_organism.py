"""Page 02 (``pages.organism``): the same tables and verdicts as the notebook computed before the
move (tiny profile), a round trip through the results cache, and a warm rerun that computes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, before, tiny_params
from thinking_sparks.cache import ResultCache
from thinking_sparks.pages import organism as page

#: the premises are decided on the calibrated set (issue 21: plan.PLAN.levels.premise_set), and the thinking
#: check runs on every set; the tiny models answer alike in every condition, so a difference that is 0 on every
#: problem has no interval: every premise undecided (before: "not reproduced" by a zero-width [0, 0])
VERDICTS = [(claim, "inconclusive") for claim in (
    "SFT raises calibrated-set pass@1 over base", "distillation raises calibrated-set pass@1 over base",
    "thinking on beats thinking off on the calibrated set", "thinking on beats thinking off on the easy set",
    "thinking on beats thinking off on the medium set", "thinking on beats thinking off on the hard set",
    "the teacher is the strongest model on the calibrated set", "GRPO accuracy reward rises (grpo-easy)",
    "GRPO accuracy reward rises (grpo-hard)", "GRPO accuracy reward rises (grpo-hard-lr)",
    "grpo-easy raises calibrated-set pass@1 over base", "grpo-hard raises calibrated-set pass@1 over base",
    "grpo-hard-lr raises calibrated-set pass@1 over base")]
STEM = "02_organism"
#: Fig 8's run (``organism.config.FIGURE_RUNS``) came after the stored results: the page lists, evaluates and
#: draws it like any run, the others' numbers do not move with it, and no premise row reads it
FIG8 = "grpo-hard-lr20"


def _old(frame):
    """``frame`` without Fig 8's run (by its ``run`` column; a frame without one is returned as it is)."""
    return frame[frame.run != FIG8] if "run" in frame.columns else frame


def _claims(table) -> list[tuple[str, str]]:
    return list(zip(table.claim, table.verdict))


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
                        ("rewards", "rewards"), ("along", "along")):
        assert_same_frame(_old(getattr(result, field)), STEM, name)
        # listed, drawn and summarised beside the others (the loss frame holds no GRPO run)
        assert field in ("examples", "along", "loss") or (getattr(result, field).run == FIG8).any(), field
    # the calibrated set (issue 21: the premises' set) is new; the three role sets are as before
    table = _old(result.evaluation.table)
    for name in ("evaluation.table", "table"):
        assert_same_frame(table[table.difficulty != "calibrated"], STEM, name)
    samples = _old(result.evaluation.samples)
    assert_same_frame(samples[samples.difficulty != "calibrated"], STEM, "evaluation.samples")
    assert_same_frame(_old(result.wide).drop(columns="calibrated"), STEM, "wide")
    assert (result.wide.run == FIG8).sum() == 1 and len(result.evaluation.table) == len(table) + 4  # four sets
    assert set(result.evaluation.table.difficulty) == {"easy", "medium", "hard", "calibrated"}
    assert_same_frame(_old(result.grpo_curves[result.grpo_curves.term == "accuracy"]), STEM, "acc_curve")
    bars = _old(result.bars())
    assert_same_frame(bars[bars.difficulty != "calibrated"], STEM, "bars")
    assert result.sanity_problems == []  # the tiny profile's floors are structural only
    assert _claims(page.verdicts(result)) == VERDICTS
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
    assert _claims(page.verdicts(again)) == VERDICTS
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
