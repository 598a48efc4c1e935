"""Atomic output: a file or a directory appears whole or not at all.

Every writer of the project goes through this module: a temporary name in the same folder (the same
file system, so the final ``rename`` is atomic), filled, flushed, then renamed over the target. On
an exception (or a kill) the temporary is removed or left under a dot-name that no reader takes for
output, and the previous target, if any, is untouched.

- :func:`atomic_dir` — a directory filled in a temporary sibling, renamed into place at the end.
- :func:`write_text`, :func:`write_bytes`, :func:`write_json` — one file.
- :func:`write_frame` — a DataFrame as parquet.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator


def _tmp_sibling(target: Path, suffix: str = "") -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}")


def write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (keys sorted, so equal objects give equal files)."""
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n")


def write_frame(path: Path | str, frame: Any) -> Path:
    """Write a pandas DataFrame to ``path`` as parquet, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path, ".parquet")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _swap_into_place(tmp: Path, target: Path, attempts: int = 50) -> None:
    """Rename the finished directory ``tmp`` to ``target``, replacing what is there; safe against
    another process publishing the same target at the same moment (an old target is moved aside
    under a name unique to this writer before it is removed)."""
    for _ in range(attempts):
        try:
            tmp.rename(target)  # atomic; fails when a non-empty directory is in the way
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
        aside = target.with_name(f".{target.name}.old.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            target.rename(aside)
        except FileNotFoundError:  # another writer moved it first: try again
            continue
        if aside.is_dir():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)
    raise OSError(f"could not move {tmp} into place at {target}: other writers kept replacing it")


@contextlib.contextmanager
def atomic_dir(target: Path | str, replace: bool = True) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``target``; on success it becomes ``target``.

    Args:
        target: the output directory.
        replace: replace an existing ``target`` (default); False raises ``FileExistsError`` at the
            end instead (and keeps the existing one).

    On an exception the temporary directory is removed and an existing ``target`` stays as it was.
    A kill leaves only a dot-named ``.<name>.<pid>...tmp`` sibling, never a partial ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if not replace and target.exists():
            raise FileExistsError(f"{target} exists")
        _swap_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_replaceable(target: Path | str, produces: tuple[str, ...], flag: str = "--out") -> None:
    """Raise ``ValueError`` unless ``target`` is absent, empty, or holds only files named in
    ``produces`` (an earlier output of the same command): :func:`atomic_dir` replaces the whole
    directory, so anything else in it would be lost. ``NotADirectoryError`` for a file."""
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise NotADirectoryError(f"{flag} exists and is not a directory: {target}")
    others = sorted(p.name for p in target.iterdir() if p.name not in produces)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ValueError(f"{flag} {target} holds other files ({shown}); it is replaced as a whole, so choose a "
                         "new directory or one with only this command's earlier output")
