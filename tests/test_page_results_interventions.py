"""Page 05 (``pages.interventions``): the same numbers as the notebook computed before the move, and
a second run read whole from the page cache."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, assert_same_verdicts, before, tiny_page_params

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


def test_head_sets_and_verdicts_are_those_of_the_notebook(page_run):
    page, _, result = page_run
    values = before(STEM)["values"]
    assert (result.heads.n_layers, result.heads.n_heads) == (values["heads.n_layers"], values["heads.n_heads"]) == (2, 4)
    for name in ("emergent", "base", "control", "sft", "grpo early"):
        assert result.heads.notes[name] == values[f"heads.notes[{name}]"]
    assert list(result.head_sets["set"]) == ["emergent", "base", "control", "sft", "grpo early"]
    assert result.runs["grpo"].final == "organism/tiny/grpo-easy@final"
    assert_same_verdicts(page.verdicts(result), STEM)
    assert len(page.verdicts(result)) == 5


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
    assert_same_verdicts(page.verdicts(again), STEM)


def test_without_a_grpo_run_fig4_is_left_out(page_run):
    page, params, _ = page_run
    result = page.run(dataclasses.replace(params, grpo_run=None))
    assert result.sweep is None and result.heads.sets["grpo early"] == []
    assert "ablate grpo early" not in set(result.table5.table["condition"])
