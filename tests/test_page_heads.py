"""Page ``09_heads`` on the tiny profile: the result's shapes and values, ``sparks head``, the explorer's
vega-lite spec (one click selection driving the detail views) and, in Chromium, a click on the grid."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.page_expect import tiny_page_params

#: sft's final tiny circuit against its base (page 04's set membership), grid order L0H0 .. L1H3
SFT_CLASSES = ["inactive", "emergent", "retained", "retained", "retained", "base-only", "emergent", "retained"]
RUNS = ["sft", "grpo-easy", "grpo-hard", "grpo-hard-lr", "grpo-hard-lr20", "distill", "hybrid"]
#: the tiny profile's circuit and sampling settings (``test_book.TEST_PARAMS``), as ``sparks head`` options
TINY = ["-p", "n_questions=8", "-p", "steps=2", "-p", "top_n=20", "-p", "n_boot=20", "-p", "n=2", "-p", "limit=3"]


@pytest.fixture(scope="module")
def page(tiny_zoo):
    from thinking_sparks.pages import heads

    params = tiny_page_params(heads)
    return heads, params, heads.run(params)


def test_run_gives_every_head_every_view(page):
    _, params, r = page
    assert (r.run, r.step, r.checkpoint, r.final) == ("sft", 3, "organism/tiny/sft@3", "organism/tiny/sft@final")
    assert (r.n_layers, r.n_heads) == (2, 4)
    assert list(r.grid["head"]) == ["L0H0", "L0H1", "L0H2", "L0H3", "L1H0", "L1H1", "L1H2", "L1H3"]
    assert list(r.grid["class"]) == SFT_CLASSES
    # every head ablated alone on the easy set's first 3 problems, 2 samples each, plus the unmodified model
    assert list(r.effects["head"]) == list(r.grid["head"]) and set(r.effects["n_problems"]) == {3}
    assert r.samples.groupby("condition").size().to_dict() == {c: 6 for c in ["no ablation", *r.grid["head"]]}
    # lines: 7 runs x 3 checkpoints x 8 heads x (importance, inclusion) x (checkpoint, base)
    assert len(r.lines) == 7 * 3 * 8 * 4 and list(r.lines["run"].unique()) == RUNS
    assert set(r.lines["measure"]) == {"importance", "inclusion"} and set(r.lines["circuit"]) == {"checkpoint", "base"}
    assert len(r.classes) == 7 * 8
    assert set(r.attention["model"]) == {"base", "post-trained"} and len(r.questions) == params.attention_questions
    assert set(r.attention["sequence"]) == {0, 1, 2} and (r.attention["weight"] >= params.min_weight).all()
    assert (r.attention["query"] >= r.attention["key"]).all()  # causal
    assert set(r.edges["direction"]) == {"in", "out"}
    assert r.first_head == "L0H1"  # effects all 0 on tiny: the first emergent head


def test_head_facts_is_one_row_per_run(page):
    heads, _, r = page
    facts = heads.head_facts(r, "L1H2")
    assert list(facts["run"]) == RUNS
    assert facts.set_index("run").loc["sft", "class"] == "emergent"
    assert facts.set_index("run").loc["sft", "importance"] == pytest.approx(0.088552, abs=1e-5)
    assert facts.set_index("run").loc["grpo-hard", "inclusion (base)"] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="no head L99H0 in a model of 2 layers x 4 heads"):
        heads.head_facts(r, "L99H0")


def test_verdicts_compare_emergent_with_retained_heads(page):
    heads, _, r = page
    table = heads.verdicts(r)
    assert list(table["claim"]) == ["Emergent heads matter more one by one than retained heads",
                                    "Emergent heads matter more one by one than base-only heads"]
    assert "emergent (2) minus retained (4)" in table["statistic"].iloc[0]
    assert list(table["value"]) == [0.0, 0.0] and list(table["verdict"]) == ["inconclusive"] * 2  # tiny: no solve


def _sparks(cache, *args):
    env = {"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "PATH": "/usr/bin:/bin", "SPARKS_CACHE": str(cache),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", "head", *args],
                          capture_output=True, text=True, env=env)


def test_sparks_head_prints_the_head_and_one_line_for_a_bad_one(page, tiny_zoo):
    cache = tiny_zoo[0]
    ok = _sparks(cache, "L1H2", "--model", "tiny", *TINY)
    assert ok.returncode == 0, ok.stderr
    rows = [line.split() for line in ok.stdout.splitlines()]
    assert rows[0][0] == "L1H2" and rows[1][:2] == ["run", "class"]
    assert rows[2][:2] == ["sft", "emergent"] and [r[0] for r in rows[2:]] == RUNS
    for bad, message in (("L99H0", "error: no head L99H0 in a model of 2 layers x 4 heads (L0H0 .. L1H3)"),
                         ("head5", "error: not a head name: 'head5' (expected L<layer>H<head>, e.g. L5H1)")):
        res = _sparks(cache, bad, "--model", "tiny", *TINY)
        assert res.returncode == 2 and res.stderr.strip() == message and res.stdout == ""


def _spec(r):
    from thinking_sparks import headview

    return headview.head_explorer(r.grid, r.lines, r.classes, r.effects, r.attention, r.questions, r.edges,
                                  r.first_head, "test").to_dict()


def _views(spec):
    """Every unit view of a compound spec (facet inner specs included)."""
    for key in ("vconcat", "hconcat", "layer"):
        for sub in spec.get(key, []):
            yield from _views(sub)
    if "spec" in spec:
        yield from _views(spec["spec"])
    if "mark" in spec:
        yield spec


def test_explorer_spec_links_every_view_to_the_click(page):
    from thinking_sparks import headview

    spec = _spec(page[2])
    params = {p["name"]: p for p in spec["params"]}
    pick = params[headview.SELECTION]
    assert pick["select"] == {"type": "point", "fields": ["head"], "on": "click", "clear": False}
    assert pick["value"] == [{"head": "L0H1"}]
    question = params[headview.QUESTION]
    assert question["bind"]["input"] == "select" and question["bind"]["options"] == [0, 1, 2]
    views = list(_views(spec))
    filtered = [v for v in views if {"filter": {"param": headview.SELECTION, "empty": False}} in v.get("transform", [])]
    titles = sorted(str(v.get("title", v.get("name", ""))) for v in filtered)
    # importance and inclusion lines, the class table, the attention panel (faceted), the edges
    assert len(filtered) == 5 and any("inclusion" in t for t in titles) and any("edges" in t for t in titles)
    grid = next(v for v in views if v.get("title") == "click a head")
    assert grid["encoding"]["strokeWidth"]["condition"]["param"] == headview.SELECTION
    bars = next(v for v in views if v["mark"] == "bar" or v["mark"].get("type") == "bar")
    assert bars["encoding"]["color"]["condition"]["param"] == headview.SELECTION  # the ablation bar highlighted


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it)")
def test_click_on_the_grid_changes_the_detail_views(page, tmp_path):
    """The explorer drawn offline by the book's vendored vega scripts: a click on head L1H0's cell
    replaces L0H1's edges by L1H0's, with no console error."""
    from playwright.sync_api import sync_playwright

    from tests.test_book import BROWSER_ARGS
    from thinking_sparks import plots

    vendor = REPO / "book" / "_static" / "vendor"
    scripts = "".join(f'<script src="{(vendor / n).as_uri()}"></script>'
                      for n in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"))
    html = plots.offline_bundle(_spec(page[2]))["text/html"]
    (tmp_path / "page.html").write_text(f"<html><head>{scripts}</head><body>{html}</body></html>")
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        tab = browser.new_context(offline=True).new_page()
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto((tmp_path / "page.html").as_uri())
        tab.wait_for_selector(".sparks-chart svg.marks", timeout=20_000)
        before = tab.locator(".sparks-chart svg.marks").text_content()
        tab.locator('.sparks-chart svg.marks path[aria-roledescription="rect mark"]').nth(4).click(force=True)
        tab.wait_for_function("document.querySelector('.sparks-chart svg.marks').textContent.includes('input → L1H0')",
                              timeout=10_000)
        after = tab.locator(".sparks-chart svg.marks").text_content()
        width = tab.evaluate("document.querySelector('.sparks-chart svg.marks').getBoundingClientRect().width")
        browser.close()
    assert width <= 700  # fits the book's content column
    assert "L0H1 → logits" in before and "L0H1 → logits" not in after
    assert errors == []


def test_bad_head_run_is_one_line():
    from thinking_sparks.pages.params import make_params

    with pytest.raises(ValueError, match="^head_run 'teacher' is not one of the page's runs: sft, grpo-easy"):
        make_params("09_heads", {"profile": "tiny", "head_run": "teacher", "build": False})
    with pytest.raises(ValueError, match="not a head name: 'L1'"):
        make_params("09_heads", {"profile": "tiny", "head": "L1", "build": False})


def test_attention_rows_sum_to_one_and_sdpa_comes_back(tiny_model_dir):
    from thinking_sparks.heads.attention import attention_table
    from thinking_sparks.models import load_model

    lm = load_model(str(tiny_model_dir))
    before = lm.hf_model.config._attn_implementation
    ids = lm.encode(lm.chat("what is 3 + 4 ?"))[0].tolist()
    table = attention_table(lm, [ids], [len(ids) - 2], min_weight=0.0)
    assert lm.hf_model.config._attn_implementation == before
    n = len(ids)
    assert len(table) == lm.n_layers * lm.n_heads * n * (n + 1) // 2  # every causal cell
    sums = table.groupby(["head", "query"])["weight"].sum()
    assert sums.min() == pytest.approx(1.0, abs=2e-3) and sums.max() == pytest.approx(1.0, abs=2e-3)
    assert table[table["query"] >= n - 2]["query_answer"].all() and not table[table["query"] < n - 2]["query_answer"].any()


def test_single_head_effects_and_class_difference_on_known_samples():
    import pandas as pd

    from thinking_sparks.interventions.single import class_difference, drops_by_problem, head_effects

    # 4 problems, 1 sample each: unmodified solves all; L0H0 zeroed loses p0, p1; L0H1 loses p0; L1H0 loses none
    lost = {"no ablation": [], "L0H0": ["p0", "p1"], "L0H1": ["p0"], "L1H0": []}
    samples = pd.DataFrame([{"condition": c, "problem_id": p, "difficulty": "easy", "sample_index": 0,
                             "correct": p not in gone} for c, gone in lost.items() for p in ("p0", "p1", "p2", "p3")])
    eff = head_effects(samples, n_resamples=200, seed=0)
    assert list(eff["head"]) == ["L0H0", "L0H1", "L1H0"]
    assert list(eff["effect"]) == [0.5, 0.25, 0.0] and list(eff["pass@1"]) == [0.5, 0.75, 1.0]
    assert drops_by_problem(samples).loc["p0"].to_dict() == {"L0H0": 1.0, "L0H1": 1.0, "L1H0": 0.0}
    value, lo, hi = class_difference(samples, ["L0H0"], ["L0H1", "L1H0"], n_resamples=200, seed=0)
    assert value == pytest.approx(0.5 - 0.125) and lo <= value <= hi
    assert all(map(math.isnan, class_difference(samples, ["L0H0"], [], n_resamples=200, seed=0)))
