"""The models a page studies, named once: an organism run, or a user's base and checkpoints.

Pages 03-06 take their models as *run values* (papermill literals), resolved here into one typed
:class:`ModelRun` each:

=====================================================  =============================================
``"sft"``                                              a run of the organism zoo's ``profile``: its
                                                       parent's final checkpoint is the base, its
                                                       saved steps the checkpoints
``{"base": SPEC, "checkpoints": SPEC | [SPEC, ...]}``  a user's run; a checkpoints SPEC that is a
                                                       directory of TRL ``checkpoint-N`` folders
                                                       expands to them (by step); any other spec (a
                                                       local dir, a hub name, ``organism/...``,
                                                       ``real/...``) is one checkpoint
``{"model": SPEC}``                                    one model (its final checkpoint only), with
                                                       or without a ``base``
=====================================================  =============================================

A mapping may also give ``kind`` (:data:`KINDS`: which of the paper's methods the run is; the
verdicts and the SFT-vs-GRPO figures pick runs by it). :func:`check_value` checks a value's shape
without touching the disk (the params classes call it, so a grid file is checked on a machine
without the weights); :func:`resolve` finds the checkpoints (one-line ``ValueError`` /
``FileNotFoundError`` when something is missing). Organism runs resolve to exactly the spec strings
the pages always used, so their cached circuits and evaluations keep their keys.

    runs = resolve_runs({"sft": "sft", "mine": {"base": "Qwen/Qwen2.5-Math-1.5B",
                                                 "checkpoints": "/ckpt/sft", "kind": "sft"}}, "full")
    runs["mine"].checkpoints  # ('/ckpt/sft/checkpoint-100', '/ckpt/sft/checkpoint-200', ...)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from thinking_sparks.models import checkpoint_dirs, step_of
from thinking_sparks.organism import config, zoo
from thinking_sparks.organism.config import PROFILES
from thinking_sparks.organism.config import profile as table_of

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: the paper's post-training methods (and ``pretrain`` for a base, ``other`` for anything else)
KINDS = ("sft", "grpo", "distill", "hybrid", "pretrain", "other")
_KEYS = ("base", "checkpoints", "model", "kind")
#: per claim role, the organism run the book's verdicts use when present (else the first run of the kind)
ROLE_DEFAULTS = {"sft": "sft", "distill": "distill", "grpo": "grpo-hard"}


@dataclass(frozen=True)
class ModelRun:
    """One run of models as a page studies it.

    Attributes:
        label: the page's name for it (a column value, a chart title).
        base: spec of the model it was post-trained from (None: not given / a base itself).
        checkpoints: specs in training order (at least one).
        final: the spec analysed as "the" post-trained model (organism: ``<run>@final``; else the
            last checkpoint).
        kind: one of :data:`KINDS`.
        profile, run: the organism profile and run name (None for a user's run).
    """

    label: str
    base: str | None
    checkpoints: tuple[str, ...]
    final: str
    kind: str = "other"
    profile: str | None = None
    run: str | None = None

    @property
    def is_organism(self) -> bool:
        return self.run is not None

    def checkpoint(self, step: str | int = "final") -> str:
        """The spec of checkpoint ``step`` (``final``, or a step number a checkpoint's spec names)."""
        if str(step) == "final":
            return self.final
        if self.is_organism:
            return f"organism/{self.profile}/{self.run}@{step}"
        found = [c for c in self.checkpoints if str(step_of(c, -1)) == str(step)]
        if not found:
            steps = ", ".join(str(step_of(c, -1)) for c in self.checkpoints)
            raise ValueError(f"{self.label}: no checkpoint at step {step!r} (steps: {steps}, or final)")
        return found[0]


# ------------------------------------------------------------------ checking (no disk)


def check_value(value: Any, what: str, profile: str, need_base: bool = False) -> None:
    """Raise one ``ValueError`` line when ``value`` is not a run value (module docstring).

    ``need_base``: the run must be post-trained from a base (an organism run with a parent, a
    mapping with ``base``). Organism names are checked against ``profile``'s run table.
    """
    if isinstance(value, str):
        _check_organism_list([value], what, profile, need_base)
        return
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an organism run name or a mapping {{base: SPEC, checkpoints: SPEC}}, "
                         f"got {value!r}")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; a run mapping has {', '.join(_KEYS)}")
    if ("checkpoints" in value) == ("model" in value):
        raise ValueError(f"{what}: give checkpoints: (a spec or a list) or model: (one spec), not "
                         f"{'both' if 'model' in value else 'neither'}")
    ckpts = value.get("checkpoints", value.get("model"))
    items = ckpts if isinstance(ckpts, list) else [ckpts]
    if not items or not all(isinstance(s, str) and s.strip() for s in items):
        raise ValueError(f"{what}: checkpoints must be a non-empty spec string or list of them, got {ckpts!r}")
    if "base" in value and not (isinstance(value["base"], str) and value["base"].strip()):
        raise ValueError(f"{what}: base must be a non-empty model spec, got {value['base']!r}")
    if need_base and "base" not in value:
        raise ValueError(f"{what}: needs a base: (the model it was post-trained from)")
    if value.get("kind", "other") not in KINDS:
        raise ValueError(f"{what}: kind must be one of {', '.join(KINDS)}, got {value.get('kind')!r}")


def check_values(values: Any, what: str, profile: str, need_base: bool = False) -> None:
    """:func:`check_value` for a list of organism names or a mapping ``label -> run value``."""
    if isinstance(values, Mapping):
        if not values:
            raise ValueError(f"{what} must name at least one run")
        for label, value in values.items():
            if not isinstance(label, str) or not label.strip():
                raise ValueError(f"{what}: labels must be non-empty strings, got {label!r}")
            check_value(value, f"{what}[{label}]", profile, need_base)
        return
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{what} must be a non-empty list of organism runs or a mapping label -> run")
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what}: a list holds organism run names; use a mapping label -> {{base, checkpoints}}")
    _check_organism_list(list(values), what, profile, need_base)


def _check_organism_list(runs: list[str], what: str, profile: str, need_base: bool) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    table = table_of(profile)
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"{what} {unknown} are not runs of profile {profile!r}: {', '.join(table)} (a model of "
                         "your own: a mapping {base: SPEC, checkpoints: SPEC})")
    no_parent = [r for r in runs if not table[r].parent]
    if need_base and no_parent:
        raise ValueError(f"{what} {no_parent} are not post-trained from a base; choose from "
                         f"{', '.join(r for r in table if table[r].parent)}")


def organism_names(*values: Any) -> list[str]:
    """The organism run names among run values (lists, mappings, single values; None skipped)."""
    out: list[str] = []
    for v in values:
        items = v.values() if isinstance(v, Mapping) and not _is_run_mapping(v) else v if isinstance(v, list) else [v]
        out += [x for x in items if isinstance(x, str)]
    return list(dict.fromkeys(out))


def _is_run_mapping(v: Mapping) -> bool:
    return bool(set(v) & {"checkpoints", "model"})


# ------------------------------------------------------------------ resolving (disk)


def expand(spec: str) -> list[str]:
    """A checkpoints spec as a list: a directory of TRL ``checkpoint-N`` folders (and no
    ``config.json`` of its own) -> those folders by step; anything else -> ``[spec]``."""
    p = Path(spec.strip()).expanduser()
    if p.is_dir() and not (p / "config.json").exists():
        return checkpoint_dirs(p)
    return [spec.strip()]


def resolve(label: str, value: Any, profile: str) -> ModelRun:
    """The :class:`ModelRun` of one run value (checked first; organism runs must be built)."""
    check_value(value, label, profile)
    if isinstance(value, str):
        return _organism(label, value, profile)
    ckpts = value.get("checkpoints", value.get("model"))
    specs = [s for item in (ckpts if isinstance(ckpts, list) else [ckpts]) for s in expand(item)]
    if "model" in value:
        specs = specs[-1:]
    base = value.get("base")
    return ModelRun(label, base.strip() if base else None, tuple(specs), specs[-1], value.get("kind", "other"))


def _organism(label: str, run: str, profile: str) -> ModelRun:
    spec = config.profile(profile)[run]
    steps = zoo.checkpoint_steps(zoo.run_dir(profile, run))
    if not steps:
        raise FileNotFoundError(f"organism run {profile}/{run} is not built; run `sparks zoo build --profile "
                                f"{profile}` (or set build = True)")
    base = f"organism/{profile}/{spec.parent}@final" if spec.parent else None
    return ModelRun(label, base, tuple(f"organism/{profile}/{run}@{s}" for s in steps),
                    f"organism/{profile}/{run}@final", spec.kind, profile, run)


def resolve_roles(profile: str, **values: Any) -> dict[str, ModelRun | None]:
    """``role -> ModelRun`` (None where the value is None), each labelled by its organism run name
    or, for a mapping, by its role: ``resolve_roles("full", model="distill", base={"model": SPEC})``."""
    return {role: None if v is None else resolve(v if isinstance(v, str) else role, v, profile)
            for role, v in values.items()}


def resolve_runs(values: Any, profile: str) -> dict[str, ModelRun]:
    """``label -> ModelRun`` of a list of organism names (each its own label) or a mapping."""
    items = values.items() if isinstance(values, Mapping) else ((v, v) for v in values)
    return {label: resolve(label, value, profile) for label, value in items}


def build_organism(profile: str, *values: Any, quiet: bool = True) -> None:
    """Build the organism runs named among ``values`` (nothing when they name none)."""
    names = organism_names(*values)
    if names:
        from thinking_sparks.organism import zoo

        zoo.build(profile, runs=names, quiet=quiet)


# ------------------------------------------------------------------ what pages pick by kind


def claim_roles(runs: Mapping[str, ModelRun]) -> dict[str, str]:
    """``role -> label`` for the §4 claims (``sft``, ``distill``, ``grpo``): the organism's usual run
    (:data:`ROLE_DEFAULTS`) when present, else the first run of that kind."""
    out = {}
    for role, default in ROLE_DEFAULTS.items():
        if default in runs and runs[default].kind == role:
            out[role] = default
        else:
            out[role] = next((label for label, r in runs.items() if r.kind == role), "")
    return out


def reward_curve(run: ModelRun) -> pd.DataFrame | None:
    """``step, accuracy`` of a GRPO run's accuracy reward, where its training log exists: the
    organism's ``log.csv``, or TRL's ``trainer_state.json`` in the final checkpoint folder
    (``log_history`` entries with an accuracy reward). None when there is none."""
    if run.is_organism:
        from thinking_sparks.organism import grpo, zoo

        path = zoo.run_dir(run.profile, run.run) / "log.csv"
        curve = grpo.reward_curve(path) if path.exists() else None
        return curve if curve is not None and "accuracy" in curve else None
    state = Path(run.final).expanduser() / "trainer_state.json"
    if not state.is_file():
        return None
    return trl_accuracy(json.loads(state.read_text()).get("log_history", []))


def trl_accuracy(history: Sequence[Mapping[str, Any]]) -> pd.DataFrame | None:
    """``step, accuracy`` from TRL log entries (``rewards/<name with accuracy>[/mean]``)."""
    rows = []
    for entry in history:
        keys = [k for k in entry if re.fullmatch(r"rewards/[^/]*accuracy[^/]*(/mean)?", k)]
        if keys and "step" in entry:
            rows.append({"step": int(entry["step"]), "accuracy": float(entry[min(keys)])})
    return pd.DataFrame(rows) if rows else None


__all__ = ["KINDS", "ModelRun", "build_organism", "check_value", "check_values", "claim_roles", "expand",
           "organism_names", "resolve", "resolve_roles", "resolve_runs", "reward_curve", "trl_accuracy"]
