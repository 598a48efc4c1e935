"""A content-addressed results cache with atomic entries.

An entry is a directory ``<root>/<kind>/<key>/`` holding whatever files a computation wrote plus a
``DONE`` marker written last. The key hashes everything that determines the result: the resolved
parameters, the model spec and weights fingerprint, this package's version and the versions of the
libraries that shape the numbers. Writers fill a temporary directory beside the entry and rename
it into place, so an interrupted run never leaves a half entry behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
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


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def cache_key(kind: str, params: Any, model: Any = None, extra: Any = None) -> str:
    """A stable key: ``<kind>/<sha256 prefix>``.

    Args:
        kind: a short name of the computation ("circuit", "eval", ...), also the folder.
        params: a dataclass or dict of resolved parameters (JSON-able after conversion).
        model: a ``LoadedModel`` (its spec and weights fingerprint enter the key) or None.
        extra: anything else that must invalidate the entry (e.g. a dataset fingerprint).
    """
    if not kind or "/" in kind:
        raise ValueError(f"cache kind must be a non-empty name without '/', got {kind!r}")
    payload = {
        "kind": kind,
        "params": _jsonable(params),
        "model": None if model is None else {"spec": model.spec, "fingerprint": model.fingerprint},
        "extra": _jsonable(extra),
        "versions": library_versions(),
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return f"{kind}/{hashlib.sha256(blob).hexdigest()[:20]}"


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
            if entry.exists():
                old = entry.with_name(f".{entry.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                entry.rename(old)
                tmp.rename(entry)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(entry)
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
