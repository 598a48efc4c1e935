"""Page ``04_emergence`` at both circuit sizes (issue 22): the paper's edge fraction and the paper's
head share, the second derived from the first's per-pair scores (no attribution, no patching)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import tiny_params


def test_verdicts_at_the_other_size(tmp_path, monkeypatch, tiny_zoo_cache):
    from thinking_sparks.circuits.size import PAPER_HEAD_SHARE
    from thinking_sparks.emergence import sweep
    from thinking_sparks.pages import emergence

    (tmp_path / "organism").symlink_to(tiny_zoo_cache[0] / "organism")  # the zoo's models, a fresh results cache
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    names = {f.name for f in dataclasses.fields(emergence.Params)}
    params = emergence.Params(**{k: v for k, v in tiny_params().items() if k in names} | {
        "top_n": None, "runs": ["sft", "grpo-hard"], "build": False})
    assert params.size == "edge-fraction"  # the plan's choice: the reproduction
    main = emergence.run(params)

    def boom(*a, **k):
        raise AssertionError("the other size attributed or patched again")

    monkeypatch.setattr(sweep, "attribute", boom)
    monkeypatch.setattr(sweep, "patch_nodes", boom)
    cmp = emergence.other_size(params)
    assert (cmp.main, cmp.other) == ("edge-fraction", "head-share") and cmp.n_heads == 8
    assert cmp.top_n["edge-fraction"] == main.top_n != cmp.top_n["head-share"]
    assert cmp.base_heads["head-share"] / cmp.n_heads >= PAPER_HEAD_SHARE
    rows = emergence.verdicts(main)
    assert cmp.table.claim.tolist() == rows.claim.tolist()
    assert cmp.table["verdict_edge-fraction"].tolist() == rows.verdict.tolist()
    assert set(cmp.differ.index) <= set(cmp.table.index)
    swapped = emergence.run(dataclasses.replace(params, size="head-share"))  # cached by the comparison
    assert swapped.top_n == cmp.top_n["head-share"]
    assert emergence.other_size(dataclasses.replace(params, top_n=20)) is None
    with pytest.raises(ValueError, match="size must be one of"):
        dataclasses.replace(params, size="heads")
