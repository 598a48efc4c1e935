"""Page ``03_circuits``: ``run`` gives the numbers the notebook computed before the move, and a
second ``run`` reads them from the cache."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tests.page_expect import assert_same_frame, before, tiny_params

FRAMES = ("pair_text", "top_edges", "ig", "scaling", "nodes", "edges", "exact")


@pytest.fixture(scope="module")
def page(tiny_zoo):
    from thinking_sparks.pages import circuits

    names = {f.name for f in dataclasses.fields(circuits.Params)}
    params = circuits.Params(**{k: v for k, v in tiny_params().items() if k in names})
    return circuits, params, circuits.run(params)


@pytest.mark.parametrize("name", FRAMES)
def test_frames_as_before(page, name):
    _, _, result = page
    assert_same_frame(getattr(result, name), "03_circuits", f"w.{name}")


def test_numbers_as_before(page):
    _, _, result = page
    values = before("03_circuits")["values"]
    assert (result.model, result.base) == (values["w.model"], values["w.base"])
    assert (result.n_edges, result.top_n, result.n_short) == (110, 20, 1)
    assert math.isclose(result.exact_spearman, 0.3571428571428571, abs_tol=1e-9)
    assert math.isclose(result.faithfulness, 0.9986122826059444, abs_tol=1e-9)


def test_verdicts_are_an_empty_verdict_table(page):
    from thinking_sparks.verdicts import COLUMNS

    circuits, _, result = page
    table = circuits.verdicts(result)
    assert table.empty and list(table.columns) == list(COLUMNS)


def test_second_run_reads_the_cache(page, monkeypatch):
    circuits, params, result = page

    def boom(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(circuits, "attribute", boom)
    monkeypatch.setattr(circuits, "pair_set", boom)
    again = circuits.run(params)
    assert again.chosen_steps == result.chosen_steps and again.heads == result.heads
    for name in FRAMES:
        assert_same_frame(getattr(again, name), "03_circuits", f"w.{name}")
