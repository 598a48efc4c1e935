"""One circuit configuration: its defaults, the paper's top-n fraction, its checks, and the pages'."""

from __future__ import annotations

import dataclasses

import pytest

from thinking_sparks.circuits.config import CircuitConfig, paper_fraction, scaled_top_n


def test_top_n_defaults_to_the_papers_fraction_of_the_graph():
    from thinking_sparks.circuits.graph import Graph

    g = Graph(2, 4, 4, "ungrouped")
    assert g.n_edges == 110
    assert CircuitConfig().n_for(g) == scaled_top_n(110) == 3
    assert CircuitConfig(top_n=20).n_for(g) == 20
    assert scaled_top_n(183_555) == 5000 and round(paper_fraction(), 6) == 0.027240


@pytest.mark.parametrize("change, message", [
    ({"method": "exact"}, "unknown --method 'exact'"), ({"gqa": "per-head"}, "unknown --gqa"),
    ({"aggregation": "max"}, "unknown --aggregation"), ({"steps": 0}, "--steps must be >= 1"),
    ({"top_n": 0}, "--top-n must be >= 1"), ({"batch_size": 0}, "--batch-size must be >= 1"),
    ({"n_boot": -1}, "--n-boot must be >= 0"), ({"rule": "trapezoid"}, "unknown Riemann rule"),
    ({"metric": "l2"}, "metric"),
])
def test_a_bad_field_is_one_error_line(change, message):
    with pytest.raises(ValueError, match=message) as err:
        CircuitConfig(**change).validate()
    assert "\n" not in str(err.value)


def test_exact_scores_edges_only():
    assert CircuitConfig(method="exact").validate(edges_only=True).method == "exact"


def test_pages_build_the_same_config_as_the_sweep_always_did():
    from thinking_sparks.pages import circuits, emergence
    from thinking_sparks.pages.params import emergence_settings

    _, c03 = emergence_settings(circuits.Params(profile="tiny", steps=2, top_n=20))
    _, c04 = emergence_settings(emergence.Params(profile="tiny", runs=["sft"], steps=2, top_n=20, n_boot=20))
    assert dataclasses.asdict(c03) == {"method": "eap-ig-inputs", "steps": 2, "rule": "left", "metric": "kl",
                                       "gqa": "ungrouped", "aggregation": "mean", "top_n": 20, "n_boot": 100,
                                       "seed": 0, "batch_size": None, "dtype": None}
    assert (c04.n_boot, c04.steps) == (20, 2)
