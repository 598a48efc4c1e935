"""Running a grid: ``status.csv``, what a rerun skips, one job on a worker, the whole batch."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from thinking_sparks import runs
from thinking_sparks.atomic import write_text
from thinking_sparks.batch.cluster import dask_client, one_line
from thinking_sparks.batch.grid import Grid, Job

log = logging.getLogger(__name__)

STATUS_FILE = "status.csv"
COLUMNS = ["job", "notebook", "parameters", "status", "seconds", "error", "output"]


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
    """Rewrite ``out/status.csv`` atomically."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, COLUMNS)
    writer.writeheader()
    writer.writerows({**dataclasses.asdict(r), "seconds": f"{r.seconds:.1f}"} for r in rows)
    write_text(out / STATUS_FILE, buf.getvalue())


def write_index(out: Path, grid: Grid, rows: list[Row]) -> None:
    """Rewrite ``out/index.md``: a chapter page for the book linking every finished notebook
    (README: a batch in the book); failed and pending jobs are listed without a link."""
    from thinking_sparks.pages import title  # deferred: loaded only when this verb runs

    keys = grid.varying or ["parameters"]
    title = title(grid.section)
    lines = [f"# Batch: {title}, over {', '.join(grid.varying) or 'one job'}", "",
             f"`{grid.label}` run as {len(rows)} jobs by `sparks batch`; one page per finished job.", "",
             "| " + " | ".join(["job", *keys, "status"]) + " |", "|" + "---|" * (len(keys) + 2)]
    for row, job in zip(rows, grid.jobs):
        link = f"[{row.job}]({row.output})" if row.status in ("done", "skipped") else row.job
        values = [json.dumps(job.parameters.get(k), default=str).strip('"') for k in keys] \
            if grid.varying else [row.parameters]
        status = "done" if row.status == "skipped" else row.status  # skipped: done by an earlier run
        cells = [link, *(v.replace("|", "\\|") for v in values), status]
        lines.append("| " + " | ".join(cells) + " |")
    write_text(out / "index.md", "\n".join(lines) + "\n")


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


def run_job(notebook: str, out_dir: str, name: str, parameters: dict[str, Any],
            gpus: int = 0) -> tuple[str, float, str]:
    """Execute one job on a Dask worker: ``(status, seconds, one-line error)``.

    ``gpus`` > 0 pins the job's kernel to GPU ``worker index % gpus`` (local GPU workers).
    """
    import papermill  # deferred: papermill is heavy or optional, loaded only here

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


def run_batch(grid: Grid, out: Path, workers: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False) -> list[Row]:
    """Run the grid's pending jobs into ``out``; ``status.csv`` is rewritten after each one.

    A failed job does not stop the others; the returned rows say what happened to every job.
    One batch at a time writes to ``out`` (a lock that a killed run releases).
    """
    out.mkdir(parents=True, exist_ok=True)
    with _only_batch_in(out):
        return _run(grid, out, workers, scheduler, retry_failed)


def _run(grid: Grid, out: Path, workers: int | None, scheduler: str | None, retry_failed: bool) -> list[Row]:
    from distributed import as_completed  # deferred: distributed is heavy or optional, loaded only here

    rows, todo = plan(grid, out, retry_failed)
    write_status(out, rows)
    write_index(out, grid, rows)
    for job in todo:  # partial notebooks of a killed run (papermill's temporary names)
        for tmp in out.glob(f".{job.name}.*.tmp.ipynb"):
            tmp.unlink(missing_ok=True)
    kept = sum(r.status == "failed" for r in rows)
    if kept:
        log.info("%d job%s failed before and stay failed (--retry-failed reruns them)", kept, "s"[:kept > 1])
    log.info("%d job%s to run, %d skipped (outputs complete)", len(todo), "s"[:len(todo) != 1],
             sum(r.status == "skipped" for r in rows))
    if not todo:
        return rows
    from thinking_sparks.runs.book import build_zoos  # deferred: loaded only when this verb runs

    build_zoos([grid.section], [job.parameters for job in todo])  # once, before jobs share it
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
                write_index(out, grid, rows)
                if row.status == "failed":
                    log.warning("%s failed: %s", row.job, row.error)
                bar.update()
    return rows


@contextlib.contextmanager
def _only_batch_in(out: Path) -> Iterator[None]:
    import fcntl  # deferred: fcntl is heavy or optional, loaded only here

    with (out / ".batch.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another sparks batch is writing to {out}; wait for it or pick another --out") from None
        yield


def summary(rows: list[Row], limit: int = 40) -> str:
    """A fixed-width table of the jobs (only the not-done ones past ``limit`` rows) and counts."""
    shown = rows if len(rows) <= limit else [r for r in rows if r.status not in ("done", "skipped")]
    width = max([len(r.job) for r in shown] + [3])
    lines = [f"{'job':{width}s}  {'status':7s}  {'seconds':>7s}  error"]
    lines += [f"{r.job:{width}s}  {r.status:7s}  {r.seconds:7.1f}  {r.error[:100]}" for r in shown]
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "skipped", "failed", "pending")}
    lines.append(f"{len(rows)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)
