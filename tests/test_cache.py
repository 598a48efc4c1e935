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
