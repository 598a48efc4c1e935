"""The whole path: library -> parameterized notebook -> papermill -> Jupyter Book -> a browser.

The book is built in a scratch copy of the repo's book sources with a tiny local model, then opened
in Debian's headless Chromium (driven by playwright, no browser download) with the network cut.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


#: book parameters for a test build: a tiny local model and the organism's tiny profile
TEST_PARAMS = {"prompts": ["what is 3 + 4 ?"], "profile": "tiny", "n": 2, "limit": 3,
               # organism (02): tiny sizes, not the plan's (the stored tiny results were computed with them)
               "hard_n": 32, "curve_n": 2, "curve_limit": 3,
               "curve_runs": ["sft", "grpo-hard"],
               # circuits (03, 04): few questions, small IG step counts, enough edges for a 2 x 4 model
               "n_questions": 8, "steps": 2, "ig_steps": [2, 5, 10], "top_n": 20, "n_boot": 20,
               # thinking modes (06): a few samples for the k curves
               "n_k": 8, "k_limit": 3,
               # real model (07): the tiny model post-trained for two steps, both checkpoints traced
               "max_steps": 2, "trace_checkpoints": 2}


@pytest.fixture(scope="module")
def built_book(tmp_path_factory, tiny_model_dir, tiny_zoo_cache):
    from thinking_sparks.runs import build_book

    root = tmp_path_factory.mktemp("book-src")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    (root / "book").mkdir()
    shutil.copy(REPO / "book" / "intro.md", root / "book" / "intro.md")
    for sub in ("_static", "_ext"):
        shutil.copytree(REPO / "book" / sub, root / "book" / sub)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(tiny_zoo_cache[0]))
        index, stages = build_book(root, {"model": str(tiny_model_dir), **TEST_PARAMS})
    return root, index, stages


def test_source_notebooks_are_clean():
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one parameters cell"
        shown = [c.source[:60] for c in nb.cells if c.cell_type == "code"
                 and not {"hide-input", "remove-input", "remove-cell"} & set(c.get("metadata", {}).get("tags", []))]
        assert not shown, f"{path.name}: code cells not collapsed (tag them hide-input): {shown}"


def test_papermill_page_has_outputs(built_book):
    import nbformat

    root, index, _ = built_book
    assert index.exists()
    nb = nbformat.read(root / "book" / "pages" / "01_models.ipynb", as_version=4)
    bundles = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    charts = [b for b in bundles if "sparks-chart" in b.get("text/html", "")]
    assert len(charts) == 1 and "image/png" in charts[0]  # interactive chart + static fallback
    code = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", charts[0]["text/html"])  # base64 may spell "cdn"
    assert "vega@" not in code and "cdn" not in code.lower() and "https://cdn" not in code


def test_organism_page_measures_the_zoo(built_book):
    import nbformat

    root, _, _ = built_book
    nb = nbformat.read(root / "book" / "pages" / "02_organism.ipynb", as_version=4)
    bundles = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    charts = [b for b in bundles if "sparks-chart" in b.get("text/html", "")]
    assert len(charts) == 5  # loss, GRPO reward, pass@1 bars, pass@1 along checkpoints, pass@1 per level (band)
    html = "\n".join(b.get("text/html", "") for b in bundles)
    for run in ("base", "sft", "grpo-hard", "distill", "hybrid"):
        assert run in html
    assert "thinking on beats thinking off" in html and "GRPO accuracy reward rises" in html
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "02_organism.html").exists()


def test_book_records_its_environment(built_book):
    from importlib import metadata

    root, index, _ = built_book
    page = (index.parent / "book" / "pages" / "environment.html").read_text()
    cells = re.findall(r"<td[^>]*>(?:<p>)?([^<]*)", page)
    row = cells.index("transformers")
    assert cells[row + 1] == metadata.version("transformers")  # the installed version, as built
    assert "01_models" in page and "papermill wall time" in page
    assert "Where the build" in page and "page 01_models" in page  # the stage table
    import nbformat

    for executed in sorted((root / "book" / "pages").glob("0*.ipynb")):  # papermill's cell is collapsed too
        nb = nbformat.read(executed, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and all("hide-input" in c.metadata.tags for c in injected), executed.name
        boxes = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "sparks-summary" in o.get("data", {}).get("text/html", "")]
        assert len(boxes) == 1 and "Verdicts:" in boxes[0]["data"]["text/html"], executed.name  # the summary box
    _, _, stages = built_book
    pages = stages[stages.stage.str.startswith("page ")]
    assert len(pages) == len(list((REPO / "notebooks").glob("*.ipynb")))
    assert (pages.cpu_s > 0).all() and (pages.wall_s > 0).all()  # the kernels' CPU is counted
    assert stages.stage.iloc[-1] == "total" and stages.stage.iloc[-2] == "HTML (jupyter-book)"


def test_book_collects_every_pages_verdicts(built_book):
    from thinking_sparks.pages import title

    root, index, _ = built_book
    text = (root / "book" / "pages" / "verdicts.md").read_text()
    for stem in ("02_organism", "04_emergence", "05_interventions", "06_thinking_modes", "07_real_model",
                 "08_generalisation", "09_heads"):
        assert f"## {title(stem)}" in text, stem
    assert "GRPO adds fewer emergent heads than SFT" in text and "thinking on beats thinking off" in text
    assert "Qwen and Llama organisms agree on which training adds more emergent heads" in text
    assert "| **all pages** |" in text and "[03_circuits](03_circuits.ipynb)" in text
    assert (index.parent / "book" / "pages" / "verdicts.html").exists()
    assert "](04_emergence.ipynb#emergent-heads-per-method-table-3" in text  # rows link to their figure
    paper = (root / "book" / "pages" / "paper.md").read_text()
    from thinking_sparks.runs.papermap import ITEMS

    assert sum(line.startswith("| Fig ") or line.startswith("| Table ") for line in paper.splitlines()) == len(ITEMS)
    html = (index.parent / "book" / "pages" / "04_emergence.html").read_text()
    assert 'id="emergent-heads-per-method-table-3' in html  # the anchors the links use exist
    assert (index.parent / "book" / "pages" / "paper.html").exists()


def _verdicts(root, stem, text):
    """The page's verdict table, shown (as HTML) and marked for the book's verdicts page."""
    from thinking_sparks.verdicts import SHOWN, VERDICTS, collect

    for column in SHOWN:
        assert f"<th>{column}</th>" in text
    table = collect(root / "book" / "pages" / f"{stem}.ipynb")
    assert table is not None, f"{stem} shows no verdict table"
    assert set(table.verdict) <= set(VERDICTS)
    return table


def _outputs(root, stem):
    import nbformat

    nb = nbformat.read(root / "book" / "pages" / f"{stem}.ipynb", as_version=4)
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    bundles = [o.get("data", {}) for o in outs]
    charts = [b for b in bundles if "sparks-chart" in b.get("text/html", "")]
    text = "\n".join(b.get("text/html", "") + b.get("text/markdown", "") + b.get("text/plain", "") for b in bundles)
    noise = [o for o in outs if o.output_type in ("error", "stream")]  # no tracebacks, warnings or bars
    return charts, text, noise


def test_circuits_page_measures_its_choices(built_book):
    root, _, _ = built_book
    charts, text, noise = _outputs(root, "03_circuits")
    assert noise == []
    assert len(charts) == 3  # faithfulness/heads vs top-n, the circuit, attribution vs exact (denoising) patching
    assert "The smallest step count whose head ranking agrees with m = 10" in text
    assert "Spearman between attribution and exact patching over 8 heads" in text
    assert "against denoising patches (the ground truth here)" in text and "single-head noising effects sum to" in text
    assert "Over 110 of the graph's 110 edges" in text and "edge Spearman" in text  # exact edge patching
    _verdicts(root, "03_circuits", text)  # the method's premise (§3)
    assert "clean prefix" in text and "&lt;think&gt;" in text  # the pairs, as text
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "03_circuits.html").exists()


def test_emergence_page_ends_with_computed_verdicts(built_book):
    root, _, _ = built_book
    charts, text, noise = _outputs(root, "04_emergence")
    assert noise == []
    # a cohort/heatmap row per run (7), Fig 8's reward and new heads beside grpo-hard's, Figs 6 and 9, the GRPO pool and
    # distillation's second-set sweeps beside their first-set versions (5), effect maps, method map, SFT vs GRPO
    # circuits ... attribution vs exact patching along training, the counts against their same-size floors, Fig 14
    assert len(charts) == 7 + 1 + 5 + 3 + 1 + 1 + 1
    assert "within_first" in text and "organism/circuit2" in text and ", second set" in text  # the second circuit set (issue 24)
    # the §4 claims are decided on the second set; the first set's rows follow as the pilot (issue 21)
    assert "questions per circuit: emergent heads" in text and text.count("GRPO switches emergent heads on and off") >= 2
    _verdicts(root, "04_emergence", text)
    assert "GRPO adds fewer emergent heads than SFT" in text and "floor_q95" in text
    assert "GRPO at 20x the learning rate still switches" in text and "Mean accuracy reward over the first and the last" in text
    assert "building them took" in text
    assert "the exact effects with Spearman" in text and "exact_emergent" in text
    assert "edge_spearman_circuit" in text and "all_edges_s" in text  # each run's final circuit, exact edges
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "04_emergence.html").exists()


def test_interventions_page_tables_taxonomy_and_verdicts(built_book):
    root, _, _ = built_book
    charts, text, noise = _outputs(root, "05_interventions")
    assert noise == []
    assert len(charts) == 3  # Table 1 bars, Table 5 bars, Fig 4 (pass@1 | failures)
    for row in ("no ablation", "ablate emergent", "ablate base", "ablate control", "no intervention"):
        assert row in text
    assert "arithmetic_slip" in text and "cutoff_or_loop" in text  # the taxonomy, counted
    _verdicts(root, "05_interventions", text)
    assert "evaluations: **" in text
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "05_interventions.html").exists()


def test_thinking_page_circuits_curves_and_verdicts(built_book):
    root, _, _ = built_book
    charts, text, noise = _outputs(root, "06_thinking_modes")
    assert noise == []
    assert len(charts) in (3, 4)  # [the two circuits,] Table 2 bars, pass@k / success@k curves, Fig 15
    assert "Think-on circuit: **" in text and "think off" in text and "success" in text
    _verdicts(root, "06_thinking_modes", text)
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "06_thinking_modes.html").exists()


def test_real_model_page_trains_traces_and_decides(built_book):
    root, _, _ = built_book
    charts, text, noise = _outputs(root, "07_real_model")
    assert noise == []
    # cohorts + heatmap, layers, the two style circuits, pass@1 bars, pass@k curves, attribution vs patching
    assert len(charts) == 6
    assert "Paired difference after − before" in text and "floor_q95" in text and "**This page** took" in text
    table = _verdicts(root, "07_real_model", text)
    assert "Post-training on worked solutions raises accuracy" in set(table.claim)
    assert (root / "book" / "_build" / "html" / "book" / "pages" / "07_real_model.html").exists()


def test_bad_interventions_parameter_is_one_message(tmp_path):
    import papermill as pm

    from thinking_sparks.runs import execute

    with pytest.raises(pm.PapermillExecutionError, match="model_run \\['base'\\] are not post-trained"):
        execute(REPO / "notebooks" / "05_interventions.ipynb", tmp_path / "out.ipynb",
                {"profile": "tiny", "model_run": "base", "build": False})


def test_bad_emergence_parameter_names_the_runs(tmp_path):
    import papermill as pm

    from thinking_sparks.runs import execute

    with pytest.raises(pm.PapermillExecutionError, match="runs \\['teacher'\\] are not post-trained from a base"):
        execute(REPO / "notebooks" / "04_emergence.ipynb", tmp_path / "out.ipynb",
                {"profile": "tiny", "runs": ["teacher"], "build": False})
    assert not (tmp_path / "out.ipynb").exists()


def test_bad_parameter_fails_the_run(tmp_path, tiny_model_dir):
    import papermill as pm

    from thinking_sparks.runs import execute

    with pytest.raises(pm.PapermillExecutionError, match="prompts must be a non-empty list"):
        execute(REPO / "notebooks" / "01_models.ipynb", tmp_path / "out.ipynb",
                {"model": str(tiny_model_dir), "prompts": []})
    assert not (tmp_path / "out.ipynb").exists()


def test_bad_organism_parameter_names_the_runs(tmp_path):
    import papermill as pm

    from thinking_sparks.runs import execute

    with pytest.raises(pm.PapermillExecutionError, match="curve_runs \\['grpo'\\] are not runs of profile 'tiny'"):
        execute(REPO / "notebooks" / "02_organism.ipynb", tmp_path / "out.ipynb",
                {"profile": "tiny", "curve_runs": ["grpo"], "build": False})
    assert not (tmp_path / "out.ipynb").exists()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it)")
def test_chart_is_interactive_offline_in_chromium(built_book):
    from playwright.sync_api import sync_playwright

    _, index, _ = built_book
    page_path = index.parent / "book" / "pages" / "01_models.html"
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_selector(".sparks-chart svg.marks", timeout=20_000)
        assert page.locator(".sparks-chart img").count() == 0  # vegaEmbed replaced the PNG fallback
        cell = page.locator('.sparks-chart svg.marks path[aria-roledescription="rect mark"]').nth(2)
        cell.hover(force=True)
        page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
        tooltip = page.locator("#vg-tooltip-element").inner_text()
        page.goto((index.parent / "book" / "pages" / "02_organism.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.sparks-chart svg.marks').length == 5", timeout=30_000)
        fallbacks = page.locator(".sparks-chart img").count()
        browser.close()
    assert "write_norm" in tooltip and "head" in tooltip
    assert fallbacks == 0  # all five organism charts drawn by vega, offline
    assert errors == []
    assert outside == []


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it)")
def test_head_explorer_click_changes_the_detail_views_in_the_book(built_book):
    """Page 09 in the built book: the explorer is drawn by vega offline, fits the content column, and a
    click on head L1H0's cell replaces the first head's edges by L1H0's (tests/test_page_heads.py does
    the same on the chart alone)."""
    from playwright.sync_api import sync_playwright

    _, index, _ = built_book
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_context(offline=True).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url))
        page.goto((index.parent / "book" / "pages" / "09_heads.html").as_uri())
        page.wait_for_selector(".sparks-chart svg.marks", timeout=30_000)
        fits = page.evaluate("(() => { const c = document.querySelector('.sparks-chart');"
                             " return c.querySelector('svg.marks').getBoundingClientRect().width"
                             " <= c.parentElement.getBoundingClientRect().width + 1; })()")
        before = page.locator(".sparks-chart svg.marks").text_content()
        page.locator('.sparks-chart svg.marks path[aria-roledescription="rect mark"]').nth(4).click(force=True)
        page.wait_for_function("document.querySelector('.sparks-chart svg.marks').textContent.includes('input → L1H0')",
                               timeout=10_000)
        browser.close()
    assert "input → L1H0" not in before and fits
    assert errors == [] and outside == []


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it)")
def test_every_page_fits_the_column_at_two_widths(built_book, tmp_path):
    """Every page of the built book, in windows 1280 and 1920 pixels wide: no horizontal scrolling of
    the page, and every chart (drawn by vega, offline) inside the content column. Screenshots of each
    page at both widths are written (full page) so that a failure can be looked at."""
    from playwright.sync_api import sync_playwright

    _, index, _ = built_book
    pages = sorted((index.parent / "book" / "pages").glob("*.html"))
    assert len(pages) >= 10
    measure = """() => {
        const col = document.querySelector('article.bd-article') || document.querySelector('main');
        const right = col.getBoundingClientRect().right + 1;
        const wide = [...document.querySelectorAll('.sparks-chart svg.marks')]
            .filter(svg => svg.getBoundingClientRect().right > right).length;
        return {page: document.documentElement.scrollWidth - window.innerWidth, wide: wide,
                charts: document.querySelectorAll('.sparks-chart').length,
                drawn: document.querySelectorAll('.sparks-chart svg.marks').length};
    }"""
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for width in (1280, 1920):
            page = browser.new_context(offline=True, viewport={"width": width, "height": 900}).new_page()
            for html in pages:
                page.goto(html.as_uri())
                charts = page.locator(".sparks-chart").count()
                if charts:
                    page.wait_for_function(f"document.querySelectorAll('.sparks-chart svg.marks').length >= {charts}",
                                           timeout=60_000)
                m = page.evaluate(measure)
                page.screenshot(path=str(tmp_path / f"{html.stem}-{width}.png"), full_page=True)
                if m["page"] > 0 or m["wide"]:
                    problems.append((html.stem, width, m))
        browser.close()
    assert problems == [], problems
    assert len(list(tmp_path.glob("*.png"))) == 2 * len(pages)


def test_prepare_checks_parameters_before_any_page_runs(tmp_path, monkeypatch):
    from thinking_sparks.runs import prepare

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="profile must be one of full, tiny"):
        prepare(["02_organism"], {"profile": "huge"})
    prepare(["01_models", "02_organism"], {"model": "/no/such/model", "profile": "tiny", "build": False})
    assert not any(tmp_path.iterdir())  # nothing to build: a local model, the zoo left alone


def test_environment_page_keeps_the_times_of_pages_not_rerun(tmp_path):
    """A partial rebuild (``--section``) still lists every page's own papermill duration."""
    import json

    from thinking_sparks.runs.book import write_environment_page

    pages = tmp_path / "book" / "pages"
    pages.mkdir(parents=True)
    for stem, sec in (("01_models", 9.2), ("04_emergence", 318.7)):
        (pages / f"{stem}.ipynb").write_text(json.dumps({"metadata": {"papermill": {"duration": sec}}, "cells": []}))
    text = write_environment_page(tmp_path, None, {"04_emergence": 20.4}).read_text()
    assert "| 01_models | 9 |" in text and "| 04_emergence | 20 |" in text  # the rerun's own time wins
