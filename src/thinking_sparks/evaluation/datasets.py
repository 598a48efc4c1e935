"""Evaluation sets: JSON-lines benchmark files and the organism's fixed easy/medium/hard sets.

A JSON-lines file has one object per line with a ``question`` (or ``problem``) and an ``answer``.
The answer may be a whole GSM8K solution ending in ``#### N`` (the gold is ``N``) or a plain value.
Optional fields: ``id`` (or ``unique_id``) and ``difficulty`` (or ``level``).

Organism sets are named ``organism/easy``, ``organism/medium``, ``organism/hard`` (the roles of
GSM8K, MATH-500 and AIME/AMC in the paper); they come from ``thinking_sparks.organism.task``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ORGANISM_SETS", "SET_PROVIDERS", "Problem", "fingerprint_problems", "load_eval_set", "load_jsonl",
           "organism_set"]

ORGANISM_SETS = ("easy", "medium", "hard")
NO_DIFFICULTY = "all"
#: named sets from rooms below this one: prefix -> ``"module:function"``; the function takes the
#: rest of the name (``words/easy`` -> ``"easy"``) and returns a list of :class:`Problem`. Named by
#: module path so that this room imports nothing below it until such a set is asked for.
SET_PROVIDERS: dict[str, str] = {
    "words/": "thinking_sparks.realmodel.runs:words_set",  # the organism's sets asked in chat English
}


@dataclass(frozen=True)
class Problem:
    """One evaluation problem.

    Attributes:
        id: stable identifier (from the file, else ``<file stem>-<record index>``).
        question: the user message (the chat template is applied later, per model).
        answer: the gold final answer as text (``"18"``, ``"-5"``, ``"\\frac{3}{4}"``).
        difficulty: a group label for metrics (``"all"`` when the source has none).
    """

    id: str
    question: str
    answer: str
    difficulty: str = NO_DIFFICULTY


def gold_from_answer(answer: Any) -> str:
    """The gold value of an answer field: the text after the last ``####``, else the value."""
    if answer is None:
        raise ValueError("answer is null")
    if isinstance(answer, bool):
        raise ValueError(f"answer must be text or a number, got {answer!r}")
    text = str(answer).strip()
    if "####" in text:
        text = text.rsplit("####", 1)[1].strip()
    if not text:
        raise ValueError("answer is empty")
    return text


def load_jsonl(path: Path | str) -> list[Problem]:
    """Problems from a JSON-lines file; a bad line raises ``ValueError`` naming file and line."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"eval set {path} is a directory; pass a JSONL file")
    if not path.is_file():
        raise FileNotFoundError(f"eval set file not found: {path}")
    problems: list[Problem] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
            question = row.get("question", row.get("problem"))
            if not isinstance(question, str) or not question.strip():
                raise ValueError(f"{where}: missing or empty 'question' field")
            if "answer" not in row:
                raise ValueError(f"{where}: missing 'answer' field")
            try:
                gold = gold_from_answer(row["answer"])
            except ValueError as err:
                raise ValueError(f"{where}: bad 'answer' field ({err})") from None
            pid = row.get("id", row.get("unique_id"))
            pid = str(pid) if pid is not None else f"{path.stem}-{len(problems):05d}"
            diff = row.get("difficulty", row.get("level"))
            problems.append(Problem(pid, question, gold, str(diff) if diff is not None else NO_DIFFICULTY))
    if not problems:
        raise ValueError(f"eval set file has no problems: {path}")
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"{path}: duplicate problem id {dup!r}")
    return problems


def organism_set(level: str) -> list[Problem]:
    """The organism's fixed evaluation set for ``level`` in ``easy | medium | hard``.

    Delegates to ``thinking_sparks.organism.task.eval_set(level)``, whose items carry ``question``,
    ``answer``, ``difficulty`` and (optionally) ``id``, as attributes or dict keys.
    """
    if level not in ORGANISM_SETS:
        raise ValueError(f"unknown organism eval set {level!r}; choose one of {', '.join(ORGANISM_SETS)}")
    try:
        from thinking_sparks.organism import task
    except ImportError as err:  # the organism room is optional at import time
        raise FileNotFoundError(f"organism task module unavailable ({err})") from None
    problems = []
    for i, item in enumerate(task.eval_set(level)):
        pid = _field(item, "id")
        problems.append(Problem(
            id=str(pid) if pid is not None else f"organism-{level}-{i:05d}",
            question=str(_field(item, "question")),
            answer=gold_from_answer(_field(item, "answer")),
            difficulty=str(_field(item, "difficulty", level)),
        ))
    return problems


def _field(item: Any, name: str, default: Any = None) -> Any:
    """``item[name]`` for mappings, ``item.name`` for objects."""
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


def load_eval_set(name_or_path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems of a named set (``organism/easy|medium|hard``) or of a JSON-lines file.

    Args:
        name_or_path: set name or path to a ``.jsonl`` file.
        limit: keep only the first ``limit`` problems (>= 1).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    name = str(name_or_path).strip()
    provider = next((p for p in SET_PROVIDERS if name.startswith(p)), None)
    if name.startswith("organism/"):
        problems = organism_set(name.split("/", 1)[1])
    elif provider is not None:
        import importlib

        module, _, func = SET_PROVIDERS[provider].partition(":")
        problems = list(getattr(importlib.import_module(module), func)(name[len(provider):]))
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"eval set not found: {name!r} (give a .jsonl file, one of "
                + ", ".join(f"organism/{s}" for s in ORGANISM_SETS) + ", or a name starting with "
                + " or ".join(SET_PROVIDERS) + ")"
            )
        problems = load_jsonl(path)
    return problems[:limit] if limit is not None else problems


def fingerprint_problems(problems: list[Problem]) -> str:
    """SHA-256 (16 hex digits) of the problems' content, for cache keys."""
    blob = json.dumps([asdict(p) for p in problems], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
