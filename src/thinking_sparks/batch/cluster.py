"""Where the jobs run: a ``distributed.LocalCluster`` sized to this machine (bound to 127.0.0.1,
torch threads pinned per worker), or a running scheduler (``--scheduler tcp://...``)."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from thinking_sparks import runs
from thinking_sparks.batch.grid import Grid


def one_line(err: BaseException | str, limit: int = 300) -> str:
    """The first non-empty line of an error, without the ANSI colours of IPython tracebacks."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    return next((s.strip() for s in text.splitlines() if s.strip()), "")[:limit]

log = logging.getLogger(__name__)

GIB_PER_JOB = 4  # memory allowed per local job slot when sizing the LocalCluster
CONNECT_TIMEOUT = "30s"  # to reach a running scheduler


def local_slots(workers: int | None, n_jobs: int, gpus: int = 0) -> tuple[int, int]:
    """``(workers, torch threads per worker)`` for a LocalCluster on this machine: one worker per
    GPU when the jobs ask for one, else per core while memory allows ``GIB_PER_JOB`` each."""
    import psutil  # deferred: psutil is heavy or optional, loaded only here

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
    from distributed import Client, LocalCluster  # deferred: distributed is heavy or optional, loaded only here

    if scheduler:
        _dask_log_level()
        if workers is not None:
            log.warning("--workers applies to a local cluster; the scheduler's workers run the jobs")
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} ({one_line(err)})") from None
        with client:
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
    room (~10 s each on 2 busy cores). ``run_job`` lives in this package: workers need none of it."""
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
    import torch  # deferred: loaded only when this verb runs

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
