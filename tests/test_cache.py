"""Results cache: stable keys, atomic entries."""

from __future__ import annotations

import dataclasses as _dc
from dataclasses import dataclass

import pandas as _pd
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
    from thinking_sparks.evaluation.generation import SamplingConfig
    from thinking_sparks.evaluation.harness import EvalParams, run_eval
    from thinking_sparks.models import load_model

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    problems = [Problem("a", "what is 3 + 4 ?", "7")]
    params = EvalParams(dataset="inline", sampling=SamplingConfig(n=1, temperature=0.0, max_new_tokens=3))
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
    from thinking_sparks.atomic import write_text

    target = tmp_path / "status.csv"
    target.write_text("old")
    assert write_text(target, "new\n") == target
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["status.csv"]  # no temporary file left beside it


def test_atomic_dir_appears_whole_or_not_at_all(tmp_path):
    from thinking_sparks.atomic import atomic_dir

    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
        assert not out.exists()  # nothing at the target while it is written
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "b.txt").write_text("half")
        raise RuntimeError("killed mid-way")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # the previous output stays
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary left beside it
    with atomic_dir(out) as tmp:
        (tmp / "c.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["c.txt"]  # replaced whole


# --- typed results (cache.save_result / load_result / cached) ---------------------------------------


@_dc.dataclass
class _Inner:
    table: _pd.DataFrame
    count: int


@_dc.dataclass
class _Outer:
    frames: dict
    inner: _Inner
    note: str
    values: list


@_dc.dataclass
class _Changed:  # _Inner with one more field
    table: _pd.DataFrame
    count: int
    extra: str = ""


def test_a_result_round_trips_without_pickle(tmp_path):
    from thinking_sparks.cache import load_result, save_result

    out = _Outer({"zeta": _pd.DataFrame({"q": [1, 2]}), "alpha": _pd.DataFrame({"q": [3.5]})},
                 _Inner(_pd.DataFrame({"head": ["L0H1"], "score": [0.25]}), 7), "text", [1, 2.5, None])
    save_result(out, tmp_path / "r")
    back = load_result(tmp_path / "r")
    assert list(back.frames) == ["zeta", "alpha"]  # insertion order kept
    assert back.frames["alpha"].q.tolist() == [3.5] and back.inner.count == 7
    assert back.inner.table.to_dict("records") == [{"head": "L0H1", "score": 0.25}]
    assert back.note == "text" and back.values == [1, 2.5, None]
    assert not [p for p in (tmp_path / "r").rglob("*") if p.suffix in (".pkl", ".pickle")]


def test_a_result_field_without_a_stable_form_is_refused(tmp_path):
    from thinking_sparks.cache import save_result

    with pytest.raises(TypeError, match="cannot put"):
        save_result(_Inner(_pd.DataFrame(), object()), tmp_path / "r")


def test_cached_computes_once_and_keys_the_result_layout(tmp_path, monkeypatch):
    from thinking_sparks import cache

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    calls = []

    def make(n: int) -> _Inner:
        calls.append(n)
        return _Inner(_pd.DataFrame({"x": list(range(n))}), n)

    first = cache.cached("test-inner", key=lambda n: {"n": n})(make)
    assert first(3).count == 3 and first(3).table.x.tolist() == [0, 1, 2] and calls == [3]
    assert first(4).count == 4 and calls == [3, 4]  # another key: computed

    def make2(n: int) -> _Changed:
        calls.append(-n)
        return _Changed(_pd.DataFrame({"x": [n]}), n)

    # the same kind and key, another result layout: computed, never the old entry
    assert cache.cached("test-inner", key=lambda n: {"n": n})(make2)(3).count == 3 and calls[-1] == -3


@_dc.dataclass
class _ArrInner:
    score: object
    name: str = "c"


@_dc.dataclass
class _ArrOuter:
    inner: list
    maps: dict


def test_save_result_round_trips_numpy_arrays_without_pickle(tmp_path):
    """Arrays (also inside lists of dataclasses and dicts) come back with their dtype and values; an
    object array is refused rather than pickled."""
    import numpy as np

    from thinking_sparks.cache import load_result, save_result

    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    save_result(_ArrOuter([_ArrInner(a)], {"m": np.array([1, 2])}), tmp_path / "r")
    back = load_result(tmp_path / "r")
    assert back.inner[0].score.dtype == np.float32 and np.array_equal(back.inner[0].score, a)
    assert back.inner[0].name == "c" and back.maps["m"].tolist() == [1, 2]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["inner.0", "manifest.json", "maps.0.npy"]
    with pytest.raises(ValueError):
        save_result(_ArrInner(np.array([object()])), tmp_path / "bad")
