"""Page ``03_circuits``: ``run`` gives the numbers the notebook computed before the move, and a
second ``run`` reads them from the cache."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
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


def test_exact_patching_in_both_directions(page):
    _, _, result = page
    assert result.patch_direction == "denoise" and result.spearman == result.spearman_denoise
    assert result.other_spearman == result.exact_spearman  # the noising Spearman, as before
    assert list(result.exact.columns) == ["head", "attribution", "exact", "denoise"]
    assert -1 <= result.spearman_denoise <= 1 and 0 <= result.recall <= 1 and result.k >= 1
    assert result.corrupted_loss > 0 and result.clean_loss == pytest.approx(0, abs=1e-5)  # KL against clean
    assert list(result.agreement.direction) == ["noise", "denoise", "denoise", "denoise", "denoise"]
    row = result.agreement.iloc[1]  # the page's setting against denoising: the page's own numbers
    assert row.spearman == pytest.approx(result.spearman_denoise, abs=1e-6) and row.k == result.k
    assert result.agreement.iloc[0].spearman == pytest.approx(result.exact_spearman, abs=0.05)
    assert len(result.boot) == 1000 and result.boot.spearman.dropna().between(-1, 1).all()


def test_verdicts_check_the_premise(page):
    from thinking_sparks.verdicts import COLUMNS

    circuits, _, result = page
    table = circuits.verdicts(result)
    assert list(table.columns) == list(COLUMNS) and len(table) == 2
    assert list(table.criterion) == ["CI above 0.8", "CI above 0.5"]
    low, _ = result.ci("spearman")
    assert low <= result.spearman_denoise + 1e-9 and table.iloc[0].ci_low == pytest.approx(low, abs=1e-3)
    assert set(table.verdict) <= {"reproduced", "not reproduced", "inconclusive"}


def test_noise_direction_is_a_parameter(tiny_zoo):
    from thinking_sparks.pages import circuits

    with pytest.raises(ValueError, match="patch_direction must be one of noise, denoise"):
        circuits.Params(profile="tiny", patch_direction="sideways")


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
    for name in ("agreement", "boot", "exact"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))
    assert (again.spearman_denoise, again.noise_sum, again.k) == (result.spearman_denoise, result.noise_sum, result.k)


def test_edge_agreement_of_the_page_circuit(page):
    """The page's circuit against exact edge patching: the tiny graph (110 edges) is patched whole;
    with every pair patched, the heads' same-pair agreement is the page's own denoising Spearman."""
    circuits, params, result = page
    table = circuits.edge_agreement(params)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row.graph_edges, row.edges, row.top_n) == (110, 110, 20) and row.pairs == result.n_pairs
    assert row.heads == len(result.heads)
    assert row.head_spearman == pytest.approx(result.spearman_denoise, abs=1e-6)
    assert row.edge_spearman == pytest.approx(row.edge_spearman_circuit, abs=1e-9)  # the same pairs
    assert -1 <= row.edge_spearman <= 1 and 0 <= row.edge_recall <= 1 and row.edge_patch_s > 0
    assert row.all_edges_s == pytest.approx(row.edge_patch_s, abs=0.1)  # every edge was patched
    assert circuits.edge_agreement(params).equals(table)  # cached
