"""Page ``04_emergence``: ``run`` gives the numbers and verdicts the notebook computed before the
move, and a second ``run`` reads them from the cache."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, assert_same_verdicts, before, tiny_params

RUNS = ("sft", "grpo-easy", "grpo-hard", "grpo-hard-lr", "distill", "hybrid")


@pytest.fixture(scope="module")
def page(tiny_zoo):
    from thinking_sparks.pages import emergence

    names = {f.name for f in dataclasses.fields(emergence.Params)}
    params = emergence.Params(**{k: v for k, v in tiny_params().items() if k in names})
    return emergence, params, emergence.run(params)


def _check(result):
    for name in ("summary", "table", "effects", "methods"):
        assert_same_frame(getattr(result, name), "04_emergence", name)
    no_signal = result.summary[result.summary.pairs < 2]
    assert_same_frame(no_signal, "04_emergence", "no_signal")
    for run in RUNS:
        for name in ("bands", "counts", "frequency", "heads", "summary"):
            assert_same_frame(getattr(result.traces[run], name), "04_emergence", f"traces[{run}].{name}")
    stored = before("04_emergence")["values"]
    for run in ("grpo-easy", "grpo-hard", "grpo-hard-lr"):
        assert_same_frame(result.rewards[run].per_checkpoint, "04_emergence", f"rewards[{run}][per_checkpoint]")
        assert result.rewards[run].n == stored[f"rewards[{run}][n]"]
    assert result.roles == {"sft": "sft", "distill": "distill", "grpo": "grpo-hard"}
    assert result.top_n == 20 and result.no_reward_log == []
    assert [tr.run for tr in result.runs] == list(RUNS)  # the page's order, also from the cache
    assert [d.name for d in result.drawings] == ["sft", "grpo-hard"]
    assert [(d.nodes.shape, d.edges.shape) for d in result.drawings] == [((10, 5), (18, 7)), ((11, 5), (19, 7))]


def test_results_as_before(page):
    _check(page[2])


def test_verdicts_as_before(page):
    emergence, _, result = page
    assert_same_verdicts(emergence.verdicts(result), "04_emergence")


def test_second_run_reads_the_cache(page, monkeypatch):
    emergence, params, _ = page

    def boom(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(emergence, "trace_models", boom)
    again = emergence.run(params)
    _check(again)
    assert_same_verdicts(emergence.verdicts(again), "04_emergence")
