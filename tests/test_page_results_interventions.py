"""Page 05 (``pages.interventions``): the same numbers as the notebook computed before the move, and
a second run read whole from the page cache."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, before, tiny_page_params

STEM = "05_interventions"


@pytest.fixture(scope="module")
def page_run(tiny_zoo):
    from thinking_sparks.cache import ResultCache
    from thinking_sparks.pages import interventions as page

    ResultCache().clear("page-interventions")  # a zoo kept between sessions may hold this page already
    params = tiny_page_params(page)
    return page, params, page.run(params)


def test_tables_are_those_of_the_notebook(page_run):
    _, _, result = page_run
    assert not result.timing.cached and result.timing.heads_s > 0 and result.timing.eval_s > 0
    for field, name in [("table1.table", "out[table1].table"), ("table1.samples", "out[table1].samples"),
                        ("random", "out[random]"), ("table5.table", "out[table5].table"),
                        ("table5.samples", "out[table5].samples"), ("classified", "out[classified]"),
                        ("failures", "out[failures]"), ("sweep.pass_at_1", "out[sweep][pass]"),
                        ("sweep.failures", "out[sweep][failures]"), ("sweep.samples", "out[sweep][samples]")]:
        obj = result
        for part in field.split("."):
            obj = getattr(obj, part)
        assert_same_frame(obj, STEM, name)


#: the verdicts after issue 21's rules (before: 5 rows, "not reproduced" on zero-width [0, 0] intervals, Table 5
#: read as "helps hard, hurts easy" by list position). The tiny models solve nothing in any condition: every
#: difference is 0 on every problem, so no row has an interval. Table 5's rows come from the samples'
#: difficulty column, in Table 5's directions (AIME'24 down, MATH up; zeroing: both down).
VERDICTS = [
    ("Zero-ablating the emergent heads lowers pass@1", "Table 1 (1.5B), §A.7"),
    ("Ablating emergent heads hurts more than ablating as many random heads (layer-matched)", "Table 1 (added control)"),
    ("Ablating the control (no-reasoning) circuit's heads collapses accuracy, far below ablating the emergent heads",
     "Table 1 (1.5B), TriviaQA row"),
    ("Zeroing SFT's heads in the base model lowers hard-set pass@1", "Table 5 (§5.9)"),
    ("Zeroing SFT's heads in the base model lowers easy-set pass@1", "Table 5 (§5.9)"),
    ("Scaling up (x1.3) SFT's heads in the base model lowers hard-set pass@1", "Table 5 (§5.9)"),
    ("Scaling up (x1.3) SFT's heads in the base model raises easy-set pass@1", "Table 5 (§5.9)"),
]


def assert_verdicts(table) -> None:
    assert [(r.claim, r.paper) for r in table.itertuples()] == VERDICTS
    assert list(table.value) == [0.0] * 7 and list(table.verdict) == ["inconclusive"] * 7
    assert table.ci_low.isna().all() and table.ci_high.isna().all()


def test_head_sets_and_verdicts_are_those_of_the_notebook(page_run):
    page, _, result = page_run
    values = before(STEM)["values"]
    assert (result.heads.n_layers, result.heads.n_heads) == (values["heads.n_layers"], values["heads.n_heads"]) == (2, 4)
    for name in ("emergent", "base", "control", "sft", "grpo early"):
        assert result.heads.notes[name] == values[f"heads.notes[{name}]"]
    assert list(result.head_sets["set"]) == ["emergent", "base", "control", "sft", "grpo early"]
    assert result.runs["grpo"].final == "organism/tiny/grpo-easy@final"
    assert_verdicts(page.verdicts(result))


def test_a_second_run_is_read_from_the_page_cache(page_run, monkeypatch):
    page, params, first = page_run

    def no_compute(*args, **kwargs):
        raise AssertionError("the page was computed again")

    monkeypatch.setattr(page, "choose_heads", no_compute)
    monkeypatch.setattr(page.models, "load_model", no_compute)
    again = page.run(params)
    assert again.timing.cached and not first.timing.cached
    assert again.timing.heads_s == first.timing.heads_s and again.timing.eval_s == first.timing.eval_s
    assert_same_frame(again.table1.table, STEM, "out[table1].table")
    assert_same_frame(again.sweep.pass_at_1, STEM, "out[sweep][pass]")
    assert again.heads == first.heads
    assert_verdicts(page.verdicts(again))


def test_without_a_grpo_run_fig4_is_left_out(page_run):
    page, params, _ = page_run
    result = page.run(dataclasses.replace(params, grpo_run=None))
    assert result.sweep is None and result.heads.sets["grpo early"] == []
    assert "ablate grpo early" not in set(result.table5.table["condition"])
