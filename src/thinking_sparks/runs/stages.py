"""Where a book build spends its time: one row per stage, wall and CPU seconds, cores used.

A build is a sequence of stages (the venv install, each organism run the build trained, the
emergence sweep, each page, the HTML). :class:`StageClock` times each one: wall seconds from a
monotonic clock, CPU seconds of this process *and* of every child process that finished in it
(``resource.getrusage``: papermill's kernels, zoo workers and ``jupyter-book`` are children), so
``cores = cpu / wall`` says how much of the machine a stage used. The install happens in ``make``
before Python starts; the Makefile leaves its times in ``<venv>/.install-times`` (the shell's
``times`` builtin: user and system seconds of the shell's children) and :func:`install_stage`
reads them when they belong to this ``make`` invocation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

#: the environment variable ``make book`` sets to the epoch second it started
MAKE_START = "SPARKS_MAKE_T0"


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a build. ``cpu`` is None where it was not measured."""

    name: str
    wall: float
    cpu: float | None

    @property
    def cores(self) -> float | None:
        return None if self.cpu is None or self.wall <= 0 else self.cpu / self.wall


def cpu_seconds() -> float:
    """User + system seconds of this process and of its waited-for children (and theirs)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclasses.dataclass
class StageClock:
    """Collects :class:`Stage` rows in the order they ran."""

    stages: list[Stage] = dataclasses.field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.stages.append(Stage(name, time.perf_counter() - t0, cpu_seconds() - c0))

    def add(self, stage: Stage | None) -> None:
        if stage is not None:
            self.stages.append(stage)

    def table(self) -> pd.DataFrame:
        """``stage, wall_s, cpu_s, cores`` plus a ``total`` row (stages do not overlap in time, except
        rows marked as parts of another: ``  └ name`` rows are inside the stage above them)."""
        rows = [{"stage": s.name, "wall_s": s.wall, "cpu_s": s.cpu, "cores": s.cores} for s in self.stages]
        top = [s for s in self.stages if not s.name.startswith("  ")]
        if top:
            wall = sum(s.wall for s in top)
            cpus = [s.cpu for s in top if s.cpu is not None]
            cpu = sum(cpus) if len(cpus) == len(top) else None
            rows.append({"stage": "total", "wall_s": wall, "cpu_s": cpu,
                         "cores": None if cpu is None or wall <= 0 else cpu / wall})
        return pd.DataFrame(rows, columns=["stage", "wall_s", "cpu_s", "cores"])


def markdown(table: pd.DataFrame) -> list[str]:
    """The table as Markdown lines (seconds to the unit, cores to 0.1; ``-`` where not measured)."""
    def num(x, fmt: str) -> str:
        return "-" if x is None or pd.isna(x) else format(x, fmt)

    lines = ["| stage | wall (s) | CPU (s) | cores used |", "|---|---:|---:|---:|"]
    lines += [f"| {r.stage} | {num(r.wall_s, '.0f')} | {num(r.cpu_s, '.0f')} | {num(r.cores, '.1f')} |"
              for r in table.itertuples()]
    return lines


def parse_times(text: str) -> float:
    """CPU seconds of the children in the output of bash's ``times`` builtin (its second line,
    ``0m12.345s 0m1.234s``: user and system)."""
    lines = [ln.split() for ln in text.strip().splitlines()]
    if len(lines) != 2 or len(lines[1]) != 2:
        raise ValueError(f"not the output of bash's `times`: {text!r}")
    total = 0.0
    for field in lines[1]:
        minutes, _, seconds = field.rstrip("s").partition("m")
        total += 60 * float(minutes) + float(seconds)
    return total


def install_stage(venv: Path, make_start: str | None = None) -> Stage | None:
    """The venv install as a stage, when ``make`` ran it in this invocation: ``<venv>/.install-times``
    holds ``start end`` epoch seconds on its first line, then bash's ``times`` output. None when the
    file is missing or older than this ``make`` (a warm build installs nothing)."""
    make_start = make_start if make_start is not None else os.environ.get(MAKE_START)
    path = venv / ".install-times"
    if not make_start or not path.exists():
        return None
    first, _, rest = path.read_text().partition("\n")
    try:
        start, end = (float(x) for x in first.split())
        cpu = parse_times(rest)
    except ValueError as err:
        log.warning("ignoring %s: %s", path, err)
        return None
    if start < float(make_start) - 1:
        return None
    return Stage("install (venv, pip)", end - start, cpu)
