"""Results cache: stable keys, atomic entries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thinking_sparks.cache import DONE, ResultCache, cache_key


@dataclass
class P:
    steps: int = 5
    metric: str = "kl"


def test_keys_are_stable_and_sensitive():
    assert cache_key("circuit", P()) == cache_key("circuit", {"metric": "kl", "steps": 5})
    assert cache_key("circuit", P()) != cache_key("circuit", P(steps=6))
    assert cache_key("circuit", P()) != cache_key("eval", P())
    assert cache_key("circuit", P()).startswith("circuit/")
    with pytest.raises(ValueError):
        cache_key("a/b", P())


def test_entry_is_atomic(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache_key("t", {"x": 1})
    assert cache.get(key) is None
    with pytest.raises(RuntimeError):
        with cache.write(key) as tmp:
            (tmp / "half.txt").write_text("partial")
            raise RuntimeError("interrupted")
    assert cache.get(key) is None
    assert not any(p.name != "." for p in (tmp_path / "t").iterdir())  # no leftovers
    with cache.write(key, meta={"note": "ok"}) as tmp:
        (tmp / "result.txt").write_text("42")
    entry = cache.get(key)
    assert entry is not None and (entry / DONE).exists() and (entry / "result.txt").read_text() == "42"
    with cache.write(key) as tmp:  # overwrite replaces the whole entry
        (tmp / "result.txt").write_text("43")
    assert (cache.get(key) / "result.txt").read_text() == "43"
    assert cache.clear("t") == 1 and cache.get(key) is None


def test_no_cache_env_forces_miss(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path)
    key = cache_key("t", {})
    with cache.write(key) as tmp:
        (tmp / "a").write_text("")
    monkeypatch.setenv("SPARKS_NO_CACHE", "1")
    assert cache.get(key) is None


# ---------------------------------------------------------------- keys that cannot lie


class _Opaque:
    """An object whose repr names its memory address: it differs from run to run."""


@pytest.mark.parametrize("value", [lambda: 0, _Opaque(), {1, 2}, b"raw"], ids=["function", "object", "set", "bytes"])
def test_unserializable_values_raise_instead_of_repr(value):
    with pytest.raises(TypeError, match="cache key"):
        cache_key("t", {"x": value})
    with pytest.raises(TypeError, match="cache key"):
        cache_key("t", {}, extra=[value])


def test_tensor_in_a_key_raises():
    import torch

    with pytest.raises(TypeError, match="Tensor"):
        cache_key("t", {"means": torch.zeros(3)})


def test_stable_scalars_are_accepted():
    import enum
    from pathlib import Path

    import numpy as np
    import torch

    class Mode(enum.Enum):
        ZERO = "zero"

    a = cache_key("t", {"n": np.int64(3), "f": np.float32(0.5), "p": Path("a/b"), "m": Mode.ZERO,
                        "d": torch.float16})
    b = cache_key("t", {"n": 3, "f": 0.5, "p": "a/b", "m": "zero", "d": "torch.float16"})
    assert a == b


def test_model_dtype_and_device_enter_the_key(tiny_model_dir):
    from thinking_sparks.models import load_model

    f32 = load_model(str(tiny_model_dir), device="cpu", dtype="float32")
    bf16 = load_model(str(tiny_model_dir), device="cpu", dtype="bfloat16")
    assert f32.fingerprint == bf16.fingerprint  # same files ...
    assert cache_key("eval", P(), model=f32) != cache_key("eval", P(), model=bf16)  # ... different numbers
    assert cache_key("eval", P(), model=f32) == cache_key("eval", P(), model=load_model(str(tiny_model_dir),
                                                                                           device="cpu"))

    class OnGPU:  # the key reads spec, fingerprint, dtype and device from the model
        spec, fingerprint, dtype = f32.spec, f32.fingerprint, f32.dtype
        device = __import__("torch").device("cuda", 0)

    assert cache_key("circuit", P(), model=f32) != cache_key("circuit", P(), model=OnGPU())


def test_eval_cache_misses_on_another_dtype(tiny_model_dir, tmp_path, monkeypatch):
    from thinking_sparks.evaluation.datasets import Problem
    from thinking_sparks.evaluation.harness import EvalParams, run_eval
    from thinking_sparks.models import load_model

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    problems = [Problem("a", "what is 3 + 4 ?", "7")]
    params = EvalParams(dataset="inline", n=1, temperature=0.0, max_new_tokens=3)
    first = run_eval(load_model(str(tiny_model_dir), dtype="float32"), params, problems=problems, progress=False)
    again = run_eval(load_model(str(tiny_model_dir), dtype="float32"), params, problems=problems, progress=False)
    other = run_eval(load_model(str(tiny_model_dir), dtype="bfloat16"), params, problems=problems, progress=False)
    assert not first.info["cached"] and again.info["cached"] and not other.info["cached"]


# ---------------------------------------------------------------- atomic under SIGKILL and races

_WRITER = r"""
import sys, time
from pathlib import Path
from thinking_sparks.cache import ResultCache
root, key, mode, ready = sys.argv[1:5]
cache = ResultCache(root)
if mode == "hang":
    with cache.write(key, meta={"writer": mode}) as tmp:
        (tmp / "big.bin").write_bytes(b"x" * 1_000_000)
        Path(ready).write_text("half written")
        time.sleep(60)
else:  # once released, write the same key again and again while the other writer does too
    Path(ready).write_text("ready")
    while not Path(ready + ".go").exists():
        time.sleep(0.005)
    for i in range(40):
        with cache.write(key, meta={"writer": mode}) as tmp:
            (tmp / "big.bin").write_bytes(b"x" * 100_000)
            (tmp / "who.txt").write_text(mode)
"""


def _writer(tmp_path, key, mode, ready):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), key, mode, str(ready)], env=env)


def _wait_for(path, proc, seconds=60.0):
    import time

    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"writer exited early with {proc.returncode}"
        assert time.time() - t0 < seconds, "writer never got ready"
        time.sleep(0.02)


def test_sigkill_mid_write_leaves_no_entry_and_keeps_the_old_one(tmp_path):
    import signal

    cache = ResultCache(tmp_path)
    key = cache_key("t", {"x": 2})
    with cache.write(key) as tmp:
        (tmp / "who.txt").write_text("old")
    ready = tmp_path / "ready"
    proc = _writer(tmp_path, key, "hang", ready)
    _wait_for(ready, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    entry = cache.get(key)
    assert entry is not None and (entry / "who.txt").read_text() == "old" and not (entry / "big.bin").exists()
    # a fresh key killed mid-write: no entry at all, and the next writer succeeds
    fresh = cache_key("t", {"x": 3})
    ready2 = tmp_path / "ready2"
    proc = _writer(tmp_path, fresh, "hang", ready2)
    _wait_for(ready2, proc)
    proc.kill()
    proc.wait(30)
    assert cache.get(fresh) is None and not cache.path(fresh).exists()
    with cache.write(fresh) as tmp:
        (tmp / "who.txt").write_text("new")
    assert (cache.get(fresh) / "who.txt").read_text() == "new"


@pytest.mark.parametrize("existing", [False, True], ids=["new-key", "replacing"])
def test_two_processes_writing_one_key(tmp_path, existing):
    cache = ResultCache(tmp_path)
    key = cache_key("t", {"x": 4})
    if existing:
        with cache.write(key) as tmp:
            (tmp / "who.txt").write_text("old")
    readies = [tmp_path / "a.ready", tmp_path / "b.ready"]
    procs = [_writer(tmp_path, key, name, r) for name, r in zip("ab", readies, strict=True)]
    for r, p in zip(readies, procs, strict=True):
        _wait_for(r, p)
    for r in readies:  # release both at once: their renames race
        r.with_name(r.name + ".go").write_text("")
    codes = [p.wait(60) for p in procs]
    assert codes == [0, 0]
    entry = cache.get(key)
    assert entry is not None and (entry / "who.txt").read_text() in ("a", "b")
    assert (entry / "big.bin").stat().st_size == 100_000
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [key.split("/")[1]]  # no leftovers


def test_write_text_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    from thinking_sparks.runtime import write_text_atomic

    target = tmp_path / "status.csv"
    target.write_text("old")
    assert write_text_atomic(target, "new\n") == target
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["status.csv"]  # no temporary file left beside it


@dataclass
class _Inner:
    score: object
    name: str = "c"


@dataclass
class _Outer:
    inner: list
    maps: dict


def test_save_result_round_trips_numpy_arrays_without_pickle(tmp_path):
    """Arrays (also inside lists of dataclasses and dicts) come back with their dtype and values; an
    object array is refused rather than pickled."""
    import numpy as np

    from thinking_sparks.cache import load_result, save_result

    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    save_result(_Outer([_Inner(a)], {"m": np.array([1, 2])}), tmp_path / "r")
    back = load_result(tmp_path / "r")
    assert back.inner[0].score.dtype == np.float32 and np.array_equal(back.inner[0].score, a)
    assert back.inner[0].name == "c" and back.maps["m"].tolist() == [1, 2]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["inner.0", "manifest.json", "maps.0.npy"]
    with pytest.raises(ValueError):
        save_result(_Inner(np.array([object()])), tmp_path / "bad")
