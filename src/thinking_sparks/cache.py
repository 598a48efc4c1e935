"""A content-addressed results cache with atomic entries.

An entry is a directory ``<root>/<kind>/<key>/`` holding whatever files a computation wrote plus a
``DONE`` marker written last. The key hashes everything that determines the result: the resolved
parameters, the model spec and weights fingerprint, this package's version and the versions of the
libraries that shape the numbers. Writers fill a temporary directory beside the entry and rename
it into place, so an interrupted run never leaves a half entry behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import hashlib
import importlib
import json
import logging
import numbers
import os
import shutil
import tempfile
import typing
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from thinking_sparks import __version__, runtime
from thinking_sparks.atomic import _swap_into_place

log = logging.getLogger(__name__)

DONE = "DONE"
_LIBS = ("torch", "transformers", "transformer-lens", "trl")


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour changes results (plus ours)."""
    out = {"thinking-sparks": __version__}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out


def _jsonable(obj: Any, where: str = "value") -> Any:
    """``obj`` as plain JSON data whose text is the same in every run, or ``TypeError``.

    Dataclasses, mappings, lists/tuples, paths, enums, numbers (numpy's too), strings, ``None`` and
    torch dtypes/devices are converted; anything else (functions, tensors, sets, arbitrary objects
    whose ``repr`` may carry a memory address) raises: key such values explicitly (e.g.
    ``Intervention.key()``) rather than through ``repr``.
    """
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj), where)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value, where)
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    module = type(obj).__module__
    if module == "torch" and type(obj).__name__ in ("dtype", "device"):
        return str(obj)
    raise TypeError(f"cannot put {where} of type {module}.{type(obj).__qualname__} into a cache key: it has "
                    "no stable serialization; pass a JSON-able description of it instead")


def model_key(model: Any) -> dict[str, Any]:
    """What of a loaded model enters a key: spec, fingerprint, dtype and device type.

    The same files in bfloat16 or on another device give other numbers, so they are other entries
    (``cuda:0`` and ``cuda:1`` share one: only the device type counts).
    """
    device = getattr(model, "device", None)
    dtype = getattr(model, "dtype", None)
    return {"spec": model.spec, "fingerprint": model.fingerprint,
            "dtype": None if dtype is None else str(dtype),
            "device": None if device is None else getattr(device, "type", str(device))}


def cache_key(kind: str, params: Any, model: Any = None, extra: Any = None) -> str:
    """A stable key: ``<kind>/<sha256 prefix>``.

    Args:
        kind: a short name of the computation ("circuit", "eval", ...), also the folder.
        params: a dataclass or dict of resolved parameters (JSON-able after conversion).
        model: a ``LoadedModel`` or None: its spec, fingerprint (weights, config, tokenizer, chat
            template, generation config), dtype and device type enter the key (:func:`model_key`).
        extra: anything else that must invalidate the entry (e.g. a dataset fingerprint).

    Raises:
        TypeError: a value without a stable serialization (see :func:`_jsonable`).
    """
    if not kind or "/" in kind:
        raise ValueError(f"cache kind must be a non-empty name without '/', got {kind!r}")
    payload = {
        "kind": kind,
        "params": _jsonable(params, "params"),
        "model": None if model is None else model_key(model),
        "extra": _jsonable(extra, "extra"),
        "versions": library_versions(),
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return f"{kind}/{hashlib.sha256(blob).hexdigest()[:20]}"


def _publish(tmp: Path, entry: Path) -> None:
    """Rename the finished ``tmp`` to ``entry`` (atomic; safe against a concurrent writer of the
    same key, see :func:`thinking_sparks.atomic._swap_into_place`)."""
    try:
        _swap_into_place(tmp, entry)
    except OSError:
        if not (entry / DONE).exists():
            raise
        # the same key was written by someone else in between, and a key fixes the result: keep theirs


class ResultCache:
    """Finished entries under ``root`` (default ``runtime.cache_dir()/results``).

    Set ``SPARKS_NO_CACHE=1`` to make every ``get`` miss (entries are still written).
    """

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else runtime.cache_dir() / "results"

    def path(self, key: str) -> Path:
        return self.root / key

    def get(self, key: str) -> Path | None:
        """The entry directory if it is complete, else None."""
        if os.environ.get("SPARKS_NO_CACHE", "0") not in ("0", ""):
            return None
        entry = self.path(key)
        return entry if (entry / DONE).exists() else None

    @contextlib.contextmanager
    def write(self, key: str, meta: dict | None = None) -> Iterator[Path]:
        """Yield a temporary directory; on success it becomes the entry, atomically.

        On an exception the temporary directory is removed and the previous entry (if any) stays.
        """
        entry = self.path(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        try:
            yield tmp
            (tmp / "key.json").write_text(json.dumps({"key": key, "meta": _jsonable(meta),
                                                      "versions": library_versions()}, indent=2))
            (tmp / DONE).write_text("")
            _publish(tmp, entry)
            log.debug("cached %s", entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def clear(self, kind: str | None = None) -> int:
        """Delete every entry (or every entry of ``kind``); returns how many were removed."""
        base = self.root / kind if kind else self.root
        if not base.exists():
            return 0
        count = sum(1 for p in base.rglob(DONE))
        shutil.rmtree(base)
        return count


# --- typed results on disk (no pickle) ------------------------------------------------------------

_MANIFEST = "manifest.json"


def _is_frame(x: Any) -> bool:
    return isinstance(x, (pd.DataFrame, pd.Series))


def _save_frame(frame: Any, path: Path) -> dict:
    series = isinstance(frame, pd.Series)
    df = frame.to_frame(name=frame.name if frame.name is not None else "value") if series else frame
    df.to_parquet(path)
    return {"kind": "series" if series else "frame", "file": path.name}


def _load_frame(spec: dict, folder: Path) -> Any:
    df = pd.read_parquet(folder / spec["file"])
    return df.iloc[:, 0] if spec["kind"] == "series" else df


def save_result(obj: Any, folder: Path) -> None:
    """Write a result dataclass into ``folder``: DataFrames/Series as parquet (one file each, also
    inside dicts and lists), numpy arrays as ``.npy`` (no pickle), nested dataclasses as sub-folders,
    the rest as JSON.

    Raises:
        TypeError: a field holds something without a stable on-disk form (see :func:`_jsonable`).
    """
    if not (is_dataclass(obj) and not isinstance(obj, type)):
        raise TypeError(f"save_result takes a dataclass instance, got {type(obj).__qualname__}")

    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"type": f"{type(obj).__module__}:{type(obj).__qualname__}", "fields": {}}
    for f in dataclasses.fields(obj):
        manifest["fields"][f.name] = _save_value(getattr(obj, f.name), folder, f.name)
    (folder / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _is_array(x: Any) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ == "ndarray"


def _save_value(value: Any, folder: Path, name: str) -> dict:
    if _is_frame(value):
        return _save_frame(value, folder / f"{name}.parquet")
    if _is_array(value):  # numeric arrays as .npy (no pickle): e.g. a circuit's [n_layers, n_heads] maps
        import numpy as np

        np.save(folder / f"{name}.npy", value, allow_pickle=False)
        return {"kind": "array", "file": f"{name}.npy"}
    if is_dataclass(value) and not isinstance(value, type):
        save_result(value, folder / name)
        return {"kind": "dataclass", "dir": name}
    if isinstance(value, dict) and value and any(_is_frame(v) or _is_array(v) or is_dataclass(v) for v in value.values()):
        # a list of [key, value] pairs: the manifest's keys are sorted, a dict's order is kept
        items = [[str(k), _save_value(v, folder, f"{name}.{i}")] for i, (k, v) in enumerate(value.items())]
        return {"kind": "dict", "items": items}
    if isinstance(value, (list, tuple)) and value and any(_is_frame(v) or _is_array(v) or is_dataclass(v) for v in value):
        return {"kind": "list", "items": [_save_value(v, folder, f"{name}.{i}") for i, v in enumerate(value)]}
    return {"kind": "json", "value": _jsonable(value, name)}


def _load_value(spec: dict, folder: Path) -> Any:
    kind = spec["kind"]
    if kind in ("frame", "series"):
        return _load_frame(spec, folder)
    if kind == "array":
        import numpy as np

        return np.load(folder / spec["file"], allow_pickle=False)
    if kind == "dataclass":
        return load_result(folder / spec["dir"])
    if kind == "dict":
        return {k: _load_value(v, folder) for k, v in spec["items"]}
    if kind == "list":
        return [_load_value(v, folder) for v in spec["items"]]
    return spec["value"]


def load_result(folder: Path) -> Any:
    """Read back what :func:`save_result` wrote (the dataclass type is recorded in the folder)."""
    manifest = json.loads((folder / _MANIFEST).read_text())
    module, qualname = manifest["type"].split(":")
    cls: Any = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    values = {name: _load_value(spec, folder) for name, spec in manifest["fields"].items()}
    return cls(**values)


def result_schema(cls: Any) -> Any:
    """The field names and types of a result dataclass, nested dataclasses expanded (for keys)."""
    if not (isinstance(cls, type) and is_dataclass(cls)):
        return None if cls is None else str(cls)
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, f.type)
        nested = [a for a in (hint, *typing.get_args(hint)) if isinstance(a, type) and is_dataclass(a)]
        out[f.name] = result_schema(nested[0]) if nested else str(hint)
    return {cls.__qualname__: out}


def cached(kind: str, key: Any):
    """Decorator: cache a function's dataclass result under ``cache_key(kind, key(*args, **kw))``.

    ``key`` receives the call's arguments and returns everything that determines the result (the
    parameters, model fingerprints, dataset fingerprints). A hit reads the stored result back
    (parquet + JSON, :func:`load_result`) without running the function; a miss runs it and stores the
    result atomically. The undecorated function stays reachable as ``fn.uncached``.
    """
    def decorate(fn):
        # the result's layout is part of the key: a changed Result dataclass never reads an old entry
        schema = result_schema(typing.get_type_hints(fn).get("return"))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            store = ResultCache()
            k = cache_key(kind, {"key": key(*args, **kwargs), "result": schema})
            hit = store.get(k)
            if hit is not None:
                log.info("%s: read from the results cache (%s)", kind, k)
                return load_result(hit / "result")
            out = fn(*args, **kwargs)
            with store.write(k) as tmp:
                save_result(out, tmp / "result")
            return out

        wrapper.uncached = fn
        return wrapper

    return decorate
