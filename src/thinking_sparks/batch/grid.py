"""The grid file: a notebook, its parameters (a cartesian product or a list of jobs), checked
against the notebook's params class before anything runs; stable job names."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinking_sparks import runs, runtime

GRID_KEYS = ("notebook", "parameters", "fixed", "jobs", "resources")


@dataclass
class Job:
    """One notebook execution: a stable ``name`` derived from its papermill ``parameters``."""

    name: str
    parameters: dict[str, Any]


@dataclass
class Grid:
    """A parsed grid file whose every job passed the notebook's params class.

    Attributes:
        notebook: the notebook file; ``section`` its stem (a key of ``pages.PAGES``).
        label: the notebook as the grid file names it (written to ``status.csv``).
        jobs: in grid order (the cartesian product varies the last parameter fastest).
        resources: Dask worker resources each job holds, e.g. ``{"GPU": 1}``.
        varying: the parameters whose values differ between jobs (in grid order).
    """

    notebook: Path
    section: str
    label: str
    jobs: list[Job]
    resources: dict[str, float] = field(default_factory=dict)
    varying: list[str] = field(default_factory=list)


def load_grid(path: str | Path) -> Grid:
    """Parse and check a grid file; any problem is one ``ValueError`` line naming the file."""
    import yaml  # deferred: yaml is heavy or optional, loaded only here

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no grid file {path}")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a grid file is a mapping with keys {', '.join(GRID_KEYS)}")
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a grid file has {', '.join(GRID_KEYS)}")
    label = spec.get("notebook")
    notebook = _find_notebook(label, path)
    fixed = _mapping(spec.get("fixed") or {}, "fixed", path)
    if ("parameters" in spec) == ("jobs" in spec):
        raise ValueError(f"{path}: give parameters: (a grid) or jobs: (a list), not "
                         f"{'both' if 'jobs' in spec else 'neither'}")
    if "parameters" in spec:
        axes = _mapping(spec["parameters"], "parameters", path)
        for name, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{path}: parameters.{name} must be a non-empty list of values "
                                 "(a single value goes under fixed:)")
        both = sorted(set(axes) & set(fixed))
        if both:
            raise ValueError(f"{path}: {both} given under both parameters: and fixed:")
        combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    else:
        combos = spec["jobs"]
        if not isinstance(combos, list) or not combos or not all(isinstance(c, dict) for c in combos):
            raise ValueError(f"{path}: jobs must be a non-empty list of parameter mappings")
    parameters = [{**fixed, **c} for c in combos]
    for i, values in enumerate(parameters, 1):
        try:
            runs.make_params(notebook.stem, values)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: job {i} {json.dumps(combos[i - 1], default=str)}: {err}") from None
    varying = _varying(parameters)
    jobs = [Job(job_name(notebook.stem, p, varying), p) for p in parameters]
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs, 1):
        if job.name in seen:
            raise ValueError(f"{path}: jobs {seen[job.name]} and {i} have the same parameters")
        seen[job.name] = i
    return Grid(notebook, notebook.stem, str(label), jobs, _resources(spec.get("resources"), path), varying)


def job_name(section: str, parameters: dict[str, Any], varying: list[str]) -> str:
    """``<section>__<name>=<value>..__<hash8>``: readable from the parameters that vary across the
    grid, unique by a hash of all of them (so a changed ``fixed:`` value names new outputs)."""
    text = json.dumps({"notebook": section, "parameters": parameters}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    parts = [f"{k}={_slug(parameters[k])}" for k in varying[:4] if k in parameters]
    return "__".join([section, *parts, digest])


def _slug(value: Any, keep: int = 32) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"
    return text[-keep:]  # the tail: a path's or a spec's last part is the telling one


def _varying(parameters: list[dict[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(k for p in parameters for k in p))
    same = lambda k: len({json.dumps(p.get(k, "\0missing"), sort_keys=True, default=str) for p in parameters}) == 1
    return [k for k in names if not same(k)]


def _find_notebook(value: Any, grid_file: Path) -> Path:
    if not isinstance(value, str) or not value.endswith(".ipynb"):
        raise ValueError(f"{grid_file}: notebook: must name an .ipynb file, got {value!r}")
    root = runtime.project_root()
    bases = [Path.cwd(), grid_file.parent] + ([root] if root else [])
    for base in bases:
        if (base / value).is_file():
            return (base / value).resolve()
    raise FileNotFoundError(f"{grid_file}: notebook {value} not found (relative to the current "
                            "directory, the grid file or the project)")


def _mapping(value: Any, key: str, grid_file: Path) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{grid_file}: {key}: must be a mapping of parameter names")
    return value


def _resources(value: Any, grid_file: Path) -> dict[str, float]:
    value = value or {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for k, v in value.items()):
        raise ValueError(f"{grid_file}: resources: must map names to positive amounts, e.g. {{GPU: 1}}")
    return dict(value)
