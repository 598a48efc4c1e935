"""Executing notebooks with papermill and building the book.

``python -m thinking_sparks.runs book`` executes every section into ``book/pages/``, writes the
environment page and the verdicts page (every page's verdict table, collected from the executed
notebooks), and builds the HTML with Jupyter Book 1.x (``execute_notebooks: off``: the book renders
papermill's outputs).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from thinking_sparks import atomic, doctor, plan, runtime
from thinking_sparks.emergence.modelruns import organism_names
from thinking_sparks.models import SMOLLM2_SPEC, smollm2_dir
from thinking_sparks.pages import PAGES, params_class, title
from thinking_sparks.pages.params import emergence_settings, params_from
from thinking_sparks.runs import papermap
from thinking_sparks.runs.stages import Stage, StageClock, install_stage, markdown
from thinking_sparks.verdicts import VERDICTS, collect, readable, summary

log = logging.getLogger(__name__)

KERNEL = "thinking-sparks"


def ensure_kernel() -> None:
    """Register this interpreter as the Jupyter kernel ``thinking-sparks`` (inside its prefix)."""
    # deferred: jupyter_client is heavy or optional, loaded only here
    # deferred: jupyter_client is heavy or optional, loaded only here
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL in KernelSpecManager().find_kernel_specs():
        return
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
                    "--display-name", "Python (thinking-sparks)"], check=True, capture_output=True)


def execute(notebook: Path, out: Path, parameters: dict[str, Any] | None = None,
            cwd: Path | None = None, failed: Path | None = None) -> Path:
    """Execute one notebook with papermill into ``out`` (written atomically: papermill writes a
    temporary name beside it, renamed once the last cell ran). On an error the partial notebook
    moves to ``failed`` when given (else it is removed) and the error propagates."""
    import papermill as pm  # deferred: papermill is heavy or optional, loaded only here

    ensure_kernel()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.ipynb")  # per process: no two writers share it
    t0 = time.time()
    try:
        pm.execute_notebook(str(notebook), str(tmp), parameters=parameters or {}, kernel_name=KERNEL,
                            cwd=str(cwd or notebook.parent), progress_bar=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no TCP-encryption notice
    except BaseException:
        if failed is not None and tmp.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(failed)
        tmp.unlink(missing_ok=True)
        raise
    _collapse_injected(tmp)
    tmp.replace(out)
    log.info("executed %s in %.1f s -> %s", notebook.name, time.time() - t0, out)
    return out


def _collapse_injected(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``hide-input`` (its code would show in the book)."""
    import nbformat  # deferred: nbformat is heavy or optional, loaded only here

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        cell.metadata["tags"] = [*cell.metadata["tags"], "hide-input"]
    if cells:
        nbformat.write(nb, str(path))


def build_zoos(stems: list[str], parameter_sets: list[dict[str, Any]], clock: StageClock | None = None) -> None:
    """Build, once, every organism profile that these sections would build with these parameters
    (each page calls ``zoo.build`` itself when ``build`` is on; parallel pages building the same
    missing runs would train them twice and delete each other's checkpoints). With a ``clock``, the
    build is one stage and each run it trained a row under it (wall and CPU seconds from its
    ``run.json``; runs trained side by side overlap in time)."""
    builds: dict[str, int] = {}
    for parameters in parameter_sets:
        if "02_organism" in stems:
            organism = params_from(params_class("02_organism"), parameters)
            if organism.build:
                builds[organism.profile] = max(builds.get(organism.profile, 1), organism.jobs)
        for stem in ("03_circuits", "04_emergence", "05_interventions", "06_thinking_modes", "08_generalisation",
                     "09_heads"):
            if stem in stems:
                p = params_from(params_class(stem), parameters)
                if p.build and organism_names(*p.run_values()):  # models of the user's own: nothing to build
                    builds[p.profile] = max(builds.get(p.profile, 1), 2)
    if builds:
        from thinking_sparks.organism import zoo

        for name, jobs in builds.items():
            todo = [r for r in zoo.profile(name) if not zoo.is_built(name, r)]
            with (clock or StageClock()).stage(f"organism zoo ({name}: {len(todo)} runs trained)"):
                zoo.build(name, jobs=jobs)
            if clock is not None:
                for run in todo:
                    meta = json.loads((zoo.run_dir(name, run) / "run.json").read_text())
                    clock.add(Stage(f"  └ {run}", meta["seconds"], meta.get("cpu_seconds")))


#: processes of the emergence sweep (:func:`~thinking_sparks.emergence.trace.warm_sweep`)
SWEEP_JOBS = 2


def prepare(stems: list[str], parameters: dict[str, Any], clock: StageClock | None = None) -> None:
    """Build, before any page runs, what the pages would otherwise build inside themselves: the
    organism zoo (``02_organism``), the emergence sweep (``04_emergence``) and SmolLM2's dequantized
    weights (``01_models``' and ``07_real_model``'s default), so that their progress shows in the
    terminal and not in the pages. ``07_real_model`` trains its SFT run itself, in a quiet worker
    process beside its own analysis."""
    if "01_models" in stems:
        if params_from(params_class("01_models"), parameters).model.strip().lower() == SMOLLM2_SPEC:
            smollm2_dir()
    clock = clock or StageClock()
    build_zoos(stems, [parameters], clock)
    if "04_emergence" in stems:  # every circuit of every checkpoint, with progress in the terminal
        p = params_from(params_class("04_emergence"), parameters)
        from thinking_sparks.emergence.trace import trace_runs  # torch loads only when the sweep runs

        t0 = time.time()
        from thinking_sparks.emergence.device import use_device

        use_device(p.device)
        # both cores: the circuits are built by two one-thread processes (the same cached circuits)
        with clock.stage(f"emergence sweep ({len(p.runs)} runs, {SWEEP_JOBS} processes)"):
            trace_runs(p.runs, p.profile, *emergence_settings(p), progress=True, jobs=SWEEP_JOBS)
        if p.second_set is not None:  # the confirmatory set's circuits (page 04's §4 claims are decided there)
            from thinking_sparks.emergence import secondset
            from thinking_sparks.emergence.modelruns import resolve_runs
            from thinking_sparks.emergence.trace import trace_models

            models = resolve_runs(p.runs, p.profile)
            chosen = {label: models[label] for label in secondset.chosen_runs(models)}
            pairs, config = emergence_settings(p)
            with clock.stage(f"emergence sweep, second set ({len(chosen)} runs, {SWEEP_JOBS} processes)"):
                trace_models(chosen, secondset.second_pairs(pairs, p.second_set), config, progress=True, jobs=SWEEP_JOBS)
        log.info("emergence sweep (%d runs) ready in %.1f s", len(p.runs), time.time() - t0)
    if "07_real_model" in stems:
        # only the start model's weights: the page trains its SFT run in a worker process on the
        # second core while it analyses the start model, which a training run here would serialise
        p = params_from(params_class("07_real_model"), parameters)
        if p.model.strip().lower() == SMOLLM2_SPEC:
            smollm2_dir()


ENVIRONMENT_PAGE = "book/pages/environment.md"


def _page_durations(root: Path) -> dict[str, float]:
    """``stem -> seconds`` that papermill recorded in each executed page under ``book/pages``."""
    out = {}
    for page in sorted((root / "book" / "pages").glob("[0-9]*.ipynb")):
        try:
            duration = json.loads(page.read_text())["metadata"]["papermill"]["duration"]
        except (KeyError, ValueError, OSError):
            continue
        if duration is not None:
            out[page.stem] = float(duration)
    return out


def write_environment_page(root: Path, parameters: dict[str, Any] | None = None,
                           seconds: dict[str, float] | None = None, stages: pd.DataFrame | None = None) -> Path:
    """``book/pages/environment.md``: the versions, machine and page times this book was built with."""
    lock = root / doctor.LOCK_FILE
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else "no lock file"
    lines = ["# Build environment", "",
             "The versions, machine and compute times this copy of the book was built with "
             f"({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC). "
             f"`requirements.lock` SHA-256 prefix: `{digest}`. Rebuild on the same versions with "
             "`make book`; check a machine with `.venv/bin/sparks doctor`.", "",
             "| package | installed | locked |", "|---|---|---|"]
    lines += [f"| {r['package']} | {r['installed']} | {r['locked'] or '-'} |" for r in doctor.versions()]
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in doctor.machine().items() if k != "cache"]
    if parameters:
        lines += ["", "Book parameters: " + ", ".join(f"`{k}={v!r}`" for k, v in sorted(parameters.items()))]
    seconds = {**_page_durations(root), **(seconds or {})}  # pages not rerun keep their own time
    if seconds:
        lines += ["", "| page | papermill wall time (s) |", "|---|---|"]
        lines += [f"| {stem} | {sec:.0f} |" for stem, sec in sorted(seconds.items())]
    if stages is not None and len(stages):
        lines += ["", "## Where the build's time went", "",
                  "The last `make book` on this machine, stage by stage: wall seconds, CPU seconds of "
                  "every process of the stage, and cores used (CPU / wall; the machine's cores are the "
                  "most a stage can use). Indented rows are parts of the stage above them.", ""]
        lines += markdown(stages)
    out = root / ENVIRONMENT_PAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, "\n".join(lines) + "\n")
    return out


VERDICTS_PAGE = "book/pages/verdicts.md"


def _cell(x: Any) -> str:
    """A verdict-table value as a Markdown table cell."""
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.3g}"
    return str(x).replace("|", "\\|").replace("\n", " ")


def write_verdicts_page(root: Path) -> Path:
    """``book/pages/verdicts.md``: every executed page's verdict table (as the page shows it with
    :func:`thinking_sparks.verdicts.show`), one section per page in book order, each row linked to
    the section that draws the figure or table it cites, and the count of verdicts by kind, per page
    and in all; and beside it the "Paper and book" page (:mod:`thinking_sparks.runs.papermap`).
    Written atomically."""
    pages = root / "book" / "pages"
    tables = {stem: collect(pages / f"{stem}.ipynb") for stem in PAGES if (pages / f"{stem}.ipynb").exists()}
    found = {stem: t for stem, t in tables.items() if t is not None}
    lines = ["# Verdicts", "",
             "Every claim of the paper that a page of this book tests, with the verdict computed on that page "
             "from its data: *reproduced* when the whole 95% interval meets the criterion, *not reproduced* "
             "when the whole interval lies beyond the criterion's bound, *inconclusive* when it straddles the "
             "bound or was not measured (no interval, no measured null), *partly* only for a claim checked in "
             "parts, some reproduced and the rest not. Every bound is the paper's number, the direction the "
             "paper states, or a quantile of a measured null at the comparison's own sample size. An "
             "*inconclusive* row says the data cannot tell, not that the claim fails; `n_to_decide` says how "
             "much more data would tell. Each section is the table at the end of its page.", ""]
    if found:
        counts = pd.DataFrame({stem: t["verdict"].value_counts() for stem, t in found.items()}).T
        counts = counts.reindex(columns=list(VERDICTS)).fillna(0).astype(int)
        lines += ["| page | " + " | ".join(VERDICTS) + " | checks |", "|---" * (len(VERDICTS) + 2) + "|"]
        lines += [f"| [{stem}]({stem}.ipynb) | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |"
                  for stem, row in zip(counts.index, counts.to_numpy().tolist())]
        total = counts.sum().tolist()
        lines += ["| **all pages** | " + " | ".join(f"**{n}**" for n in total) + f" | **{sum(total)}** |", ""]
    else:
        lines += ["No page of this build shows a verdict table.", ""]
    for stem, t in found.items():
        lines += [f"## {title(stem)}", "", f"From [{stem}]({stem}.ipynb). {summary(t)}", ""]
        if t.empty:
            continue
        shown = readable(t)
        shown["figure"] = [papermap.row_links(stem, str(p), pages / f"{stem}.ipynb") for p in t["paper"]]
        lines += ["| " + " | ".join(shown.columns) + " |", "|---" * len(shown.columns) + "|"]
        lines += ["| " + " | ".join(_cell(x) for x in row) + " |" for row in shown.itertuples(index=False)]
        lines += [""]
    none = [stem for stem in tables if stem not in found]
    if none:
        lines += ["Pages without a verdict table in this build (they set up the models and methods, or their "
                  "data failed a sanity check): "
                  + ", ".join(f"[{stem}]({stem}.ipynb)" for stem in none) + ".", ""]
    lines += plan_section()
    papermap.write_page(root, found)
    out = root / VERDICTS_PAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, "\n".join(lines))
    return out


def plan_section() -> list[str]:
    """The verdicts page's closing section: the analysis plan (``plan.table()``: every sample size,
    threshold and seed with its reason) and the commit that last changed it (``plan.last_change()``)."""
    changed = plan.last_change()
    lines = ["## Analysis plan", "",
             "Every size, threshold and seed the verdicts above use, fixed before the results with the argument "
             "beside it (`thinking_sparks.plan`). Where a row is *inconclusive*, `n_to_decide` is the sample "
             "size at which its interval would exclude the rule's bound if its estimate stayed put and its "
             "half-width shrank as 1/sqrt(n) (`thinking_sparks.power`), counted in what the row's interval "
             "resamples: problems for accuracies (pages 02, 05, 06's Fig 5), question pairs per circuit for "
             "head counts (pages 04, 06), heads or checkpoint changes for page 04's head-level rows "
             "(`thinking_sparks.emergence.decide`). It is a projection, not a promise: the estimate moves as "
             "data come in, and it may then decide the other way.", "",
             f"Plan last changed by commit {changed}." if changed else "Plan's last change: not under git.", "",
             "| entry | value | reason |", "|---|---|---|"]
    lines += [f"| {r['entry']} | {_cell(r['value'])} | {_cell(r['reason'])} |" for r in plan.table().to_dict("records")]
    return lines + [""]


def build_book(root: Path, parameters: dict[str, Any] | None = None,
               sections: list[str] | None = None) -> tuple[Path, pd.DataFrame]:
    """Execute the sections into ``book/pages`` and build ``book/_build/html``; returns the index
    and the build's stage table (:class:`~thinking_sparks.runs.stages.StageClock`)."""
    pages = root / "book" / "pages"
    stems = sections or list(PAGES)
    clock = StageClock()
    clock.add(install_stage(Path(sys.prefix)))
    prepare(stems, parameters or {}, clock)
    seconds = {}
    for stem in stems:
        t0 = time.time()
        with clock.stage(f"page {stem}"):
            execute(root / "notebooks" / f"{stem}.ipynb", pages / f"{stem}.ipynb", parameters)
        seconds[stem] = time.time() - t0
    jb = shutil.which("jupyter-book", path=os.path.dirname(sys.executable)) or "jupyter-book"
    with clock.stage("HTML (jupyter-book)"):
        write_environment_page(root, parameters, seconds, clock.table())  # before the HTML: it is a page
        write_verdicts_page(root)
        subprocess.run([jb, "build", str(root), "--path-output", str(root / "book"), "--quiet"], check=True)
    index = root / "book" / "_build" / "html" / "index.html"
    table = clock.table()
    log.info("built the book in %.1f s: %s", clock.stages[-1].wall, index)
    return index, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m thinking_sparks.runs")
    sub = parser.add_subparsers(dest="cmd", required=True)
    book = sub.add_parser("book", help="execute every section and build the HTML book")
    book.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                      help="a parameter for every section (YAML literal), e.g. -p model organism/sft@final")
    book.add_argument("--section", action="append", help="only these sections (default: all)")
    sub.add_parser("cells", help="rewrite every notebook's parameters cell from its page's Params")
    args = parser.parse_args(argv)
    runtime.setup()
    if args.cmd == "cells":
        from thinking_sparks.runs.cells import sync_parameters_cells

        root = runtime.project_root() or Path.cwd()
        print("rewritten:", ", ".join(sync_parameters_cells(root / "notebooks")) or "none")
        return
    import yaml  # deferred: yaml is heavy or optional, loaded only here

    params = {name: yaml.safe_load(value) for name, value in args.p}
    root = runtime.project_root() or Path.cwd()
    index, stages = build_book(root, params, args.section)
    print("\n".join(markdown(stages)))
    print(index)

