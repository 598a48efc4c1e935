"""``sparks doctor``: what this machine runs, and a seconds-long self-check of the pieces that
have silently broken before.

The first thing to run on a new machine or a GPU runner. It reports the versions of the packages
that shape results (and where they differ from ``requirements.lock``), torch threads and devices,
the cache location, and runs three checks on a tiny random model:

- ``kv-cache``: greedy generation through our KV-cached loop equals a cache-free full forward per
  step, with and without a head intervention (a transformers release that renames the cache
  argument, or a cache that stops growing, fails here);
- ``bridge``: the TransformerBridge's logits equal the plain Hugging Face model's;
- ``chart``: an altair chart renders to PNG offline (vl-convert, no network).

It also says which torch build is installed (CPU or CUDA, against ``requirements-gpu.lock``'s
nvidia-* pins) and checks every model directory built in the cache (organism zoo finals, real-model
SFT finals, the dequantized SmolLM2): stock ``AutoTokenizer`` / ``AutoModelForCausalLM`` give the
project loader's ids and greedy text (:func:`thinking_sparks.portability.check`). Those lines are
about built artefacts, not this environment, and do not fail the report.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from thinking_sparks import runtime

log = logging.getLogger(__name__)

PACKAGES = ("torch", "transformers", "transformer-lens", "trl", "datasets", "tokenizers", "accelerate",
            "safetensors", "numpy", "pandas", "altair", "vl-convert-python", "papermill", "jupyter-book")
LOCK_FILE = "requirements.lock"
GPU_LOCK_FILE = "requirements-gpu.lock"


@dataclass(frozen=True)
class Check:
    """One self-check's outcome."""

    name: str
    ok: bool
    seconds: float
    detail: str


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def locked_versions(lock: Path | None = None) -> dict[str, str]:
    """``name -> version`` pinned in ``lock`` (default ``requirements.lock``; its own lines, no ``-r``
    includes; empty when there is no lock file)."""
    if lock is None:
        root = runtime.project_root()
        lock = root / LOCK_FILE if root is not None else None
    if lock is None or not lock.exists():
        return {}
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def versions() -> list[dict[str, str]]:
    """Installed vs locked versions of :data:`PACKAGES` (``locked`` empty when unpinned)."""
    pins = locked_versions()
    rows = []
    for name in PACKAGES:
        have, want = _version(name), pins.get(_canonical(name), "")
        same = not want or have == want or have.split("+")[0] == want.split("+")[0]
        rows.append({"package": name, "installed": have, "locked": want, "matches": "yes" if same else "NO"})
    return rows


def machine() -> dict[str, str]:
    """Python, threads, devices, cache and hub settings."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu cores": str(os.cpu_count()),
        "torch threads": f"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op"
                         f" (SPARKS_THREADS={os.environ.get('SPARKS_THREADS', 'unset')})",
        "cuda": "no",
        "mps": "yes" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "no",
        "cache": str(runtime.cache_dir()),
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "unset"),
    }
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cuda"] = f"{len(names)} device(s): {', '.join(names)} (torch CUDA {torch.version.cuda}, " \
                       f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'})"
    return info


def torch_build(gpu_lock: Path | None = None) -> dict[str, str]:
    """Which torch build is installed, and its CUDA packages against ``requirements-gpu.lock``.

    ``lock`` says which lock the installed torch matches: ``requirements.lock`` (a CPU build and no
    nvidia-* packages), ``requirements-gpu.lock`` (a CUDA build and every pin of that file
    installed at its version) or ``neither`` with the differences.
    """
    if gpu_lock is None:
        root = runtime.project_root()
        gpu_lock = root / GPU_LOCK_FILE if root is not None else None
    pins = locked_versions(gpu_lock) if gpu_lock is not None else {}
    installed = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions()
                 if d.metadata["Name"] and _canonical(d.metadata["Name"]).startswith("nvidia-")}
    cuda = torch.version.cuda
    return {"torch build": f"{torch.__version__}: " + (f"CUDA {cuda} build" if cuda else "CPU build")
                           + f" (torch.version.cuda {cuda})",
            "lock": which_lock(cuda, installed, pins)}


def which_lock(cuda: str | None, installed: dict[str, str], pins: dict[str, str]) -> str:
    """The lock an install matches, from torch's CUDA version, the installed ``nvidia-*`` packages
    (``name -> version``) and ``requirements-gpu.lock``'s pins."""
    def have(name: str) -> str:  # nvidia-* from ``installed``; cuda-* and triton pins looked up
        return installed.get(name, _version(name))

    wrong = [f"{n} {have(n)} (lock {v})" for n, v in sorted(pins.items()) if have(n) != v]
    if not cuda and not installed:
        return f"{LOCK_FILE} (CPU; no nvidia-* packages)"
    if cuda and pins and not wrong:
        return f"{GPU_LOCK_FILE} ({len(pins)} CUDA pins match)"
    if not cuda:
        return f"neither: a CPU build of torch with {len(installed)} nvidia-* packages installed"
    if not pins:
        return f"neither: no {GPU_LOCK_FILE} to compare with"
    return f"neither: {len(wrong)} differ from {GPU_LOCK_FILE}: {', '.join(wrong[:4])}{' ...' if len(wrong) > 4 else ''}"


def _timed(name: str, fn: Callable[[], str]) -> Check:
    t0 = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except AssertionError as err:
        detail, ok = str(err) or "assertion failed", False
    except Exception as err:  # noqa: BLE001 - a self-check reports every failure, never raises
        detail, ok = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", False
    return Check(name, ok, round(time.perf_counter() - t0, 2), detail)


def _tiny_model(device: str):
    from thinking_sparks.models import load_model  # deferred: loaded only when this verb runs
    from thinking_sparks.tiny import build_tiny  # deferred: loaded only when this verb runs

    path = build_tiny(Path(tempfile.mkdtemp(prefix="sparks-doctor-")), arch="qwen2", seed=1, init_range=0.4,
                      n_layers=3)
    return load_model(str(path), device=device, dtype="float32")


def _check_kv_cache(lm) -> str:
    from thinking_sparks.evaluation.generation import (  # deferred: loaded only when this verb runs
        SamplingConfig,
        generate,
    )
    from thinking_sparks.heads.edits import apply, parse_edits  # deferred: loaded only when this verb runs

    prompts = [lm.chat(q) for q in ("what is 3 plus 4 ?", "let's solve 1 + 2 * ( 3 - 4 ) step by step", "7")]
    cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=10, stop=(), batch_size=len(prompts))
    steps = 0
    for iv in (None, parse_edits("L1H0,L2H2", scale=["L0H1=1.3"])):
        gens = generate(lm, prompts, cfg, intervention=iv, progress=False)
        for prompt, g in zip(prompts, gens):
            ids = lm.encode(prompt)
            ref = []
            with apply(lm, iv), torch.no_grad():
                for _ in range(g.n_tokens):
                    nxt = int(lm.hf_model(ids).logits[0, -1].argmax())
                    ref.append(nxt)
                    ids = torch.cat([ids, ids.new_tensor([[nxt]])], dim=1)
            if g.finish_reason == "eos":
                ref = ref[:-1]
            want = lm.decode(ref)
            assert g.text == want, f"cached {g.text!r} != cache-free {want!r}" + (" (with intervention)" if iv else "")
            steps += g.n_tokens
    return f"{steps} greedy tokens agree with a cache-free reference (batched, left-padded; +/- intervention)"


def _check_bridge(lm) -> str:
    ids = lm.encode(lm.chat("what is 3 plus 4 ?"))
    with torch.no_grad():
        plain = lm.hf_model(ids).logits.float()
        bridged = lm.bridge(ids).float()
    diff = float((plain - bridged).abs().max())
    assert diff < 1e-4, f"bridge logits differ from the plain model's by {diff:.2e}"
    return f"bridge logits match the plain model (max |diff| {diff:.1e})"


def _check_chart() -> str:
    import altair as alt  # deferred: altair is heavy or optional, loaded only here
    import pandas as pd  # deferred: loaded only when this verb runs

    from thinking_sparks.plots import offline_bundle  # deferred: loaded only when this verb runs

    chart = alt.Chart(pd.DataFrame({"x": [0, 1, 2], "y": [1, 3, 2]})).mark_line().encode(x="x", y="y")
    bundle = offline_bundle(chart.to_dict())
    assert bundle["image/png"] and "vegaEmbed" in bundle["text/html"], "no PNG or no vegaEmbed call"
    return f"chart rendered offline ({len(bundle['image/png']) * 3 // 4 // 1024} KiB PNG)"


def run_checks(device: str = "cpu") -> list[Check]:
    """The self-checks, in order; each reports its failure instead of raising."""
    holder: dict[str, object] = {}

    def model_check(fn: Callable) -> Callable[[], str]:
        def run() -> str:
            if "lm" not in holder:
                holder["lm"] = _tiny_model(device)
            return fn(holder["lm"])
        return run

    return [_timed("kv-cache", model_check(_check_kv_cache)), _timed("bridge", model_check(_check_bridge)),
            _timed("chart", _check_chart)]


def model_checks() -> list[Check]:
    """Stock Hugging Face loading of every model dir built in the cache (one check each)."""
    from thinking_sparks import portability  # deferred: loaded only when this verb runs

    return [_timed(label, lambda d=d: str(portability.check(d, max_new_tokens=8)))
            for label, d in portability.model_dirs().items()]


def report(device: str = "cpu") -> tuple[str, bool]:
    """The whole report as text, and whether every check passed and every version matches the lock."""
    lines = ["machine"]
    lines += [f"  {k:<15} {v}" for k, v in {**machine(), **torch_build()}.items()]
    vers = versions()
    lines.append("versions (installed / requirements.lock)")
    lines += [f"  {r['package']:<18} {r['installed']:<14} {r['locked'] or '-':<14} "
              f"{'' if r['matches'] == 'yes' else 'differs from the lock'}".rstrip() for r in vers]
    checks = run_checks(device)
    lines.append("self-checks")
    lines += [f"  {'ok  ' if c.ok else 'FAIL'} {c.name:<9} {c.seconds:>6.2f} s  {c.detail}" for c in checks]
    ok = all(c.ok for c in checks)
    built = model_checks()
    lines.append(f"built model dirs under stock transformers ({len(built)} in the cache)")
    lines += [f"  {'ok  ' if c.ok else 'FAIL'} {c.name} {c.seconds:.2f} s  {c.detail}" for c in built]
    if any(not c.ok for c in built):
        lines.append("note: model dirs built before the fix load other tokenizers in stock transformers; "
                     "`python -m thinking_sparks.hfcompat --fix` rewrites their tokenizer files (weights untouched)")
    drift = [r["package"] for r in vers if r["matches"] != "yes"]
    if drift:
        lines.append(f"note: {', '.join(drift)} differ from requirements.lock (results may differ from the book's)")
    lines.append("all checks passed" if ok else "SOME CHECKS FAILED: do not trust results from this environment")
    return "\n".join(lines), ok
