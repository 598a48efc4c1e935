"""``sparks batch GRID.yaml --out DIR``: the verb (registered in ``thinking_sparks.cli``)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from thinking_sparks.batch.grid import load_grid
from thinking_sparks.batch.runner import STATUS_FILE, run_batch, summary


def batch_command(
    grid: Path = typer.Argument(..., help="Grid file (YAML): notebook, parameters or jobs, fixed, resources."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the executed notebooks and status.csv."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local Dask workers, one job each "
                                          "(default: sized to this machine's cores, memory and GPUs)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, "
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
