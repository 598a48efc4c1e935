"""Failure taxonomy of the organism's worked solutions, computed from the completions (Fig 4).

The organism answers ``<think> e0 = e1 = ... = v </think> <answer> v </answer>`` where each ``e``
rewrites the previous one by one operation (:mod:`thinking_sparks.organism.task`). That makes a
wrong completion checkable: the first step whose value differs from the previous one's is the
error, and its shape says which kind. Categories, tested in this order:

``correct``                  the answer equals the gold value.
``cutoff_or_loop``           cut off at the token budget, or an expression repeated 3+ times.
``no_answer_or_format``      no integer ``<answer>``, a think block never closed, or an unreadable step.
``unexplained``              a wrong answer with no worked steps (an empty think block, or none at
                             all: in think-off mode the template closes the block in the prompt).
``arithmetic_slip``          a step reduces a legal operation but writes a wrong result (also a
                             jump from several operations straight to a wrong number).
``order_of_operations``      a step reduces two adjacent numbers that do not form an operation of
                             the expression (``2 + 3 * 4 = 5 * 4``; ``( 2 + 3 ) * 4 = 2 + 12``,
                             parentheses ignored), or a jump lands on the
                             left-to-right value that ignores precedence and parentheses.
``dropped_or_invented_term`` any other value-changing step: a term lost, added or miscopied
                             (the restated question included).
``other``                    every step keeps the value, yet the answer is wrong (e.g. a gold that
                             does not match the question).

The first value-changing step is the one classified; steps that keep the value (several
operations at once, another legal order) are never errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

CATEGORIES = ("correct", "cutoff_or_loop", "no_answer_or_format", "unexplained", "arithmetic_slip",
              "order_of_operations", "dropped_or_invented_term", "other")
FAILURES = CATEGORIES[1:]
LOOP_REPEATS = 3

_TOKEN = re.compile(r"\d+|[-+*()]")
_QUESTION = re.compile(r"^\s*(?:What is|Compute|Calculate|Evaluate)\s+(.*?)\s*[?.]\s*$")
_ANSWER = re.compile(r"<answer>\s*(-?\d+)\s*</answer>")
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_HOLE = "?"  # a leaf that matches any integer


@dataclass(frozen=True)
class Diagnosis:
    """The category of one completion, the 1-based index of the offending step (0 if none) and a
    short human-readable note (``"19 * 3 - 45 = 56 - 45"``)."""

    category: str
    step: int = 0
    detail: str = ""


# ---------------------------------------------------------------- expressions as trees
# A tree is an int, the hole, or (op, left, right).


def tokens(text: str) -> list[str]:
    """Numbers (a unary minus folded in), operators and parentheses; ``ValueError`` on stray text."""
    text = text.strip()
    if re.sub(r"[\d\s+\-*()]", "", text):
        raise ValueError(f"not an arithmetic expression: {text!r}")
    out: list[str] = []
    for t in _TOKEN.findall(text):
        if t.isdigit() and out and out[-1] == "-" and (len(out) == 1 or out[-2] in "+-*("):
            out[-1] = "-" + t
        else:
            out.append(t)
    return out


def parse(text: str | list[str]) -> Any:
    """The expression tree of ``text`` (usual precedence, left-associative); ``ValueError`` if malformed."""
    toks = tokens(text) if isinstance(text, str) else list(text)
    pos = 0

    def atom():
        nonlocal pos
        if pos >= len(toks):
            raise ValueError("expression ends early")
        t = toks[pos]
        pos += 1
        if t == "(":
            node = expr()
            if pos >= len(toks) or toks[pos] != ")":
                raise ValueError("unclosed parenthesis")
            pos += 1
            return node
        if t == _HOLE:
            return _HOLE
        if t.lstrip("-").isdigit():
            return int(t)
        raise ValueError(f"unexpected {t!r}")

    def binary(ops, sub):
        nonlocal pos
        node = sub()
        while pos < len(toks) and toks[pos] in ops:
            op = toks[pos]
            pos += 1
            node = (op, node, sub())
        return node

    def expr():
        return binary("+-", lambda: binary("*", atom))

    tree = expr()
    if pos != len(toks):
        raise ValueError(f"unexpected {toks[pos]!r}")
    return tree


def value(tree: Any) -> int:
    if isinstance(tree, int):
        return tree
    op, a, b = tree
    x, y = value(a), value(b)
    return x + y if op == "+" else x - y if op == "-" else x * y


def _ready_nodes(tree: Any, path: tuple = ()) -> Iterable[tuple]:
    """Paths to operations whose operands are both numbers (the legal next reductions)."""
    if isinstance(tree, int) or tree == _HOLE:
        return
    _, a, b = tree
    if isinstance(a, int) and isinstance(b, int):
        yield path
    yield from _ready_nodes(a, path + (1,))
    yield from _ready_nodes(b, path + (2,))


def _replace(tree: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    node = list(tree)
    node[path[0]] = _replace(tree[path[0]], path[1:], new)
    return tuple(node)


def _matches(template: Any, tree: Any) -> bool:
    if template == _HOLE:
        return isinstance(tree, int)
    if isinstance(template, int) or isinstance(tree, int):
        return template == tree
    return template[0] == tree[0] and _matches(template[1], tree[1]) and _matches(template[2], tree[2])


def _illegal_pairs(toks: list[str]) -> Iterable[list[str]]:
    """Token lists where two adjacent numbers were combined although they are no operation of the
    expression (the combined value is a hole); parentheses left around a lone number are dropped."""
    for i in range(len(toks) - 2):
        a, op, b = toks[i:i + 3]
        if op in "+-*" and len(op) == 1 and a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
            new = toks[:i] + [_HOLE] + toks[i + 3:]
            if 0 < i and i + 1 < len(new) and new[i - 1] == "(" and new[i + 1] == ")":
                new = new[:i - 1] + [_HOLE] + new[i + 2:]
            yield new


def _left_to_right(toks: list[str]) -> int | None:
    nums = [t for t in toks if t not in "()"]
    try:
        acc = int(nums[0])
        for op, t in zip(nums[1::2], nums[2::2]):
            acc = value((op, acc, int(t)))
        return acc
    except (ValueError, IndexError):
        return None


def classify_step(before: str, after: str) -> str | None:
    """None if ``after`` keeps the value of ``before``; else the error category of the step."""
    prev, nxt = parse(before), parse(after)
    if value(nxt) == value(prev):
        return None
    legal = [_replace(prev, path, _HOLE) for path in _ready_nodes(prev)]
    if any(_matches(t, nxt) for t in legal):
        return "arithmetic_slip"
    toks = tokens(before)
    bare = [t for t in toks if t not in "()"]  # precedence misread as if the parentheses were not there
    for cand in [*_illegal_pairs(toks), *(_illegal_pairs(bare) if bare != toks else [])]:
        try:
            template = parse(cand)
        except ValueError:
            continue
        if not any(template == t for t in legal) and _matches(template, nxt):
            return "order_of_operations"
    if isinstance(nxt, int) and not isinstance(prev, int):
        return "order_of_operations" if _left_to_right(toks) == nxt else "arithmetic_slip"
    return "dropped_or_invented_term"


# ---------------------------------------------------------------- completions


def expression_of(question: str) -> str:
    """The expression of an organism question (``"Compute 3 + 4 * 2 ."`` -> ``"3 + 4 * 2"``)."""
    text = re.sub(r"\s*/(no_)?think\s*$", "", question)
    m = _QUESTION.match(text)
    if not m:
        raise ValueError(f"not an organism question: {question!r}")
    return m.group(1)


def classify(completion: str, expression: str, gold: int | str, finish_reason: str = "eos",
             correct: bool | None = None) -> Diagnosis:
    """The failure category of one completion of the organism's task (see the module docstring).

    ``correct``: the harness's grade of this sample (``grading.is_correct``); when given it decides
    "correct", so the taxonomy never disagrees with pass@1. Without it the first integer
    ``<answer>`` is compared with ``gold``.
    """
    answer = _ANSWER.search(completion)
    if correct if correct is not None else (answer and int(answer.group(1)) == int(gold)):
        return Diagnosis("correct")
    think = _THINK.search(completion)
    body = think.group(1) if think else completion.split("<think>", 1)[-1].split("<answer>", 1)[0]
    chain = [s.strip() for s in body.split("=") if s.strip()]
    repeats = max((chain.count(s) for s in chain), default=0)
    if finish_reason == "length" or repeats >= LOOP_REPEATS:
        why = "cut off at the token budget" if finish_reason == "length" else f"an expression repeated {repeats}x"
        return Diagnosis("cutoff_or_loop", detail=why)
    if not answer:
        return Diagnosis("no_answer_or_format", detail="no integer answer")
    if not think:
        if "<think>" in completion:
            return Diagnosis("no_answer_or_format", detail="think block opened but not closed")
        # no-think mode: the chat template closed an empty think block in the prompt, so the
        # completion is the answer alone; a wrong one is unexplained, not a format error
        return Diagnosis("unexplained", detail=f"answered {answer.group(1)} without a think block")
    if not chain:
        return Diagnosis("unexplained", detail=f"answered {answer.group(1)} without steps")
    steps = [expression] + chain
    try:
        if parse(chain[0]) == parse(expression):
            steps = [expression] + chain[1:]  # the question restated: step 1 is the first rewrite
    except ValueError:
        pass
    last, given = chain[-1], int(answer.group(1))
    if not (last.lstrip("-").isdigit() and int(last) == given):
        steps.append(str(given))  # the answer is the chain's final step
    for i in range(1, len(steps)):
        try:
            kind = classify_step(steps[i - 1], steps[i])
        except ValueError:
            return Diagnosis("no_answer_or_format", step=i, detail=f"unreadable step {steps[i]!r}")
        if kind:
            return Diagnosis(kind, step=i, detail=f"{steps[i - 1]} = {steps[i]}")
    return Diagnosis("other", detail="every step keeps the value")


def classify_samples(samples: pd.DataFrame, questions: dict[str, str]) -> pd.DataFrame:
    """``samples`` (the harness's table) with columns ``failure``, ``failure_step``, ``failure_detail``.

    Args:
        samples: needs ``problem_id, completion, gold, finish_reason``; ``correct`` (the harness's
            grade) decides "correct" when present.
        questions: ``{problem_id: question}`` (the expression is read from the question).
    """
    graded = "correct" in samples.columns
    rows = [classify(r.completion, expression_of(questions[r.problem_id]), r.gold, r.finish_reason,
                     correct=bool(r.correct) if graded else None)
            for r in samples.itertuples()]
    out = samples.copy()
    out["failure"] = [d.category for d in rows]
    out["failure_step"] = [d.step for d in rows]
    out["failure_detail"] = [d.detail for d in rows]
    return out


def failure_counts(classified: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Tidy counts: ``*by, failure, count, share`` (every category present, zeros included)."""
    by = list(by or [])
    groups = classified.groupby(by, sort=False) if by else [((), classified)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        counts = g["failure"].value_counts()
        for cat in CATEGORIES:
            n = int(counts.get(cat, 0))
            rows.append({**dict(zip(by, key)), "failure": cat, "count": n, "share": n / max(len(g), 1)})
    return pd.DataFrame(rows)
