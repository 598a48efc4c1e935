"""A content-addressed results cache with atomic entries.

An entry is a directory ``<root>/<kind>/<key>/`` holding whatever files a computation wrote plus a
``DONE`` marker written last. The key hashes everything that determines the result: the resolved
parameters, the model spec and weights fingerprint, this package's version and the versions of the
libraries that shape the numbers. Writers fill a temporary directory beside the entry and rename
it into place, so an interrupted run never leaves a half entry behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from thinking_sparks import __version__, runtime

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
    import enum
    import numbers

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


def _publish(tmp: Path, entry: Path, attempts: int = 50) -> None:
    """Rename the finished ``tmp`` to ``entry``, replacing an existing entry; safe against another
    process publishing the same key at the same moment (each rename is atomic; an old entry is
    moved aside under a name unique to this writer before it is removed)."""
    for _ in range(attempts):
        try:
            tmp.rename(entry)  # atomic; fails when a complete entry is in the way
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        aside = entry.with_name(f".{entry.name}.old.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            entry.rename(aside)
        except FileNotFoundError:  # another writer moved it first: try again
            continue
        shutil.rmtree(aside, ignore_errors=True)
    if not (entry / DONE).exists():
        raise OSError(f"could not publish cache entry {entry}: other writers kept replacing it")
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
