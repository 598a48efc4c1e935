"""Notebook stems -> params classes and book titles; validating a notebook's literals.

:func:`validate` is the call in every notebook's second cell; :func:`make_params` is the same check
without side effects (used by ``sparks batch`` before any job runs).
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from typing import Any

from thinking_sparks import runtime
from thinking_sparks.runs.params import (CircuitsParams, EmergenceParams, InterventionsParams, ModelsParams,
                                         OrganismParams, RealModelParams, ThinkingParams)

#: notebook stem -> (params class, book title)
SECTIONS: dict[str, tuple[type, str]] = {
    "01_models": (ModelsParams, "The models under study"),
    "02_organism": (OrganismParams, "A model organism of reasoning post-training"),
    "03_circuits": (CircuitsParams, "One circuit from the ground up"),
    "04_emergence": (EmergenceParams, "Emergent heads along post-training"),
    "05_interventions": (InterventionsParams, "Ablating and scaling heads"),
    "06_thinking_modes": (ThinkingParams, "Thinking on and off"),
    "07_real_model": (RealModelParams, "A real model: SmolLM2-135M post-trained and traced"),
}


def validate(section: str, **values: Any):
    """Build the section's params from notebook literals; also sets up threads/logging."""
    check_names(section, values)
    _quiet_notebook_output()  # before a params class imports tqdm (through trl or datasets)
    params = make_params(section, values)
    runtime.setup(threads=getattr(params, "threads", 0) or None, level=logging.WARNING)
    return params


def check_names(section: str, values: dict[str, Any]) -> None:
    """Raise ``ValueError`` for a section without a params class or a parameter it does not have."""
    if section not in SECTIONS:
        raise ValueError(f"no parameters class for notebook {section!r}; known: {', '.join(SECTIONS)}")
    names = {f.name for f in dataclasses.fields(SECTIONS[section][0])}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{section}: unknown parameters {sorted(unknown)}; known: {sorted(names)}")


def make_params(section: str, values: dict[str, Any]):
    """The section's params from ``values`` (no side effects): names, literal types, then the
    class's own checks; any mismatch is one ``ValueError`` line."""
    check_names(section, values)
    cls = SECTIONS[section][0]
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
    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found")  # before tqdm.auto is imported
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _params(cls: type, parameters: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**_nulls(cls, {k: v for k, v in parameters.items() if k in names}))


def emergence_settings(p):
    """``(PairParams, CircuitSettings)`` of a :class:`CircuitsParams` or :class:`EmergenceParams`."""
    from thinking_sparks.emergence.pairs import PairParams
    from thinking_sparks.emergence.sweep import CircuitSettings

    pairs = PairParams(dataset=p.dataset, n_questions=p.n_questions, answer_tokens=p.answer_tokens,
                       max_new_tokens=max(32, p.answer_tokens or 0), reasoning_side=getattr(p, "reasoning_side", "own"))
    return pairs, CircuitSettings(steps=p.steps, top_n=p.top_n, rule=p.rule, n_boot=getattr(p, "n_boot", 100))
