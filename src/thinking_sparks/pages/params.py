"""Page parameters: the notebook literals checked against a page's ``Params`` dataclass.

Each page module of :mod:`thinking_sparks.pages` declares ``Params`` once; a notebook's parameters
cell holds its defaults as literals (:func:`parameters_cell` writes them; a test checks that every
notebook's cell equals it), the next cell calls :func:`validate`, and ``sparks batch`` checks a
grid's jobs with :func:`make_params` before anything runs. A wrong name or type is one
``ValueError`` line.

Shared here: :class:`CircuitInputs` (the circuit fields of pages 03-06) and :class:`HeadPageParams`
(what the pages that intervene on heads, 05 and 06, share).
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any

from thinking_sparks import runtime
from thinking_sparks.circuits.config import CircuitConfig
from thinking_sparks.emergence.pairs import PairParams, prefix_sampling
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.organism.config import PROFILES, profile
from thinking_sparks.pages import params_class
from thinking_sparks.plan import PLAN


def validate(section: str, **values: Any):
    """Build the section's params from notebook literals; also sets up threads/logging."""
    check_names(section, values)
    _quiet_notebook_output()  # before a params class imports tqdm (through trl or datasets)
    params = make_params(section, values)
    runtime.setup(threads=getattr(params, "threads", 0) or None, level=logging.WARNING)
    return params


def check_names(section: str, values: dict[str, Any]) -> None:
    """Raise ``ValueError`` for a section without a params class or a parameter it does not have."""
    names = {f.name for f in dataclasses.fields(params_class(section))}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{section}: unknown parameters {sorted(unknown)}; known: {sorted(names)}")


def make_params(section: str, values: dict[str, Any]):
    """The section's params from ``values`` (no side effects): names, literal types, then the
    class's own checks; any mismatch is one ``ValueError`` line."""
    check_names(section, values)
    cls = params_class(section)
    values = _nulls(cls, values)
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if not _matches(value, hints.get(name, Any)):
            raise ValueError(f"{section}: {name} must be {_type_name(hints[name])}, got {value!r}")
    return cls(**values)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML/notebook literal fits a field annotation (unknown annotations pass)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    return True


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint).replace("typing.", "")


#: strings that mean "no value" for an optional parameter: papermill's ``-p NAME null`` passes the
#: string "null" (only ``-p NAME None`` or ``-y "NAME: null"`` give None)
NULLS = ("null", "None", "none", "~")


def _nulls(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``"null"``-like strings turned into None for the optional fields of ``cls``."""
    optional = {f.name for f in dataclasses.fields(cls) if "None" in str(f.type)}
    return {k: None if k in optional and isinstance(v, str) and v.strip() in NULLS else v for k, v in values.items()}


def _quiet_notebook_output() -> None:
    """Keep book pages free of widget warnings and transformers' advice (``runtime.setup`` at
    WARNING level turns the progress bars off)."""
    warnings.filterwarnings("ignore", message="IProgress not found")  # before tqdm.auto is imported
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _check_runs(profile_name: str, runs: list[str], what: str) -> dict:
    """The profile's run table, once ``profile_name`` is a profile and every one of ``runs`` its run."""
    if profile_name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile_name!r}")
    table = profile(profile_name)
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"{what} {unknown} are not runs of profile {profile_name!r}: {', '.join(table)}")
    return table


def _check_circuit_fields(p) -> None:
    if not isinstance(p.n_questions, int) or p.n_questions < 4:
        raise ValueError(f"n_questions must be an integer >= 4, got {p.n_questions!r}")
    if p.rule not in ("left", "right"):
        raise ValueError(f"rule must be 'left' (k = 0..m-1) or 'right' (k = 1..m, the paper's), got {p.rule!r}")
    _check_positive(p, "steps", optional=("answer_tokens", "top_n"))


def _check_positive(p, *names: str, optional: tuple[str, ...] = ()) -> None:
    """Each field in ``names`` must be a positive integer, each in ``optional`` one or None."""
    for name in names + optional:
        value = getattr(p, name)
        if name in optional and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer{' or None' if name in optional else ''}, "
                             f"got {value!r}")


@dataclass
class CircuitInputs:
    """The circuit fields every head page shares (03–06), with their checks.

    Attributes:
        profile: zoo profile (``full``; ``tiny`` for tests).
        dataset, n_questions, answer_tokens: circuit questions and answer-prefix cap (see
            ``emergence.pairs``). ``dataset`` None: the analysis plan's circuit question set
            (``plan.PLAN.circuits.question_set``, ``organism/circuit``) on the full profile, and
            ``organism/hard`` on the tiny test profile (its stored expectations were computed there);
            ``n_questions``: the plan's ``circuits.n_questions`` (512).
        steps: EAP-IG steps m.
        rule: Riemann rule of the IG path, ``left`` (alpha = k/m, k = 0..m-1: the reference
            library's, which ``../shared/bench`` matches) or ``right`` (k = 1..m: the paper's Eq. 3).
        top_n: edges kept (None: the paper's 5000 / 183,555 of the graph).
        build: build missing zoo runs first.
        device, threads: as everywhere.
    """

    profile: str = "full"
    dataset: str | None = None
    n_questions: int = PLAN.circuits.n_questions
    answer_tokens: int | None = 24
    steps: int = 5
    rule: str = "left"
    top_n: int | None = None
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        _check_circuit_fields(self)


@dataclass
class HeadPageParams(CircuitInputs):
    """What the pages that intervene on heads (05, 06) share: circuit inputs, head sets, sampling.

    Attributes (besides :class:`CircuitInputs`'):
        k: heads per set intervened on (the paper uses about 5-10).
        eval_sets: the sets pass@1 is measured on, easiest first (Table 5's claims compare the
            first with the last): names (``organism/easy``, any prefix of
            ``evaluation.datasets.SET_PROVIDERS``) or JSON-lines paths.
        n, limit, temperature, top_p, top_k, max_new_tokens: sampling for pass@1 (n per problem,
            first ``limit`` problems of each set: the plan's ``sizes.head_k``, ``sizes.head_problems``; the paper's T 0.6, top-p 0.95; Qwen3 thinking
            adds top-k 20; ``top_k`` 0 = off).
        n_boot: bootstrap resamples for CIs and verdicts.
    """

    k: int = 5
    eval_sets: list[str] = field(default_factory=lambda: ["organism/easy", "organism/medium", "organism/hard"])
    n: int = PLAN.sizes.head_k
    limit: int | None = PLAN.sizes.head_problems
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 128
    n_boot: int = 1000

    def __post_init__(self):
        super().__post_init__()
        _check_positive(self, "k", "n", "max_new_tokens", "n_boot", optional=("limit",))
        if not self.eval_sets or not all(isinstance(s, str) and s.strip() for s in self.eval_sets):
            raise ValueError(f"eval_sets must be a non-empty list of set names or JSONL paths, got {self.eval_sets!r}")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise ValueError(f"top_k must be a non-negative integer (0: off), got {self.top_k!r}")

    def _eval_params(self, dataset: str, n: int, limit: int | None):
        sampling = SamplingConfig(n=n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                                  max_new_tokens=self.max_new_tokens, batch_size=64)
        return EvalParams(dataset=dataset, sampling=sampling, limit=limit, n_boot=self.n_boot)


def defaults(cls: type) -> dict[str, Any]:
    """``{name: default}`` of a ``Params`` dataclass, in field order."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            raise TypeError(f"{cls.__qualname__}.{f.name} has no default: a page parameter needs one")
    return out


def parameters_cell(section: str) -> str:
    """The source of notebook ``section``'s papermill parameters cell: ``name = literal`` per field of
    its ``Params``, defaults as declared (a test checks each notebook's cell equals this)."""
    return "\n".join(f"{name} = {value!r}" for name, value in defaults(params_class(section)).items())


def params_from(cls: type, parameters: dict[str, Any]):
    """``cls`` built from the entries of ``parameters`` that are its fields (no type check: the
    book passes one parameter set to every page)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**_nulls(cls, {k: v for k, v in parameters.items() if k in names}))


def circuit_dataset(p) -> str:
    """The circuit questions of a page's :class:`CircuitInputs`: its ``dataset``, or the default of
    its profile (see :class:`CircuitInputs`)."""
    if p.dataset is not None:
        return p.dataset
    return PLAN.circuits.question_set if p.profile == "full" else "organism/hard"


def emergence_settings(p):
    """``(PairParams, CircuitConfig)`` of a page's :class:`CircuitInputs` (the inclusion bootstrap
    takes the page's ``n_boot`` when it has one)."""
    pairs = PairParams(dataset=circuit_dataset(p), n_questions=p.n_questions, answer_tokens=p.answer_tokens,
                       sampling=prefix_sampling(p.answer_tokens), reasoning_side=getattr(p, "reasoning_side", "own"))
    return pairs, CircuitConfig(steps=p.steps, top_n=p.top_n, rule=p.rule, n_boot=getattr(p, "n_boot", 100))


def from_notebook(section: str, namespace: dict[str, Any]):
    """:func:`validate` on the values of the parameters cell, read from the notebook's globals.

    A notebook's second cell is ``params = from_notebook("04_emergence", globals())``: the names come
    from the page's ``Params``, so they are written once.
    """
    _quiet_notebook_output()  # before params_class imports the page module (and through it tqdm)
    names = [f.name for f in dataclasses.fields(params_class(section))]
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ValueError(f"{section}: the parameters cell lacks {missing}")
    return validate(section, **{n: namespace[n] for n in names})
