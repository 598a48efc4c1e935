"""The page's SFT run of a real model: a named run of :data:`~thinking_sparks.realmodel.runs.RUNS`
with overrides (:func:`run_config`), trained in a quiet worker process while the caller works on
(:func:`start_run`), or found in the cache, and its checkpoints named as specs (:class:`TrainedRun`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from thinking_sparks import runtime
from thinking_sparks.models import checkpoint_steps
from thinking_sparks.realmodel import runs

__all__ = ["PendingRun", "TrainedRun", "run_config", "start_run", "train_run"]


@dataclass
class TrainedRun:
    """A trained run: its settings, directory, checkpoint specs (ascending) and ``run.json``."""

    name: str
    cfg: runs.RealSFT
    path: str  #: the run's directory (a string: results hold no Path objects)
    specs: list[str]
    meta: dict
    cached: bool  #: found trained (this call trained nothing)
    seconds: float = 0.0  #: this call's time (training, or finding the cached run)

    @property
    def final(self) -> str:
        return self.specs[-1]

    @property
    def steps(self) -> list[int]:
        return [int(s.rsplit("@", 1)[1]) for s in self.specs]


def run_config(run: str = "smollm2-sft", model: str | None = None, max_steps: int | None = None,
               gpu_steps: int | None = None, device: str = "cpu") -> runs.RealSFT:
    """Run ``run``'s settings with the page's overrides (start model, steps, device); never more
    checkpoints than steps."""
    if run not in runs.RUNS:
        raise ValueError(f"unknown run {run!r}; runs: {', '.join(runs.RUNS)}")
    cfg = runs.RUNS[run]
    over: dict[str, Any] = {"device": device}
    if model is not None:
        over["model"] = model
    if max_steps is not None:
        over["max_steps"] = max_steps
    if gpu_steps is not None:
        over["gpu_steps"] = gpu_steps
    cfg = dataclasses.replace(cfg, **over)
    steps = cfg.recipe().max_steps
    return dataclasses.replace(cfg, n_checkpoints=min(cfg.n_checkpoints, steps))


@dataclass
class PendingRun:
    """A run training in a worker process (or already trained); :meth:`result` waits for it."""

    name: str
    cfg: runs.RealSFT
    future: Any
    started: float

    def result(self) -> TrainedRun:
        cached = self.future is None
        path = runs.run_dir(self.name, self.cfg) if cached else runtime.finish_worker(self.future)
        prefix = f"real/{self.name}" if self.cfg == runs.RUNS.get(self.name) else f"real/{path.name}"
        specs = [f"{prefix}@{s}" for s in checkpoint_steps(path)]
        return TrainedRun(self.name, self.cfg, str(path), specs, runs.run_meta(self.name, self.cfg), cached,
                          time.perf_counter() - self.started)


def start_run(run: str, cfg: runs.RealSFT) -> PendingRun:
    """Start training ``run`` (settings ``cfg``) in a quiet worker process on another core, unless it
    is cached; the caller works on (e.g. on the start model) and calls :meth:`PendingRun.result`.

    Specs are ``real/<run>@<step>`` for the run's own settings, else ``real/<run>-<key>@<step>``.
    """
    return PendingRun(run, cfg, runs.start_training(run, cfg), time.perf_counter())


def train_run(run: str, cfg: runs.RealSFT) -> TrainedRun:
    """Train ``run`` with settings ``cfg`` unless cached and wait for it (:func:`start_run`)."""
    return start_run(run, cfg).result()
