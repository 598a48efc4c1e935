"""Page 07_real_model (pages.real_model: Params, run, Result, verdicts) and the real-model room's
pieces it composes (realmodel.training / accuracy / sweep / styles / ablations, realmodel.claims), on a
tiny model post-trained with the real-model SFT recipe (no hub; SmolLM2 itself runs in the book)."""

from __future__ import annotations

import math

import pytest

from tests.conftest import REPO

#: the page's parameters scaled down to a 2-layer model: seconds, not minutes
TINY = {"max_steps": 2, "n": 2, "limit": 3, "max_new_tokens": 8, "n_questions": 8, "answer_tokens": 6, "steps": 2,
        "top_n": 20, "n_boot": 10, "trace_checkpoints": 2, "k": 2, "seeds": 1, "n_k": 3, "k_limit": 3,
        "direct_tokens": 6, "jobs": 1}  # one process: test_parallel_sweep_builds_the_same_circuits compares


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
    from thinking_sparks.realmodel import runs
    from thinking_sparks.realmodel.sweep import traced
    from thinking_sparks.realmodel.training import run_config

    assert run_config() == runs.RUNS["smollm2-sft"]  # no override: the named run (and its cache)
    short = run_config(max_steps=2)
    assert short.max_steps == 2 and short.n_checkpoints == 2 and short != runs.RUNS["smollm2-sft"]
    gpu = run_config(device="cuda", gpu_steps=48)
    assert gpu.recipe().max_steps == 48 and gpu.recipe().bf16
    with pytest.raises(ValueError, match="unknown run"):
        run_config("nope")
    specs = [f"real/x@{s}" for s in (4, 8, 12, 16, 20, 24)]
    assert traced(specs, 3) == ["real/x@8", "real/x@16", "real/x@24"]
    assert traced(specs, 1) == ["real/x@24"] and traced(specs, 9) == specs
    with pytest.raises(ValueError, match="at least one"):
        traced(specs, 0)


@pytest.fixture(scope="module")
def real_page(tmp_path_factory, tiny_model_dir):
    """The page run once on a tiny model (its own cache): ``params``, the ``Result``, its verdicts."""
    from thinking_sparks.pages.real_model import Params as RealModelParams
    from thinking_sparks.pages.real_model import run, verdicts

    cache = tmp_path_factory.mktemp("real-page")
    p = RealModelParams(model=str(tiny_model_dir), **TINY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        result = run(p)
        _, settings, style = p.circuit_settings()
        yield {"p": p, "result": result, "trained": result.trained, "acc": result.accuracy, "tr": result.trace,
               "table": result.table3, "styles": result.styles, "ablations": result.ablations,
               "verdicts": verdicts(result), "settings": settings, "style": style, "cache": cache}


def test_run_trains_once_and_names_its_checkpoints(real_page):
    from pathlib import Path

    from thinking_sparks.realmodel.training import train_run

    t = real_page["trained"]
    name = Path(t.path).name
    assert t.steps == [1, 2] and not t.cached
    assert t.specs == [f"real/{name}@1", f"real/{name}@2"]  # overridden settings: keyed name
    again = train_run(t.name, t.cfg)
    assert again.cached and again.specs == t.specs and again.meta == t.meta


def test_accuracy_before_after_is_paired(real_page):
    acc = real_page["acc"]
    assert list(acc.table.model) == ["before", "after"] and (acc.table.n_problems == 3).all()
    assert ((acc.table.ci_low <= acc.table["pass@1"]) & (acc.table["pass@1"] <= acc.table.ci_high)).all()
    d, lo, hi = acc.diff
    gap = acc.table["pass@1"].iloc[1] - acc.table["pass@1"].iloc[0]
    assert d == pytest.approx(gap)
    # a difference that is the same on every problem (the tiny model: 0) has no interval (issue 21)
    assert lo <= d <= hi or (math.isnan(lo) and math.isnan(hi))


def test_sweep_layers_and_noise_floor(real_page):
    from thinking_sparks.realmodel.sweep import layer_frame

    tr, table = real_page["tr"], real_page["table"]
    assert tr.steps == [1, 2] and len(tr.frequency) == tr.base.n_layers * tr.base.n_heads
    layers = layer_frame(tr)
    assert layers.equals(real_page["result"].layers)
    final = layers[layers.kind == "emergent at the final checkpoint"]
    assert len(final) == tr.base.n_layers and final.heads.sum() == len(tr.sets().emergent)
    ever = layers[layers.kind == "emergent at any checkpoint"]
    assert (ever.heads.to_numpy() >= final.heads.to_numpy()).all()
    row = table.set_index("method").loc[real_page["trained"].name]
    # the plan's rule on a paired bootstrap, beside its same-size null (halves until sample-1 circuits exist)
    assert row.null in ("sample 1", "halves of sample 0") and row.ci_low <= row.ci_high
    assert row.floor_mean <= row.floor_q95


def test_style_circuits_overlap_and_interventions(real_page):
    from thinking_sparks.realmodel.styles import style_heads

    sc, ov, ab, p = real_page["styles"], real_page["styles"].overlap, real_page["ablations"], real_page["p"]
    on, off = set(sc.on), set(sc.off)
    assert set(sc.off_only) <= off - on and len(sc.off_only) <= p.k
    assert set(sc.on_only_top) <= on - off
    assert ov["n_on"] == len(on) and ov["n_off"] == len(off)
    if on | off:
        assert ov["jaccard"] == pytest.approx(len(on & off) / len(on | off))
    assert sc.labels["think"].endswith("(step-by-step)") and sc.labels["direct"].endswith("(direct)")
    th = style_heads(p.model, real_page["style"], real_page["settings"], p.k)  # cached circuits: the same heads
    assert (th["on"], th["off"], th["off_only"], th["on_only_top"]) == (sc.on, sc.off, sc.off_only, sc.on_only_top)
    assert th["comparison"].base.clean == sc.labels["think"]
    direct = ab.direct.table
    assert set(direct.set) == {"easy-direct"} and set(ab.think.table.set) == {"easy"}
    assert ab.heads == {"think": sc.on_only_top, "direct": sc.off_only}
    if sc.off_only:
        assert {"no ablation", "ablate direct-only", "random #0", "x0.5 direct-only"} <= set(direct.condition)
        ablated = direct.set_index("condition").loc["ablate direct-only", "heads"]
        assert ablated.split(",") == sc.off_only
    curves = ab.curves.table
    assert sorted(curves.k.unique()) == [1, 2, 3] and set(curves.metric) == {"pass", "success"}


def test_verdict_table_is_computed(real_page):
    from thinking_sparks.verdicts import COLUMNS, VERDICTS

    v = real_page["verdicts"]
    assert list(v.columns) == [*COLUMNS, "n_to_decide"] and set(v.verdict) <= set(VERDICTS)
    # n_to_decide only on inconclusive rows with a sample size (problems or question pairs)
    assert v[v.verdict != "inconclusive"].n_to_decide.isna().all()
    claims = list(v.claim)
    assert claims[0] == "Post-training on worked solutions raises accuracy"
    assert "SFT's emergent heads sit in mid-late layers" in claims
    first = v.iloc[0]
    assert (first.value, first.ci_low, first.ci_high) == pytest.approx(tuple(round(x, 3) for x in real_page["acc"].diff),
                                                                       nan_ok=True)


def test_warm_rebuild_computes_nothing(real_page, monkeypatch):
    """Every expensive result is cached also below the page: with the page's own entries gone, a second
    pass builds no circuit and samples no answer."""
    import shutil

    from thinking_sparks.emergence import sweep as sweep_mod
    from thinking_sparks.evaluation import harness
    from thinking_sparks.pages.real_model import run

    cache = real_page["cache"]
    monkeypatch.setenv("SPARKS_CACHE", str(cache))
    for kind in ("page-real_model", "page-real_model-styles"):
        shutil.rmtree(cache / "results" / kind, ignore_errors=True)

    def boom(*a, **k):
        raise AssertionError("recomputed a cached result")

    monkeypatch.setattr(sweep_mod, "_compute", boom)
    monkeypatch.setattr(harness, "evaluate", boom)
    again = run(real_page["p"])
    assert again.trace.base.cached and all(r.cached for r in again.trace.results)
    assert again.styles == real_page["styles"] and again.trained.cached


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
    from pathlib import Path

    import numpy as np

    from thinking_sparks.realmodel.sweep import sweep

    (tmp_path / "real").symlink_to(Path(real_page["trained"].path).parent)  # the trained run, in a fresh cache
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    tr, p = real_page["tr"], real_page["p"]
    par = sweep(p.model, [r.model for r in tr.results], p.circuit_settings()[0], real_page["settings"], tr.run,
                     jobs=2)
    assert par.base.heads == tr.base.heads and [r.heads for r in par.results] == [r.heads for r in tr.results]
    assert all(np.array_equal(a.score, b.score) for a, b in zip(par.results, tr.results))
    assert all(r.cached for r in par.results)  # built by the two processes before the sweep read them
    assert (tmp_path / "logs" / f"trace-{tr.run}.log").exists()
