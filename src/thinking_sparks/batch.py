"""Batch runs: one notebook over a grid of parameters, executed by papermill on Dask.

``sparks batch GRID.yaml --out DIR`` runs every job of a grid on a ``distributed.LocalCluster``
sized to this machine, or on a running cluster with ``--scheduler tcp://...``. A grid file::

    notebook: notebooks/01_models.ipynb
    parameters:              # name -> list of values; the grid is their cartesian product
      model: [organism/tiny/sft@1, organism/tiny/sft@2]
    fixed: {device: cpu}     # the same for every job (optional)
    resources: {GPU: 1}      # Dask worker resources each job holds (optional)

or ``jobs:``, a list of parameter mappings, in place of ``parameters:``. Every job is checked
against the notebook's params class (:func:`thinking_sparks.runs.make_params`) before any runs.

Under DIR: ``<job>.ipynb`` per finished job (the name derived from its parameters, written
atomically), ``failed/<job>.ipynb`` (a failed job's partial notebook, traceback included) and
``status.csv`` (one row per job, rewritten atomically as jobs finish). A rerun skips every job
whose notebook exists and keeps failed jobs failed unless ``retry_failed``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from thinking_sparks import runs, runtime

log = logging.getLogger(__name__)

STATUS_FILE = "status.csv"
COLUMNS = ["job", "notebook", "parameters", "status", "seconds", "error", "output"]
GRID_KEYS = ("notebook", "parameters", "fixed", "jobs", "resources")
GIB_PER_JOB = 4  # memory allowed per local job slot when sizing the LocalCluster


@dataclass
class Job:
    """One notebook execution: a stable ``name`` derived from its papermill ``parameters``."""

    name: str
    parameters: dict[str, Any]


@dataclass
class Grid:
    """A parsed grid file whose every job passed the notebook's params class.

    Attributes:
        notebook: the notebook file; ``section`` its stem (a key of ``runs.SECTIONS``).
        label: the notebook as the grid file names it (written to ``status.csv``).
        jobs: in grid order (the cartesian product varies the last parameter fastest).
        resources: Dask worker resources each job holds, e.g. ``{"GPU": 1}``.
    """

    notebook: Path
    section: str
    label: str
    jobs: list[Job]
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    """One line of ``status.csv``; ``status`` is pending, done, failed or skipped."""

    job: str
    notebook: str
    parameters: str  # JSON, keys sorted
    status: str
    seconds: float = 0.0
    error: str = ""
    output: str = ""


# ---- the grid file ------------------------------------------------------------------------

def load_grid(path: str | Path) -> Grid:
    """Parse and check a grid file; any problem is one ``ValueError`` line naming the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no grid file {path}")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a grid file is a mapping with keys {', '.join(GRID_KEYS)}")
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a grid file has {', '.join(GRID_KEYS)}")
    label = spec.get("notebook")
    notebook = _find_notebook(label, path)
    fixed = _mapping(spec.get("fixed") or {}, "fixed", path)
    if ("parameters" in spec) == ("jobs" in spec):
        raise ValueError(f"{path}: give parameters: (a grid) or jobs: (a list), not "
                         f"{'both' if 'jobs' in spec else 'neither'}")
    if "parameters" in spec:
        axes = _mapping(spec["parameters"], "parameters", path)
        for name, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{path}: parameters.{name} must be a non-empty list of values "
                                 "(a single value goes under fixed:)")
        both = sorted(set(axes) & set(fixed))
        if both:
            raise ValueError(f"{path}: {both} given under both parameters: and fixed:")
        combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    else:
        combos = spec["jobs"]
        if not isinstance(combos, list) or not combos or not all(isinstance(c, dict) for c in combos):
            raise ValueError(f"{path}: jobs must be a non-empty list of parameter mappings")
    parameters = [{**fixed, **c} for c in combos]
    for i, values in enumerate(parameters, 1):
        try:
            runs.make_params(notebook.stem, values)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: job {i} {json.dumps(combos[i - 1], default=str)}: {err}") from None
    varying = _varying(parameters)
    jobs = [Job(job_name(notebook.stem, p, varying), p) for p in parameters]
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs, 1):
        if job.name in seen:
            raise ValueError(f"{path}: jobs {seen[job.name]} and {i} have the same parameters")
        seen[job.name] = i
    return Grid(notebook, notebook.stem, str(label), jobs, _resources(spec.get("resources"), path))


def job_name(section: str, parameters: dict[str, Any], varying: list[str]) -> str:
    """``<section>__<name>=<value>..__<hash8>``: readable from the parameters that vary across the
    grid, unique by a hash of all of them (so a changed ``fixed:`` value names new outputs)."""
    text = json.dumps({"notebook": section, "parameters": parameters}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    parts = [f"{k}={_slug(parameters[k])}" for k in varying[:4] if k in parameters]
    return "__".join([section, *parts, digest])


def _slug(value: Any, keep: int = 32) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"
    return text[-keep:]  # the tail: a path's or a spec's last part is the telling one


def _varying(parameters: list[dict[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(k for p in parameters for k in p))
    same = lambda k: len({json.dumps(p.get(k, "\0missing"), sort_keys=True, default=str) for p in parameters}) == 1
    return [k for k in names if not same(k)]


def _find_notebook(value: Any, grid_file: Path) -> Path:
    if not isinstance(value, str) or not value.endswith(".ipynb"):
        raise ValueError(f"{grid_file}: notebook: must name an .ipynb file, got {value!r}")
    root = runtime.project_root()
    bases = [Path.cwd(), grid_file.parent] + ([root] if root else [])
    for base in bases:
        if (base / value).is_file():
            return (base / value).resolve()
    raise FileNotFoundError(f"{grid_file}: notebook {value} not found (relative to the current "
                            "directory, the grid file or the project)")


def _mapping(value: Any, key: str, grid_file: Path) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{grid_file}: {key}: must be a mapping of parameter names")
    return value


def _resources(value: Any, grid_file: Path) -> dict[str, float]:
    value = value or {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for k, v in value.items()):
        raise ValueError(f"{grid_file}: resources: must map names to positive amounts, e.g. {{GPU: 1}}")
    return dict(value)


# ---- status.csv ---------------------------------------------------------------------------

def read_status(out: Path) -> dict[str, Row]:
    """The rows of ``out/status.csv`` by job name ({} when there is none)."""
    path = out / STATUS_FILE
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = [Row(**{c: r.get(c) or "" for c in COLUMNS}) for r in csv.DictReader(f)]
    for row in rows:
        row.seconds = float(row.seconds or 0)
    return {r.job: r for r in rows}


def write_status(out: Path, rows: list[Row]) -> None:
    """Rewrite ``out/status.csv`` atomically (a temporary file renamed over it)."""
    tmp = out / f".{STATUS_FILE}.{os.getpid()}.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({**dataclasses.asdict(r), "seconds": f"{r.seconds:.1f}"} for r in rows)
    tmp.replace(out / STATUS_FILE)


def _complete(path: Path) -> bool:
    """An output counts as complete when it exists and parses (outputs only appear by rename)."""
    try:
        return "cells" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def plan(grid: Grid, out: Path, retry_failed: bool = False) -> tuple[list[Row], list[Job]]:
    """One row per job and the jobs to run: complete outputs are ``skipped``, jobs that failed
    in an earlier run stay ``failed`` unless ``retry_failed``, the rest are ``pending``."""
    previous = read_status(out)
    rows, todo = [], []
    for job in grid.jobs:
        output = out / f"{job.name}.ipynb"
        before = previous.get(job.name)
        row = Row(job.name, grid.label, json.dumps(job.parameters, sort_keys=True, default=str), "pending",
                  output=output.name)
        if _complete(output):
            row.status = "skipped"
        elif before is not None and before.status == "failed" and not retry_failed:
            row.status, row.seconds, row.error = "failed", before.seconds, before.error
        else:
            todo.append(job)
        rows.append(row)
    return rows, todo


# ---- running on Dask ----------------------------------------------------------------------

def run_job(notebook: str, out_dir: str, name: str, parameters: dict[str, Any],
            gpus: int = 0) -> tuple[str, float, str]:
    """Execute one job on a Dask worker: ``(status, seconds, one-line error)``.

    ``gpus`` > 0 pins the job's kernel to GPU ``worker index % gpus`` (local GPU workers).
    """
    import papermill

    if gpus:
        from distributed import get_worker

        os.environ["CUDA_VISIBLE_DEVICES"] = str(int(get_worker().name) % gpus)  # inherited by the kernel
    out = Path(out_dir)
    failed = out / "failed" / f"{name}.ipynb"
    t0 = time.perf_counter()
    try:
        runs.execute(Path(notebook), out / f"{name}.ipynb", parameters, failed=failed)
    except papermill.PapermillExecutionError as err:
        return "failed", time.perf_counter() - t0, one_line(f"{err.ename}: {err.evalue}")
    except Exception as err:  # noqa: BLE001 — the kernel died, a disk filled: the job failed, not the batch
        return "failed", time.perf_counter() - t0, one_line(f"{type(err).__name__}: {err}")
    failed.unlink(missing_ok=True)  # an earlier try's partial notebook
    return "done", time.perf_counter() - t0, ""


def one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))  # ANSI colours of IPython tracebacks
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line[:limit]


def local_slots(workers: int | None, n_jobs: int, gpus: int = 0) -> tuple[int, int]:
    """``(workers, torch threads per worker)`` for a LocalCluster on this machine: one worker per
    GPU when the jobs ask for one, else per core while memory allows ``GIB_PER_JOB`` each."""
    import psutil

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers is None:
        memory = psutil.virtual_memory().total / 2**30
        workers = gpus or max(1, min(cpus, int(memory // GIB_PER_JOB)))
    workers = max(1, min(workers, n_jobs))
    return workers, max(1, cpus // workers)


@contextlib.contextmanager
def dask_client(grid: Grid, n_jobs: int, workers: int | None = None,
                scheduler: str | None = None) -> Iterator[tuple[Any, int]]:
    """``(client, gpus to pin)``: a running cluster's, or a LocalCluster's bound to 127.0.0.1."""
    from distributed import Client, LocalCluster

    if scheduler:
        _dask_log_level()
        with Client(scheduler, timeout="30s") as client:
            _check_resources(client, grid.resources)
            _log_dashboard(client)
            yield client, 0
        return
    extra = sorted(set(grid.resources) - {"GPU"})
    if extra or grid.resources.get("GPU", 0) > 1:
        raise ValueError(f"a local cluster offers one GPU per worker and nothing else; resources "
                         f"{grid.resources} need --scheduler of a cluster whose workers have them")
    gpus = _cuda_devices() if grid.resources.get("GPU") else 0
    if grid.resources.get("GPU") and not gpus:
        raise ValueError("the grid asks for GPU workers (resources: GPU) but this machine has no CUDA "
                         "device; pass --scheduler tcp://... of a cluster with GPU workers")
    n, threads = local_slots(workers, n_jobs, gpus)
    env = {name: str(threads) for name in ("SPARKS_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    runs.ensure_kernel()  # once here, not raced by the workers
    with _spawn_without_main():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", env=env, silence_logs=_dask_log_level(),
                               resources={"GPU": 1} if gpus else None, memory_limit=0)
    with cluster, Client(cluster) as client:
        log.info("local Dask cluster: %d worker%s x %d torch thread%s%s", n, "s"[:n > 1], threads,
                 "s"[:threads > 1], f", GPUs {gpus}" if gpus else "")
        _log_dashboard(client, local=True)
        yield client, gpus


@contextlib.contextmanager
def _spawn_without_main() -> Iterator[None]:
    """Spawned worker processes re-import ``__main__``: for ``sparks`` that is the whole CLI, every
    room (~10 s each on 2 busy cores). ``run_job`` lives here, so the workers need none of it."""
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _check_resources(client: Any, resources: dict[str, float]) -> None:
    workers = client.scheduler_info().get("workers", {}).values()
    if not workers:
        log.warning("the scheduler has no workers yet; jobs wait until some join")
    elif resources and not any(all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items())
                               for w in workers):
        raise ValueError(f"no worker of the scheduler offers resources {resources}; start workers with "
                         "e.g. --resources GPU=1")


def _log_dashboard(client: Any, local: bool = False) -> None:
    import importlib.util

    if local and importlib.util.find_spec("bokeh") is None:  # the local scheduler serves no dashboard
        log.info("no Dask dashboard (pip install bokeh to get one)")
        return
    with contextlib.suppress(Exception):
        if "dashboard" in client.scheduler_info().get("services", {}):
            log.info("Dask dashboard: %s", client.dashboard_link)


def _dask_log_level() -> int:
    """Dask's own INFO lines (workers starting, closing) only when ours are at DEBUG."""
    level = logging.INFO if log.getEffectiveLevel() <= logging.DEBUG else logging.WARNING
    logging.getLogger("distributed").setLevel(level)
    return level


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_batch(grid: Grid, out: Path, workers: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False) -> list[Row]:
    """Run the grid's pending jobs into ``out``; ``status.csv`` is rewritten after each one.

    A failed job does not stop the others; the returned rows say what happened to every job.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    out.mkdir(parents=True, exist_ok=True)
    rows, todo = plan(grid, out, retry_failed)
    write_status(out, rows)
    kept = sum(r.status == "failed" for r in rows)
    if kept:
        log.info("%d job%s failed before and stay failed (--retry-failed reruns them)", kept, "s"[:kept > 1])
    log.info("%d job%s to run, %d skipped (outputs complete)", len(todo), "s"[:len(todo) != 1],
             sum(r.status == "skipped" for r in rows))
    if not todo:
        return rows
    by_name = {r.job: r for r in rows}
    with dask_client(grid, len(todo), workers, scheduler) as (client, gpus), logging_redirect_tqdm():
        futures = {client.submit(run_job, str(grid.notebook), str(out.resolve()), job.name, job.parameters,
                                 gpus, key=f"sparks-batch-{job.name}",
                                 resources=grid.resources or None): job.name for job in todo}
        with tqdm(total=len(todo), unit="job", desc="batch", file=sys.stderr, disable=None) as bar:
            for future in as_completed(futures):
                row = by_name[futures[future]]
                try:
                    row.status, row.seconds, row.error = future.result()
                except Exception as err:  # noqa: BLE001 — e.g. KilledWorker: that job failed
                    row.status, row.error = "failed", one_line(f"{type(err).__name__}: {err}")
                write_status(out, rows)
                if row.status == "failed":
                    log.warning("%s failed: %s", row.job, row.error)
                bar.update()
    return rows


def summary(rows: list[Row], limit: int = 40) -> str:
    """A fixed-width table of the jobs (only the not-done ones past ``limit`` rows) and counts."""
    shown = rows if len(rows) <= limit else [r for r in rows if r.status not in ("done", "skipped")]
    width = max([len(r.job) for r in shown] + [3])
    lines = [f"{'job':{width}s}  {'status':7s}  {'seconds':>7s}  error"]
    lines += [f"{r.job:{width}s}  {r.status:7s}  {r.seconds:7.1f}  {r.error[:100]}" for r in shown]
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "skipped", "failed", "pending")}
    lines.append(f"{len(rows)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)


def batch_command(
    grid: Path = typer.Argument(..., help="Grid file (YAML): notebook, parameters or jobs, fixed, resources."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the executed notebooks and status.csv."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Local Dask workers, one job each "
                                          "(default: sized to this machine's cores, memory and GPUs)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, "
                                            "e.g. tcp://10.0.0.5:8786 (default: a local cluster)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Rerun the jobs that failed before."),
) -> None:
    """Run a notebook over a grid of parameters on Dask; a rerun resumes (README: Batch runs)."""
    t0 = time.perf_counter()
    rows = run_batch(load_grid(grid), out, workers, scheduler, retry_failed)
    typer.echo(summary(rows))
    typer.echo(f"{out / STATUS_FILE} ({time.perf_counter() - t0:.1f} s)")
    if any(r.status in ("failed", "pending") for r in rows):
        raise typer.Exit(1)
