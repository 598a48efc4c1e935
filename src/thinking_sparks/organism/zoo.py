"""The organism zoo: a registry of runs, built on demand, cached, addressable as model specs.

Layout: ``runtime.cache_dir()/organism/<profile>/<run>/checkpoint-<step>/`` (standard HF dirs),
with ``log.csv`` (tidy: run, step, metric, value) and ``run.json`` (config, fingerprint, timing)
beside the checkpoints. A run counts as built when its ``run.json`` carries the fingerprint of
its config and of all the runs it starts from; anything else is (re)built from scratch, so an
interrupted build resumes at the first unfinished run. Same seed -> same weights (CPU).

Specs: ``organism/<run>@<step|final>`` (profile ``full``, or ``$SPARKS_ORGANISM_PROFILE``) and
``organism/<profile>/<run>@<step|final>``; :func:`resolve_checkpoint` maps them to a directory.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import logging
import multiprocessing
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from thinking_sparks import atomic, runtime
from thinking_sparks.models import checkpoint_steps
from thinking_sparks.organism import distill, grpo, hybrid, pretrain, sft
from thinking_sparks.organism.config import PROFILES, RunSpec, config_hash, family, profile

log = logging.getLogger(__name__)

PROFILE_ENV = "SPARKS_ORGANISM_PROFILE"
_SPEC = re.compile(r"^organism/(?:(?P<profile>[a-z]+)/)?(?P<run>[a-z0-9][a-z0-9_-]*)(?:@(?P<step>\d+|final|latest))?$")


@dataclass
class RunStatus:
    """What :func:`list_runs` reports per run."""

    profile: str
    name: str
    kind: str
    parent: str | None
    built: bool
    steps: list[int]
    seconds: float | None
    path: Path
    family: str = "qwen2"  #: architecture family (``config.family``: ``qwen2`` or ``llama``)


def default_profile(profile_name: str | None = None) -> str:
    """``profile_name``, else ``$SPARKS_ORGANISM_PROFILE``, else ``full``."""
    return profile_name or os.environ.get(PROFILE_ENV, "full")


def root(profile_name: str) -> Path:
    return runtime.cache_dir() / "organism" / profile_name


def run_dir(profile_name: str, run: str) -> Path:
    return root(profile_name) / run


def fingerprint(table: dict[str, RunSpec], name: str) -> str:
    """Hash of a run's config and, recursively, of the runs it depends on."""
    spec = table[name]
    parts = [spec.kind, config_hash(spec.config)]
    parts += [fingerprint(table, dep) for dep in (spec.parent, spec.teacher) if dep]
    return config_hash(_Parts(parts))


@dataclass
class _Parts:
    parts: list[str]


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads((path / "run.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_built(profile_name: str, name: str, table: dict[str, RunSpec] | None = None) -> bool:
    table = table or profile(profile_name)
    meta = _read_meta(run_dir(profile_name, name))
    return bool(meta) and meta.get("fingerprint") == fingerprint(table, name) and bool(
        checkpoint_steps(run_dir(profile_name, name)))


def _final_dir(profile_name: str, run: str) -> Path:
    steps = checkpoint_steps(run_dir(profile_name, run))
    if not steps:
        raise FileNotFoundError(f"organism run {profile_name}/{run} has no checkpoints; run `sparks zoo build`")
    return run_dir(profile_name, run) / f"checkpoint-{steps[-1]}"


def train_run(profile_name: str, name: str) -> dict:
    """Train one run from scratch into its dir (its dependencies must be built); returns its meta."""
    table = profile(profile_name)
    spec = table[name]
    out = run_dir(profile_name, name)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start_model = _final_dir(profile_name, spec.parent) if spec.parent else None
    t0, c0 = time.perf_counter(), time.process_time()
    if spec.kind == "pretrain":
        pretrain.pretrain(spec.config, out, name)
    elif spec.kind == "sft":
        sft.train_sft(spec.config, start_model, out, name)
    elif spec.kind == "grpo":
        grpo.train_grpo(spec.config, start_model, out, name)
    elif spec.kind == "distill":
        distill.train_distill(spec.config, start_model, _final_dir(profile_name, spec.teacher), out, name)
    elif spec.kind == "hybrid":
        hybrid.train_hybrid(spec.config, start_model, out, name)
    else:
        raise ValueError(f"unknown run kind {spec.kind!r}")
    meta = {"profile": profile_name, "name": name, "kind": spec.kind, "parent": spec.parent,
            "teacher": spec.teacher, "fingerprint": fingerprint(table, name),
            "seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
            "steps": checkpoint_steps(out),
            "config": dataclasses.asdict(spec.config)}
    atomic.write_text(out / "run.json", json.dumps(meta, indent=1, default=str))
    log.info("built organism/%s/%s in %.1f s (%.1f cpu-s, %d checkpoints)", profile_name, name, meta["seconds"],
             meta["cpu_seconds"], len(meta["steps"]))
    return meta


def _worker_init() -> None:
    runtime.setup(threads=1)


def build_log(profile_name: str, name: str) -> Path:
    """Where a quiet build writes a run's console output (progress bars, logs, warnings)."""
    return root(profile_name) / "logs" / f"{name}.log"


def _train_run_quietly(profile_name: str, name: str) -> dict:
    """:func:`train_run` with this process's console output sent to :func:`build_log` (see
    :func:`thinking_sparks.runtime.call_with_output_to`); meant for worker processes."""
    return runtime.call_with_output_to(build_log(profile_name, name), train_run, profile_name, name)


def _closure(table: dict[str, RunSpec], runs: list[str]) -> list[str]:
    """``runs`` plus everything they depend on, in the table's (topological) order."""
    need: set[str] = set()

    def add(name: str) -> None:
        if name not in table:
            raise ValueError(f"unknown organism run {name!r}; choose from {', '.join(table)}")
        if name in need:
            return
        need.add(name)
        for dep in (table[name].parent, table[name].teacher):
            if dep:
                add(dep)

    for r in runs:
        add(r)
    return [n for n in table if n in need]


def build(profile_name: str = "full", runs: list[str] | None = None, force: bool = False,
          jobs: int = 1, quiet: bool = False) -> dict[str, Path]:
    """Build the runs (default: all) of a profile that are missing; returns run name -> final checkpoint.

    Args:
        profile_name: ``full`` or ``tiny``.
        runs: subset of run names (their dependencies are added).
        force: rebuild the named runs (and everything depending on them) even if built.
        jobs: runs trained in parallel processes (each pinned to one thread); 1 = in this process.
        quiet: train in worker processes whose console output goes to :func:`build_log` files
            (for notebooks: a kernel would otherwise capture every progress bar into the page).
    """
    table = profile(profile_name)
    order = _closure(table, list(runs) if runs else list(table))
    if force:
        for name in order if runs is None else runs:
            shutil.rmtree(run_dir(profile_name, name), ignore_errors=True)
    todo = [n for n in order if not is_built(profile_name, n, table)]
    log.info("organism/%s: %d runs built, %d to build: %s", profile_name, len(order) - len(todo), len(todo),
             ", ".join(todo) or "-")
    if jobs <= 1 and not quiet:
        for name in todo:
            train_run(profile_name, name)
    elif todo:
        _build_parallel(profile_name, table, todo, max(1, jobs), _train_run_quietly if quiet else train_run)
    return {n: _final_dir(profile_name, n) for n in order}


def _build_parallel(profile_name: str, table: dict[str, RunSpec], todo: list[str], jobs: int,
                    task=train_run) -> None:
    pending, running = list(todo), {}
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
        while pending or running:
            for name in list(pending):
                deps = [d for d in (table[name].parent, table[name].teacher) if d]
                if len(running) < jobs and all(d not in pending and d not in running.values() for d in deps):
                    running[pool.submit(task, profile_name, name)] = name
                    pending.remove(name)
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                fut.result()  # re-raise a worker's error
                running.pop(fut)


def list_runs(profile_name: str | None = None) -> list[RunStatus]:
    """Status of every run of one profile (or of all profiles)."""
    out = []
    for prof in [profile_name] if profile_name else list(PROFILES):
        table = profile(prof)
        for name, spec in table.items():
            path = run_dir(prof, name)
            meta = _read_meta(path) or {}
            out.append(RunStatus(prof, name, spec.kind, spec.parent, is_built(prof, name, table),
                                 checkpoint_steps(path), meta.get("seconds"), path, family(table, name)))
    return out


def resolve_checkpoint(spec: str) -> Path:
    """``organism/[<profile>/]<run>@<step|final>`` -> the checkpoint dir (raises if not built)."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise FileNotFoundError(f"bad organism spec {spec!r}; expected 'organism/[<profile>/]<run>@<step|final>' "
                                "(e.g. organism/sft@200, organism/tiny/grpo-hard@final)")
    prof = m.group("profile") or os.environ.get(PROFILE_ENV, "full")
    table = profile(prof)
    run = m.group("run")
    if run not in table:
        raise FileNotFoundError(f"unknown organism run {run!r} in profile {prof!r}; runs: {', '.join(table)}")
    path = run_dir(prof, run)
    steps = checkpoint_steps(path)
    if not steps or not is_built(prof, run, table):
        raise FileNotFoundError(f"organism run {prof}/{run} is not built; run `sparks zoo build --profile {prof} "
                                f"--runs {run}`")
    step = m.group("step") or "final"
    if step in ("final", "latest"):
        return path / f"checkpoint-{steps[-1]}"
    if int(step) not in steps:
        raise FileNotFoundError(f"organism/{prof}/{run} has no checkpoint at step {step}; steps: "
                                + ", ".join(map(str, steps)))
    return path / f"checkpoint-{int(step)}"
