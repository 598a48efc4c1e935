"""Process-wide settings: torch threads, device and dtype choice, cache location, logging.

Every entry point (CLI, notebooks, tests) calls :func:`setup` once.  On the 2-core machines this
project targets, an unpinned torch spawns one thread per core *per process*; with a Jupyter kernel
beside it a forward pass gets ~30x slower, so threads are pinned by default.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import sys
from pathlib import Path

import torch

log = logging.getLogger("thinking_sparks")

#: Environment variable that overrides the cache root (default: ``<repo>/.cache`` when run from a
#: checkout, else ``~/.cache/thinking_sparks``).
CACHE_ENV = "SPARKS_CACHE"


def project_root() -> Path | None:
    """The checkout this package was installed from in editable mode, if any."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "thinking_sparks").exists():
            return parent
    return None


def cache_dir() -> Path:
    """Root of every built artefact (dequantized weights, organism zoo, results cache)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = project_root()
        path = root / ".cache" if root is not None else Path.home() / ".cache" / "thinking_sparks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup(threads: int | None = None, offline: bool = True, level: int = logging.INFO) -> None:
    """Pin torch threads, force offline Hugging Face, configure logging.

    Args:
        threads: torch intra-op threads; default ``SPARKS_THREADS`` or 1 on machines with
            <= 2 cores, else all cores.
        offline: set ``HF_HUB_OFFLINE=1`` unless the user already chose.
        level: logging level for the ``thinking_sparks`` logger.
    """
    if offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if threads is None:
        env = os.environ.get("SPARKS_THREADS")
        ncpu = os.cpu_count() or 1
        threads = int(env) if env else (1 if ncpu <= 2 else ncpu)
    torch.set_num_threads(threads)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    log.setLevel(level)
    if level >= logging.WARNING:  # quiet: no weight-loading / shard-writing bars either
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def available_devices() -> list[str]:
    """Device names this torch build can use here: ``cpu``, then ``cuda:N`` / ``mps`` if present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return out


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> cuda if available, else mps, else cpu.

    Raises:
        ValueError: (one line, naming the devices that exist) for a name torch does not know
            (``gpu``) or a device this machine or torch build lacks (``cuda`` on a CPU-only torch).
    """
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    have = available_devices()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {str(device)!r}; available here: {', '.join(have)} (or auto)") from None
    if dev.type == "cuda":
        ok = torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count())
    elif dev.type == "mps":
        ok = "mps" in have
    else:
        ok = dev.type == "cpu"
    if not ok:
        why = "" if dev.type != "cuda" or torch.cuda.is_available() else " (this torch build has no CUDA)"
        raise ValueError(f"device {str(device)!r} is not available{why}; available here: {', '.join(have)} "
                         "(or auto)")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``/"auto" -> bfloat16 on CUDA, float32 elsewhere; strings like "float16" accepted."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        value = getattr(torch, str(dtype))
    except AttributeError:
        raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16") from None
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return value


def call_with_output_to(path: Path | str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with this process's stdout and stderr (file descriptors 1 and 2, so
    tqdm, warnings and child output too) sent to the file ``path``; meant for worker processes that
    train while a notebook kernel waits (the kernel would otherwise capture every progress bar)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _quiet_worker_init(log: str) -> None:
    """A worker's stdout and stderr go to ``log`` from its first line on (imports warn too)."""
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    setup(threads=1)


def start_quiet_worker(log: Path | str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` started in a fresh (spawned) process pinned to one thread, whose
    console output goes to the file ``log``; returns its ``concurrent.futures.Future`` at once (the
    caller works on while it runs on another core)."""
    import multiprocessing  # deferred: multiprocessing is heavy or optional, loaded only here

    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_quiet_worker_init,
                                  initargs=(str(log),))
    future = pool.submit(fn, *args, **kwargs)
    future.pool = pool  # for finish_worker
    return future


def finish_worker(future):
    """Wait for a :func:`start_quiet_worker` future, then for its process to exit (so that its CPU
    time counts in :func:`cpu_seconds`); returns ``fn``'s result (or raises its exception)."""
    try:
        return future.result()
    finally:
        future.pool.shutdown(wait=True)


def in_quiet_worker(log: Path | str, fn, *args, **kwargs):
    """:func:`start_quiet_worker` and wait: returns ``fn``'s result (or raises its exception)."""
    return finish_worker(start_quiet_worker(log, fn, *args, **kwargs))


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its finished child processes (e.g. the
    worker processes of :func:`start_quiet_worker`)."""
    import resource  # deferred: resource is heavy or optional, loaded only here

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
