"""The organism's task: multi-step integer arithmetic with worked, step-by-step solutions.

A problem is an expression tree over ``+ - *`` printed with the fewest parentheses that keep
its shape (``( 12 + 7 ) * 3 - 45``). Its worked solution rewrites the expression one operation at
a time, in the usual evaluation order (innermost parentheses first, ``*`` before ``+ -``, left to
right), until one integer is left::

    ( 12 + 7 ) * 3 - 45 = 19 * 3 - 45 = 57 - 45 = 12

Every step is one *elementary operation* (a level-1 problem), so a model that has learned the
elementary operations and writes the chain out (thinks) can solve long problems that it cannot
solve in one go (no-think) — the property the paper's reasoning models rely on.

Difficulty levels (:data:`LEVELS`): level 1 is one operation on small numbers; each higher level
adds an operation and allows larger numbers; from level 3 up expressions may hold parentheses
and negative intermediate results. Multiplications always have both operands in ``[-9, 9]``
(times tables) and every intermediate value stays within ``[-99, 99]``.

Splits are disjoint by construction: each canonical expression hashes to a bucket, and eval
problems come only from the eval buckets (:func:`split_of`). Everything is deterministic by seed.

Fixed eval sets play the paper's benchmarks: ``easy`` (GSM8K's role, levels 1-2), ``medium``
(MATH-500's, level 3), ``hard`` (AIME/AMC's, levels 4-5); see :data:`EVAL_SETS`. ``calibrated``
holds the levels where the compared models sit within the analysis plan's pass@1 band (chosen
from a pilot, ``plan.PLAN.levels.calibrated``): where a difference between them can show.

Chat format (contract with :mod:`thinking_sparks.evaluation`): the user turn is the question
(optionally followed by ``/think`` or ``/no_think``); the assistant replies
``<think> <chain> </think> <answer> N </answer>`` when reasoning and
``<think> </think> <answer> N </answer>`` when answering directly.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import asdict, dataclass
from typing import Literal

from thinking_sparks.evaluation.datasets import Problem as EvalProblem
from thinking_sparks.evaluation.datasets import gold_from_answer
from thinking_sparks.organism.chat import (  # re-exported
    NO_THINK_FLAG,
    THINK_FLAG,
    direct_reply,
    flagged,
    messages,
    think_reply,
)
from thinking_sparks.plan import PLAN

__all__ = ["EVAL_SEEDS", "CIRCUIT_SET", "CIRCUIT_SETS", "EVAL_SETS", "LEVELS", "LevelSpec", "Problem", "circuit_problems",
           "circuit_set", "NO_THINK_FLAG", "THINK_FLAG", "direct_reply", "flagged", "eval_set",
           "generate_problem", "make_dataset", "make_problems", "messages", "pilot_problems", "role_expressions",
           "split_of", "think_reply"]

Split = Literal["train", "eval"]
_PREC = {"+": 1, "-": 1, "*": 2}
_QUESTION_TEMPLATES = ("What is {e} ?", "Compute {e} .", "Calculate {e} .", "Evaluate {e} .")
#: Percentage of hash buckets reserved for the eval split.
EVAL_BUCKET_PERCENT = 10


@dataclass(frozen=True)
class LevelSpec:
    """How problems of one difficulty level are drawn.

    Attributes:
        n_ops: number of binary operations (= number of solution steps).
        max_leaf: leaves are integers in ``[1, max_leaf]`` (multiplication leaves in ``[2, 9]``).
        parens: whether parentheses may appear; if ``"required"``, at least one pair must.
        negatives: whether intermediate and final values may be negative.
    """

    n_ops: int
    max_leaf: int
    parens: bool | str
    negatives: bool


#: Difficulty levels 1..5.
LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(n_ops=1, max_leaf=20, parens=False, negatives=False),
    2: LevelSpec(n_ops=2, max_leaf=20, parens=False, negatives=False),
    3: LevelSpec(n_ops=3, max_leaf=20, parens=True, negatives=True),
    4: LevelSpec(n_ops=4, max_leaf=25, parens="required", negatives=True),
    5: LevelSpec(n_ops=5, max_leaf=30, parens="required", negatives=True),
}

#: the seed of each fixed evaluation set (an enlarged set keeps it: its first problems stay the same)
EVAL_SEEDS: dict[str, int] = {"easy": 1001, "medium": 1002, "hard": 1003}  # GSM8K's, MATH-500's, AIME / AMC's roles
#: the seed of the ``calibrated`` set (the premise checks' set, levels chosen by the difficulty pilot)
CALIBRATED_SEED = 1004
#: name -> (levels, size, seed): the fixed evaluation sets (benchmarks' roles in the paper); levels and
#: sizes come from the analysis plan (``plan.PLAN.sizes``)
EVAL_SETS: dict[str, tuple[tuple[int, ...], int, int]] = {
    **{name: (PLAN.sizes.levels(name), PLAN.sizes.size(name), seed) for name, seed in EVAL_SEEDS.items()},
    # the premises' set: levels from the difficulty pilot (plan.PLAN.levels), size from the power calculation
    "calibrated": (PLAN.levels.calibrated, PLAN.sizes.calibrated_size, CALIBRATED_SEED),
}
#: the benchmark roles, fixed whatever a pilot says: the pilot's problems avoid them (:func:`pilot_problems`)
ROLE_SETS = ("easy", "medium", "hard")
MAX_ABS_VALUE = 99
MAX_MUL_OPERAND = 9


@dataclass(frozen=True)
class Problem:
    """One arithmetic problem with its worked solution.

    Attributes:
        id: stable identifier, ``"L{level}-{hash}"``.
        level: difficulty level (key of :data:`LEVELS`).
        expression: canonical expression, tokens separated by single spaces.
        steps: the expression after each reduction; the last one is the answer.
        answer: the final integer.
        question: the user-facing question.
    """

    id: str
    level: int
    expression: str
    steps: tuple[str, ...]
    answer: int
    question: str

    @property
    def solution(self) -> str:
        """The worked chain ``expr = step1 = ... = answer``."""
        return " = ".join((self.expression, *self.steps))


# ------------------------------------------------------------------ expression trees
# A node is an int (leaf) or a tuple (op, left, right).


def _value(node) -> int:
    if isinstance(node, int):
        return node
    op, a, b = node
    x, y = _value(a), _value(b)
    return x + y if op == "+" else x - y if op == "-" else x * y


def _render(node, parent_prec: int = 0, right: bool = False) -> str:
    if isinstance(node, int):
        return str(node)
    op, a, b = node
    text = f"{_render(a, _PREC[op])} {op} {_render(b, _PREC[op], right=True)}"
    if _PREC[op] < parent_prec or (right and _PREC[op] == parent_prec):
        return f"( {text} )"
    return text


def _reduce_once(node):
    """Evaluate the first operation in post-order (the usual evaluation order)."""
    op, a, b = node
    if not isinstance(a, int):
        return (op, _reduce_once(a), b)
    if not isinstance(b, int):
        return (op, a, _reduce_once(b))
    return _value(node)


def _ok(node, spec: LevelSpec) -> bool:
    """Value range, multiplication operand and sign constraints on every sub-expression."""
    if isinstance(node, int):
        return True
    op, a, b = node
    if not (_ok(a, spec) and _ok(b, spec)):
        return False
    x, y, v = _value(a), _value(b), _value(node)
    if op == "*" and (abs(x) > MAX_MUL_OPERAND or abs(y) > MAX_MUL_OPERAND):
        return False
    if abs(v) > MAX_ABS_VALUE:
        return False
    return spec.negatives or v >= 0


def _random_tree(rng: random.Random, n_ops: int, spec: LevelSpec):
    if n_ops == 0:
        return rng.randint(1, spec.max_leaf)
    op = rng.choice("+-*")
    n_left = rng.randint(0, n_ops - 1)
    left = _random_tree(rng, n_left, spec)
    right = _random_tree(rng, n_ops - 1 - n_left, spec)
    if op == "*":  # keep times-table leaves small so that products stay learnable
        left = rng.randint(2, MAX_MUL_OPERAND) if isinstance(left, int) else left
        right = rng.randint(2, MAX_MUL_OPERAND) if isinstance(right, int) else right
    return (op, left, right)


def split_of(expression: str) -> Split:
    """Which split a canonical expression belongs to (hash bucket; disjoint by construction)."""
    bucket = int(hashlib.sha1(expression.encode()).hexdigest()[:8], 16) % 100
    return "eval" if bucket < EVAL_BUCKET_PERCENT else "train"


def _problem(tree, level: int, rng: random.Random) -> Problem:
    expression = _render(tree)
    steps, node = [], tree
    while not isinstance(node, int):
        node = _reduce_once(node)
        steps.append(_render(node))
    pid = f"L{level}-{hashlib.sha1(expression.encode()).hexdigest()[:10]}"
    question = rng.choice(_QUESTION_TEMPLATES).format(e=expression)
    return Problem(pid, level, expression, tuple(steps), int(node), question)


def generate_problem(rng: random.Random, level: int, split: Split = "train", max_tries: int = 10_000) -> Problem:
    """Draw one problem of ``level`` from ``split`` using ``rng`` (rejection sampling)."""
    if level not in LEVELS:
        raise ValueError(f"unknown difficulty level {level}; choose one of {sorted(LEVELS)}")
    if split not in ("train", "eval"):
        raise ValueError(f"unknown split {split!r}; use 'train' or 'eval'")
    spec = LEVELS[level]
    for _ in range(max_tries):
        tree = _random_tree(rng, spec.n_ops, spec)
        if not _ok(tree, spec):
            continue
        text = _render(tree)
        has_parens = "(" in text
        if (spec.parens is False and has_parens) or (spec.parens == "required" and not has_parens):
            continue
        if split_of(text) != split:
            continue
        return _problem(tree, level, rng)
    raise RuntimeError(f"could not draw a level-{level} problem in {max_tries} tries")  # pragma: no cover


def make_problems(n: int, levels: tuple[int, ...] | list[int], seed: int, split: Split = "train",
                  weights: tuple[float, ...] | list[float] | None = None, unique: bool = False,
                  exclude: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """``n`` problems with levels drawn from ``levels`` (uniformly or by ``weights``), none of whose
    expressions is in ``exclude``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    levels = tuple(levels)
    if not levels:
        raise ValueError("levels must not be empty")
    rng = random.Random(f"{seed}-{split}-{levels}")
    out: list[Problem] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(f"cannot draw {n} unique problems from levels {levels} ({split} split)")
        level = rng.choices(levels, weights=weights)[0] if weights else levels[len(out) % len(levels)]
        p = generate_problem(rng, level, split)
        if (unique and p.expression in seen) or p.expression in exclude:
            continue
        seen.add(p.expression)
        out.append(p)
    return out


def to_record(p: Problem) -> dict:
    """A flat row: id, level, difficulty, question, expression, solution, answer (str)."""
    row = asdict(p)
    row.pop("steps")
    row["solution"] = p.solution
    row["answer"] = str(p.answer)
    row["difficulty"] = difficulty_of(p.level)
    return row


def difficulty_of(level: int) -> str:
    for name, (levels, _, _) in EVAL_SETS.items():
        if level in levels:
            return name
    raise ValueError(f"unknown difficulty level {level}")


def make_dataset(n: int, levels: tuple[int, ...] | list[int], seed: int, split: Split = "train",
                 weights: tuple[float, ...] | list[float] | None = None, unique: bool = False):
    """:func:`make_problems` as a ``datasets.Dataset`` (columns of :func:`to_record`)."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    rows = [to_record(p) for p in make_problems(n, levels, seed, split, weights, unique)]
    return Dataset.from_list(rows)


def eval_set(name: str):
    """One of the fixed eval sets (:data:`EVAL_SETS`) as a ``datasets.Dataset``."""
    if name not in EVAL_SETS:
        raise ValueError(f"unknown organism eval set {name!r}; choose one of {sorted(EVAL_SETS)}")
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    levels, size, seed = EVAL_SETS[name]
    # a set chosen from the pilot holds none of the pilot's problems (the choice is not the result)
    exclude = set() if name in ROLE_SETS else {
        p.expression for lv in levels
        for p in pilot_problems(lv, PLAN.levels.pilot_problems, PLAN.levels.pilot_seed, role_expressions())}
    # every row is labelled with the set it belongs to (a level may sit in two sets, e.g. calibrated)
    rows = [{**to_record(p), "difficulty": name}
            for p in make_problems(size, levels, seed, "eval", unique=True, exclude=exclude)]
    return Dataset.from_list(rows)


#: problems of each benchmark-role set when the difficulty pilot ran (2026-12-03): the pilot avoided these;
#: an enlarged set (``plan.PLAN.sizes``) keeps them as its first problems
PILOT_ROLE_SIZE = 100


def role_expressions() -> set[str]:
    """The expressions of the benchmark-role sets (:data:`ROLE_SETS`) as the pilot saw them (their first
    :data:`PILOT_ROLE_SIZE` problems): what the pilot does not use."""
    out: set[str] = set()
    for name in ROLE_SETS:
        levels, _, seed = EVAL_SETS[name]
        out |= {p.expression for p in make_problems(PILOT_ROLE_SIZE, levels, seed, split="eval", unique=True)}
    return out


def pilot_problems(level: int, n: int, seed: int, exclude: set[str] | None = None) -> list[Problem]:
    """Up to ``n`` distinct eval-split problems of ``level`` drawn with ``seed``, none in ``exclude``
    (the difficulty pilot's problems, ``organism.levels``).

    Fewer when the level's eval split runs out (level 1 holds about 80 expressions, half of them in
    the easy set).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown difficulty level {level}; choose one of {sorted(LEVELS)}")
    if seed in {s for _, _, s in EVAL_SETS.values()}:
        raise ValueError(f"pilot seed {seed} is the seed of a fixed eval set; choose another")
    rng = random.Random(f"pilot-{seed}-{level}")
    out: list[Problem] = []
    seen = set(exclude or ())
    for _ in range(200 * n + 2000):
        if len(out) == n:
            break
        p = generate_problem(rng, level, "eval")
        if p.expression not in seen:
            seen.add(p.expression)
            out.append(p)
    return out


#: the generated circuit question sets, ``organism/<name>`` -> levels (size and seed from ``plan.PLAN``):
#: ``circuit`` (AIME'24's role) and ``circuit2`` (AMC's, ``plan.PLAN.second_set``; none of ``circuit``'s problems)
CIRCUIT_SET = "circuit"
CIRCUIT_SETS: dict[str, tuple[int, ...]] = {CIRCUIT_SET: PLAN.levels.circuit, "circuit2": PLAN.levels.second_circuit}


@functools.lru_cache(maxsize=8)
def circuit_problems(size: int, levels: tuple[int, ...], seed: int,
                     exclude: frozenset[str] = frozenset()) -> tuple[Problem, ...]:
    """``size`` distinct problems of ``levels`` (cycled: level ``levels[i % len(levels)]`` at position
    ``i``) from the eval split, none with the expression of a problem of an eval set
    (:data:`EVAL_SETS`) or in ``exclude``: the questions circuits are built on, never those pass@1 is scored on."""
    if size < 1:
        raise ValueError(f"circuit question set size must be >= 1, got {size}")
    taken = {e for name in EVAL_SETS for e in eval_set(name)["expression"]} | set(exclude)  # as the sets are drawn
    rng = random.Random(f"circuit-{seed}-{tuple(levels)}")
    out: list[Problem] = []
    for _ in range(50 * size + 1000):
        if len(out) == size:
            return tuple(out)
        p = generate_problem(rng, levels[len(out) % len(levels)], "eval")
        if p.expression not in taken:
            taken.add(p.expression)
            out.append(p)
    if len(out) == size:
        return tuple(out)
    raise ValueError(f"cannot draw {size} distinct circuit problems of levels {levels}")


def circuit_set(name: str = CIRCUIT_SET):
    """A circuit question set of the analysis plan (:data:`CIRCUIT_SETS`; ``plan.PLAN.circuits``: ``n_questions *
    n_samples`` problems, seed ``plan.PLAN.stats.seed``) as a ``datasets.Dataset``."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    return Dataset.from_list([to_record(p) for p in _plan_circuit_problems(name)])


def eval_problems(name: str) -> list[EvalProblem]:
    """The fixed eval set ``name`` (``easy | medium | hard | calibrated``) as evaluation problems: what
    ``organism/<name>`` loads (``evaluation.datasets.EVAL_SETS``, entry point ``organism``); ``circuit``
    and ``circuit2`` are the analysis plan's circuit question sets (:func:`circuit_set`)."""
    if name in CIRCUIT_SETS:
        return [EvalProblem(id=p.id, question=p.question, answer=gold_from_answer(str(p.answer)), difficulty=name)
                for p in _plan_circuit_problems(name)]
    return [EvalProblem(id=str(item.get("id", f"organism-{name}-{i:05d}")), question=str(item["question"]),
                    answer=gold_from_answer(item["answer"]), difficulty=str(item.get("difficulty", name)))
            for i, item in enumerate(eval_set(name))]


def _plan_circuit_problems(name: str = CIRCUIT_SET) -> tuple[Problem, ...]:
    size, seed = PLAN.circuits.n_questions * PLAN.circuits.n_samples, PLAN.stats.seed
    first = circuit_problems(size, tuple(PLAN.levels.circuit), seed)
    if name == CIRCUIT_SET:
        return first
    return circuit_problems(size * PLAN.second_set.question_scale, tuple(CIRCUIT_SETS[name]), seed,
                            frozenset(p.expression for p in first))
