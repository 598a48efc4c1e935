"""The agreement bootstrap over pairs (circuits.agreement) and the exact-patching head sets, on
hand-built per-pair tables whose every resample's answer is known."""

from __future__ import annotations

import math

import pytest
import torch

from thinking_sparks.circuits.agreement import agreement_bootstrap, exact_heads
from thinking_sparks.emergence.stats import head_names, jaccard


def test_identical_sides_agree_in_every_resample():
    a = torch.tensor([[1.0, 2.0, 3.0, 0.5], [2.0, 1.0, 4.0, 0.0], [0.0, 3.0, 5.0, 1.0]])
    boot = agreement_bootstrap(a, a.clone(), k=2, n_boot=50)
    assert len(boot) == 50 and list(boot.columns) == ["spearman", "spearman_abs", "recall"]
    assert (boot.spearman == 1.0).all() and (boot.recall == 1.0).all()


def test_resamples_recompute_both_sides_head_means():
    # attribution ranks the heads 1 < 2 < 3 on both pairs; exact patching agrees on pair 1 and is
    # reversed on pair 0, so a resample of {0, 0} gives -1, {1, 1} gives +1, one of each a tie (nan)
    attributed = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    exact = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    boot = agreement_bootstrap(attributed, exact, k=1, n_boot=400, seed=1)
    values = boot.spearman
    assert set(values.dropna().round(9)) == {-1.0, 1.0}
    assert values.isna().any()
    # each of the three outcomes has probability 1/4, 1/4, 1/2
    assert abs((values == 1.0).mean() - 0.25) < 0.08 and abs(values.isna().mean() - 0.5) < 0.08
    # recall at k=1: the top exact head (by |mean|; ties: the lower index) is head 2 only for {1, 1}
    assert ((boot.recall == 1.0) == (values == 1.0)).all()
    assert boot.equals(agreement_bootstrap(attributed, exact, k=1, n_boot=400, seed=1))  # deterministic by seed


def test_bad_shapes_are_one_clear_error():
    with pytest.raises(ValueError, match="aligned"):
        agreement_bootstrap(torch.zeros(3, 4), torch.zeros(3, 5), k=1)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        agreement_bootstrap(torch.zeros(1, 4), torch.zeros(1, 4), k=1)


def test_exact_heads_and_jaccard():
    names = head_names(2, 2)
    assert names == ["L0H0", "L0H1", "L1H0", "L1H1"]
    assert exact_heads([0.1, -0.9, 0.5, 0.0], names, 2) == {"L0H1", "L1H0"}
    assert exact_heads([0.1, -0.9, 0.5, 0.0], names, 0) == set()
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert math.isnan(jaccard(set(), set()))


def test_mean_jaccard_over_runs():
    import pandas as pd

    from thinking_sparks.emergence.tables import mean_jaccard

    sets = pd.DataFrame({"run": ["a", "b", "c"], "jaccard": [0.2, 0.4, float("nan")]})
    boot = pd.DataFrame({"a": [0.0, 0.2, 0.4, float("nan")], "b": [0.2, 0.4, 0.6, 0.5]})
    value, low, high, runs = mean_jaccard(sets, boot)
    assert (value, runs) == (pytest.approx(0.3), 2)
    # resample means 0.1, 0.3, 0.5 (the fourth has a NaN side): 2.5% and 97.5% quantiles
    assert (low, high) == (pytest.approx(0.11), pytest.approx(0.49))
    assert all(math.isnan(x) for x in mean_jaccard(sets, pd.DataFrame())[:3])
