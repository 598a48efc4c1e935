"""Page 07_real_model's library (realmodel.page, realmodel.claims) and its params, on a tiny model
post-trained with the real-model SFT recipe (no hub; SmolLM2 itself runs in the book)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

#: the page's parameters scaled down to a 2-layer model: seconds, not minutes
TINY = {"max_steps": 2, "n": 2, "limit": 3, "max_new_tokens": 8, "n_questions": 8, "answer_tokens": 6, "steps": 2,
        "top_n": 20, "n_boot": 10, "n_splits": 5, "trace_checkpoints": 2, "k": 2, "seeds": 1, "n_k": 3, "k_limit": 3,
        "direct_tokens": 6}


def test_params_reject_bad_input():
    from thinking_sparks.pages.real_model import Params as RealModelParams
    from thinking_sparks.runs import make_params

    assert RealModelParams().run_config().max_steps == 24  # the run's own CPU size by default
    for bad, msg in (({"run": "nope"}, "run must be one of"), ({"style_level": "hard"}, "style_level"),
                     ({"n_questions": 2}, "n_questions"), ({"answer_tokens": None}, "answer_tokens"),
                     ({"limit": 0}, "limit must be a positive"), ({"temperature": 3.0}, "temperature"),
                     ({"trace_checkpoints": 0}, "trace_checkpoints"), ({"model": " "}, "model")):
        with pytest.raises(ValueError, match=msg):
            RealModelParams(**bad)
    with pytest.raises(ValueError, match="n must be int"):
        make_params("07_real_model", {"n": "4"})
    with pytest.raises(ValueError, match="unknown parameters"):
        make_params("07_real_model", {"profile_run": "x"})


def test_run_config_and_traced_checkpoints():
    from thinking_sparks.realmodel import page, runs

    assert page.run_config() == runs.RUNS["smollm2-sft"]  # no override: the named run (and its cache)
    short = page.run_config(max_steps=2)
    assert short.max_steps == 2 and short.n_checkpoints == 2 and short != runs.RUNS["smollm2-sft"]
    gpu = page.run_config(device="cuda", gpu_steps=48)
    assert gpu.recipe().max_steps == 48 and gpu.recipe().bf16
    with pytest.raises(ValueError, match="unknown run"):
        page.run_config("nope")
    specs = [f"real/x@{s}" for s in (4, 8, 12, 16, 20, 24)]
    assert page.traced(specs, 3) == ["real/x@8", "real/x@16", "real/x@24"]
    assert page.traced(specs, 1) == ["real/x@24"] and page.traced(specs, 9) == specs
    with pytest.raises(ValueError, match="at least one"):
        page.traced(specs, 0)


@pytest.fixture(scope="module")
def real_page(tmp_path_factory, tiny_model_dir):
    """Everything the page computes, once, on a tiny model (its own cache)."""
    from thinking_sparks.emergence import tables as ez
    from thinking_sparks.realmodel import page
    from thinking_sparks.realmodel.claims import real_verdicts
    from thinking_sparks.pages.real_model import Params as RealModelParams

    cache = tmp_path_factory.mktemp("real-page")
    p = RealModelParams(model=str(tiny_model_dir), **TINY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        pairs, settings, style = p.circuit_settings()
        trained = page.train_run(p.run, p.run_config())
        acc = page.accuracy(p.model, trained.final, p.eval_params())
        tr = page.sweep(p.model, page.traced(trained.specs, p.trace_checkpoints), pairs, settings, trained.name)
        table = ez.table3({trained.name: tr}, settings, n_boot=p.n_boot, n_splits=p.n_splits)
        th = page.style_heads(p.model, style, settings, p.k)
        ov = page.overlap(th, settings, n_boot=p.n_boot)
        styles = page.style_interventions(p.model, th["on_only_top"], th["off_only"], p.style_params(), p.style_level,
                                          p.seeds)
        verdicts = real_verdicts(trained.name, tr, table, acc, ov, styles, n_boot=p.n_boot)
        yield {"p": p, "trained": trained, "acc": acc, "tr": tr, "table": table, "th": th, "ov": ov,
               "styles": styles, "verdicts": verdicts, "settings": settings, "style": style}


def test_run_trains_once_and_names_its_checkpoints(real_page):
    from thinking_sparks.realmodel import page

    t = real_page["trained"]
    assert t.steps == [1, 2] and not t.cached
    assert t.specs == [f"real/{t.path.name}@1", f"real/{t.path.name}@2"]  # overridden settings: keyed name
    again = page.train_run(t.name, t.cfg)
    assert again.cached and again.specs == t.specs and again.meta == t.meta


def test_accuracy_before_after_is_paired(real_page):
    acc = real_page["acc"]
    assert list(acc.table.model) == ["before", "after"] and (acc.table.n_problems == 3).all()
    assert ((acc.table.ci_low <= acc.table["pass@1"]) & (acc.table["pass@1"] <= acc.table.ci_high)).all()
    d, lo, hi = acc.diff
    gap = acc.table["pass@1"].iloc[1] - acc.table["pass@1"].iloc[0]
    assert d == pytest.approx(gap) and lo <= d <= hi


def test_sweep_layers_and_noise_floor(real_page):
    from thinking_sparks.realmodel import page

    tr, table = real_page["tr"], real_page["table"]
    assert tr.steps == [1, 2] and len(tr.frequency) == tr.base.n_layers * tr.base.n_heads
    layers = page.layer_frame(tr)
    final = layers[layers.kind == "emergent at the final checkpoint"]
    assert len(final) == tr.base.n_layers and final.heads.sum() == len(tr.sets().emergent)
    ever = layers[layers.kind == "emergent at any checkpoint"]
    assert (ever.heads.to_numpy() >= final.heads.to_numpy()).all()
    row = table.set_index("method").loc[real_page["trained"].name]
    assert row.emergent == len(tr.sets().emergent)


def test_style_circuits_overlap_and_interventions(real_page):
    th, ov, styles, p = real_page["th"], real_page["ov"], real_page["styles"], real_page["p"]
    on, off = set(th["on"]), set(th["off"])
    assert set(th["off_only"]) <= off - on and len(th["off_only"]) <= p.k
    assert set(th["on_only_top"]) <= on - off
    assert ov["n_on"] == len(on) and ov["n_off"] == len(off)
    if on | off:
        assert ov["jaccard"] == pytest.approx(len(on & off) / len(on | off))
    cmp = th["comparison"]
    assert cmp.base.clean.endswith("(step-by-step)") and cmp.model.clean.endswith("(direct)")
    direct = styles["direct"].table
    assert set(direct.set) == {"easy-direct"} and set(styles["think"].table.set) == {"easy"}
    if th["off_only"]:
        assert {"no ablation", "ablate direct-only", "random #0", "x0.5 direct-only"} <= set(direct.condition)
        ablated = direct.set_index("condition").loc["ablate direct-only", "heads"]
        assert ablated.split(",") == th["off_only"]
    curves = styles["curves"].table
    assert sorted(curves.k.unique()) == [1, 2, 3] and set(curves.metric) == {"pass", "success"}


def test_verdict_table_is_computed(real_page):
    from thinking_sparks.verdicts import COLUMNS, VERDICTS

    v = real_page["verdicts"]
    assert list(v.columns) == list(COLUMNS) and set(v.verdict) <= set(VERDICTS)
    claims = list(v.claim)
    assert claims[0] == "Post-training on worked solutions raises accuracy"
    assert "SFT's emergent heads sit in mid-late layers" in claims
    first = v.iloc[0]
    assert (first.value, first.ci_low, first.ci_high) == pytest.approx(tuple(round(x, 3) for x in real_page["acc"].diff))


def test_warm_rebuild_computes_nothing(real_page, monkeypatch):
    """Every expensive result is cached: a second pass builds no circuit and samples no answer."""
    from thinking_sparks.emergence import sweep as sweep_mod
    from thinking_sparks.evaluation import harness
    from thinking_sparks.realmodel import page

    monkeypatch.setenv("SPARKS_CACHE", str(real_page["trained"].path.parents[1]))

    def boom(*a, **k):
        raise AssertionError("recomputed a cached result")

    monkeypatch.setattr(sweep_mod, "_compute", boom)
    monkeypatch.setattr(harness, "evaluate", boom)
    p, settings = real_page["p"], real_page["settings"]
    tr = real_page["tr"]
    again = page.sweep(p.model, [r.model for r in tr.results], p.circuit_settings()[0], settings, tr.run)
    assert again.base.cached and all(r.cached for r in again.results)
    th = page.style_heads(p.model, real_page["style"], settings, p.k)
    assert th["comparison"].model.cached and th["on"] == real_page["th"]["on"]
    page.accuracy(p.model, real_page["trained"].final, p.eval_params())
    page.style_interventions(p.model, th["on_only_top"], th["off_only"], p.style_params(), p.style_level, p.seeds)


def test_notebook_runs_on_a_tiny_model(tmp_path, tiny_model_dir, monkeypatch):
    import nbformat

    from thinking_sparks.runs import execute
    from thinking_sparks.verdicts import collect

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    out = execute(REPO / "notebooks" / "07_real_model.ipynb", tmp_path / "07.ipynb",
                  {"model": str(tiny_model_dir), **TINY})
    nb = nbformat.read(out, as_version=4)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outs if o.output_type in ("error", "stream")] == []  # no tracebacks, warnings or bars
    source = nbformat.read(REPO / "notebooks" / "07_real_model.ipynb", as_version=4)
    assert all("hide-input" in c.metadata.get("tags", []) for c in source.cells if c.cell_type == "code")
    text = "\n".join(o.get("data", {}).get("text/markdown", "") for o in outs)
    assert "Paired difference after − before" in text and "**This page** took" in text
    table = collect(out)
    assert table is not None and "Post-training on worked solutions raises accuracy" in set(table.claim)


def test_parallel_sweep_builds_the_same_circuits(real_page, tmp_path, monkeypatch):
    """``jobs=2`` (half the circuits in a worker process) gives the sweep of one process, bit for bit."""
    import numpy as np

    from thinking_sparks.realmodel import page

    (tmp_path / "real").symlink_to(real_page["trained"].path.parent)  # the trained run, in a fresh cache
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    tr, p = real_page["tr"], real_page["p"]
    par = page.sweep(p.model, [r.model for r in tr.results], p.circuit_settings()[0], real_page["settings"], tr.run,
                     jobs=2)
    assert par.base.heads == tr.base.heads and [r.heads for r in par.results] == [r.heads for r in tr.results]
    assert all(np.array_equal(a.score, b.score) for a, b in zip(par.results, tr.results))
    assert all(r.cached for r in par.results)  # built by the two processes before the sweep read them
    assert (tmp_path / "logs" / f"trace-{tr.run}.log").exists()
