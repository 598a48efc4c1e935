"""Evaluation sets: JSON-lines benchmark files and the organism's fixed easy/medium/hard sets.

A JSON-lines file has one object per line with a ``question`` (or ``problem``) and an ``answer``.
The answer may be a whole GSM8K solution ending in ``#### N`` (the gold is ``N``) or a plain value.
Optional fields: ``id`` (or ``unique_id``) and ``difficulty`` (or ``level``).

Named sets come from the rooms that make them, through :data:`EVAL_SETS`: ``organism/easy``,
``organism/medium``, ``organism/hard`` (the roles of GSM8K, MATH-500 and AIME/AMC in the paper;
:func:`thinking_sparks.organism.task.eval_problems`; ``organism/circuit`` and ``organism/circuit2`` are the
circuit question sets, AIME'24's and AMC's roles) and ``words/...`` (the same asked in chat
English, :func:`thinking_sparks.realmodel.runs.words_set`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thinking_sparks.registry import Registry

__all__ = ["EVAL_SETS", "Problem", "fingerprint_problems", "load_eval_set", "load_jsonl"]

NO_DIFFICULTY = "all"
#: named sets made by rooms above this one: prefix -> function of the rest of the name
#: (``organism/hard`` -> ``"hard"``) returning a list of :class:`Problem`; filled through the
#: ``thinking_sparks.eval_sets`` entry points (``organism/``, ``words/``) or ``EVAL_SETS.register``
EVAL_SETS = Registry("thinking_sparks.eval_sets")


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


def load_eval_set(name_or_path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems of a named set (``organism/easy|medium|hard``) or of a JSON-lines file.

    Args:
        name_or_path: set name or path to a ``.jsonl`` file.
        limit: keep only the first ``limit`` problems (>= 1).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    name = str(name_or_path).strip()
    provider = EVAL_SETS.find(name)
    if provider is not None:
        prefix, make = provider
        problems = list(make(name[len(prefix):]))
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"eval set not found: {name!r} (give a .jsonl file or a name starting with "
                + " or ".join(EVAL_SETS.prefixes()) + ")"
            )
        problems = load_jsonl(path)
    return problems[:limit] if limit is not None else problems


def fingerprint_problems(problems: list[Problem]) -> str:
    """SHA-256 (16 hex digits) of the problems' content, for cache keys."""
    blob = json.dumps([asdict(p) for p in problems], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
