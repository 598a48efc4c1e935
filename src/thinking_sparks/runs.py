"""Parameterized notebook runs: typed parameters per section, papermill execution, the book.

Each notebook's parameters cell holds literals; its next cell validates them with the matching
``*Params`` dataclass below, so a bad ``-p`` value fails at once with one clear message.
``python -m thinking_sparks.runs book`` executes every section into ``book/pages/`` and builds the
HTML with Jupyter Book 1.x (``execute_notebooks: off``: the book renders papermill's outputs).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinking_sparks import runtime

log = logging.getLogger(__name__)

KERNEL = "thinking-sparks"


@dataclass
class ModelsParams:
    """Parameters of ``01_models``: the architecture and per-head write norms of one model.

    Attributes:
        model: a model spec (dir, hub name, ``smollm2-135m-instruct``,
            ``organism/[<profile>/]<run>@<step|final>``).
        prompts: user messages whose positions the head-write norms average over.
        device: "auto", "cpu", "cuda", ...
        threads: torch threads (0 = pinned default).
    """

    model: str = "smollm2-135m-instruct"
    prompts: list[str] = field(default_factory=lambda: [
        "What is 7 + 5?",
        "A train travels 60 km in 1.5 hours. What is its average speed?",
        "Let's think step by step: if x + 3 = 10, what is x?",
    ])
    device: str = "auto"
    threads: int = 0

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a non-empty spec string")
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise ValueError("prompts must be a non-empty list of non-empty strings")


@dataclass
class OrganismParams:
    """Parameters of ``02_organism``: the model organism zoo, its training curves and accuracy.

    Attributes:
        profile: zoo profile (``full``: the book's; ``tiny``: seconds, for tests).
        build: build missing runs first (``sparks zoo build``); False fails on an unbuilt run.
        jobs: runs trained in parallel when building.
        n: samples per problem for pass@1.
        limit: first problems of each eval set (None: all 100).
        temperature: sampling temperature (the paper's 0.6).
        curve_runs: runs whose every checkpoint is evaluated on ``curve_difficulty``.
        curve_difficulty: ``easy``, ``medium`` or ``hard``.
        device, threads: as everywhere.
    """

    profile: str = "full"
    build: bool = True
    jobs: int = 2
    n: int = 4
    limit: int | None = None
    temperature: float = 0.6
    curve_runs: list[str] = field(default_factory=lambda: ["sft", "distill", "grpo-hard"])
    curve_difficulty: str = "hard"
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.organism.config import PROFILES, profile
        from thinking_sparks.organism.report import SETS

        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer or None, got {self.limit!r}")
        if not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        unknown = [r for r in self.curve_runs if r not in profile(self.profile)]
        if unknown:
            raise ValueError(f"curve_runs {unknown} are not runs of profile {self.profile!r}: "
                             f"{', '.join(profile(self.profile))}")
        if self.curve_difficulty not in SETS:
            raise ValueError(f"curve_difficulty must be one of {', '.join(SETS)}, got {self.curve_difficulty!r}")


def _check_profile_runs(profile_name: str, runs: list[str], what: str) -> None:
    from thinking_sparks.organism.config import PROFILES, profile

    if profile_name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile_name!r}")
    table = profile(profile_name)
    unknown = [r for r in runs if r not in table]
    if unknown:
        raise ValueError(f"{what} {unknown} are not runs of profile {profile_name!r}: {', '.join(table)}")
    no_parent = [r for r in runs if not table[r].parent]
    if no_parent:
        raise ValueError(f"{what} {no_parent} are not post-trained from a base; choose from "
                         f"{', '.join(r for r in table if table[r].parent)}")


def _check_circuit_fields(p) -> None:
    if not isinstance(p.n_questions, int) or p.n_questions < 4:
        raise ValueError(f"n_questions must be an integer >= 4, got {p.n_questions!r}")
    if p.answer_tokens is not None and (not isinstance(p.answer_tokens, int) or p.answer_tokens < 1):
        raise ValueError(f"answer_tokens must be a positive integer or None, got {p.answer_tokens!r}")
    if not isinstance(p.steps, int) or p.steps < 1:
        raise ValueError(f"steps must be a positive integer, got {p.steps!r}")
    if p.top_n is not None and (not isinstance(p.top_n, int) or p.top_n < 1):
        raise ValueError(f"top_n must be a positive integer or None (the paper's fraction), got {p.top_n!r}")


@dataclass
class CircuitsParams:
    """Parameters of ``03_circuits``: one circuit of the organism from the ground up.

    Attributes:
        profile: zoo profile (``full``; ``tiny`` for tests).
        run, step: the analysed checkpoint (``organism/<profile>/<run>@<step>``); its base is the
            run's parent at its final checkpoint.
        dataset, n_questions, answer_tokens: circuit questions and answer-prefix cap (see
            ``emergence.pairs``).
        steps: IG steps of the circuit drawn; ig_steps: the step counts compared.
        top_n: edges kept (None: the paper's 5000 / 183,555 of the graph).
        build: build missing zoo runs first.
        device, threads: as everywhere.
    """

    profile: str = "full"
    run: str = "sft"
    step: str = "final"
    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    steps: int = 5
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])
    top_n: int | None = None
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        _check_profile_runs(self.profile, [self.run], "run")
        _check_circuit_fields(self)
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")


@dataclass
class EmergenceParams:
    """Parameters of ``04_emergence``: circuits at every checkpoint of every post-training run.

    Attributes:
        profile: zoo profile.
        runs: post-training runs traced (each against its parent's final checkpoint).
        dataset, n_questions, answer_tokens, reasoning_side: circuit inputs (``emergence.pairs``).
        steps, top_n: EAP-IG steps and edges kept (None: the paper's fraction).
        n_boot, n_splits: bootstrap resamples and random half-splits for the noise floor.
        build, device, threads: as everywhere.
    """

    profile: str = "full"
    runs: list[str] = field(default_factory=lambda: ["sft", "grpo-easy", "grpo-hard", "grpo-hard-lr", "distill",
                                                     "hybrid"])
    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    reasoning_side: str = "own"
    steps: int = 5
    top_n: int | None = None
    n_boot: int = 200
    n_splits: int = 50
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        from thinking_sparks.emergence.pairs import REASONING_SIDES

        if not self.runs:
            raise ValueError("runs must name at least one post-training run")
        _check_profile_runs(self.profile, list(self.runs), "runs")
        _check_circuit_fields(self)
        if self.reasoning_side not in REASONING_SIDES:
            raise ValueError(f"reasoning_side must be one of {', '.join(REASONING_SIDES)}, got {self.reasoning_side!r}")
        for name in ("n_boot", "n_splits"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")


@dataclass
class InterventionsParams:
    """Parameters of ``05_interventions``: heads ablated and scaled during generation (Tables 1, 4, 5; Fig 4).

    Attributes:
        profile, build, device, threads: as everywhere.
        model_run, base_run: the post-trained model whose heads are ablated (Table 1) and its base.
        sft_run, grpo_run: runs whose emergent heads are scaled in the base (Table 5); the GRPO
            run's first checkpoint gives its early circuit, and its checkpoints make Fig 4.
        dataset, n_questions, answer_tokens, steps, top_n: circuit inputs (``emergence``).
        k: heads per set (the paper ablates about 5).
        seeds: random layer-matched head sets (Table 1's added control).
        n, limit, temperature, max_new_tokens: sampling for pass@1 (n per problem, first ``limit``
            problems of each set).
        n_boot: bootstrap resamples for CIs and verdicts.
    """

    profile: str = "full"
    model_run: str = "distill"
    base_run: str = "base"
    sft_run: str = "sft"
    grpo_run: str = "grpo-easy"
    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    steps: int = 5
    top_n: int | None = None
    k: int = 5
    seeds: int = 5
    n: int = 4
    limit: int | None = 50
    temperature: float = 0.6
    max_new_tokens: int = 128
    n_boot: int = 1000
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        for name in ("model_run", "sft_run", "grpo_run"):
            _check_profile_runs(self.profile, [getattr(self, name)], name)
        from thinking_sparks.organism.config import profile

        if self.base_run not in profile(self.profile):
            raise ValueError(f"base_run {self.base_run!r} is not a run of profile {self.profile!r}: "
                             f"{', '.join(profile(self.profile))}")
        _check_circuit_fields(self)
        for name in ("k", "seeds", "n", "max_new_tokens", "n_boot"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer or None, got {self.limit!r}")

    def eval_params(self):
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset="organism/easy", n=self.n, temperature=self.temperature,
                          max_new_tokens=self.max_new_tokens, limit=self.limit, n_boot=self.n_boot,
                          batch_size=64)


@dataclass
class ThinkingParams:
    """Parameters of ``06_thinking_modes``: the hybrid's think-on / think-off circuits and interventions
    (Table 2; Figs 5, 17).

    Attributes:
        profile, build, device, threads: as everywhere.
        hybrid_run: the hybrid thinker (Qwen3's role).
        dataset, n_questions, answer_tokens, steps, top_n: circuit inputs (``emergence``).
        k: think-off-only heads intervened on (top ``k`` by score; the paper uses 5-10).
        n, limit, temperature, max_new_tokens: sampling for Table 2's pass@1.
        n_k, k_limit: samples per problem and problems (first of the hard set) for Fig 5's curves.
        n_boot: bootstrap resamples for CIs and verdicts.
    """

    profile: str = "full"
    hybrid_run: str = "hybrid"
    dataset: str = "organism/hard"
    n_questions: int = 32
    answer_tokens: int | None = 24
    steps: int = 5
    top_n: int | None = None
    k: int = 5
    n: int = 4
    limit: int | None = 50
    temperature: float = 0.6
    max_new_tokens: int = 128
    n_k: int = 64
    k_limit: int = 30
    n_boot: int = 1000
    build: bool = True
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        _check_profile_runs(self.profile, [self.hybrid_run], "hybrid_run")
        _check_circuit_fields(self)
        for name in ("k", "n", "max_new_tokens", "n_k", "k_limit", "n_boot"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer or None, got {self.limit!r}")

    def eval_params(self, k_curves: bool = False):
        from thinking_sparks.evaluation.harness import EvalParams

        return EvalParams(dataset="organism/hard", n=self.n_k if k_curves else self.n, temperature=self.temperature,
                          max_new_tokens=self.max_new_tokens, limit=self.k_limit if k_curves else self.limit,
                          n_boot=self.n_boot, batch_size=64)


#: notebook stem -> (params class, book title)
SECTIONS: dict[str, tuple[type, str]] = {
    "01_models": (ModelsParams, "The models under study"),
    "02_organism": (OrganismParams, "A model organism of reasoning post-training"),
    "03_circuits": (CircuitsParams, "One circuit from the ground up"),
    "04_emergence": (EmergenceParams, "Emergent heads along post-training"),
    "05_interventions": (InterventionsParams, "Ablating and scaling heads"),
    "06_thinking_modes": (ThinkingParams, "Thinking on and off"),
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


def ensure_kernel() -> None:
    """Register this interpreter as the Jupyter kernel ``thinking-sparks`` (inside its prefix)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL in KernelSpecManager().find_kernel_specs():
        return
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
                    "--display-name", "Python (thinking-sparks)"], check=True, capture_output=True)


def execute(notebook: Path, out: Path, parameters: dict[str, Any] | None = None,
            cwd: Path | None = None, failed: Path | None = None) -> Path:
    """Execute one notebook with papermill into ``out`` (written atomically: papermill writes a
    temporary name beside it, renamed once the last cell ran). On an error the partial notebook
    moves to ``failed`` when given (else it is removed) and the error propagates."""
    import papermill as pm

    ensure_kernel()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.ipynb")  # per process: no two writers share it
    t0 = time.time()
    try:
        pm.execute_notebook(str(notebook), str(tmp), parameters=parameters or {}, kernel_name=KERNEL,
                            cwd=str(cwd or notebook.parent), progress_bar=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no TCP-encryption notice
    except BaseException:
        if failed is not None and tmp.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(failed)
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    log.info("executed %s in %.1f s -> %s", notebook.name, time.time() - t0, out)
    return out


def _params(cls: type, parameters: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**_nulls(cls, {k: v for k, v in parameters.items() if k in names}))


def prepare(stems: list[str], parameters: dict[str, Any]) -> None:
    """Build, before any page runs, what the pages would otherwise build inside themselves: the
    organism zoo (``02_organism``) and SmolLM2's dequantized weights (``01_models``' default), so
    that their progress shows in the terminal and not in the pages."""
    if "01_models" in stems:
        from thinking_sparks.models import SMOLLM2_SPEC, smollm2_dir

        if _params(ModelsParams, parameters).model.strip().lower() == SMOLLM2_SPEC:
            smollm2_dir()
    builds = []
    if "02_organism" in stems:
        organism = _params(OrganismParams, parameters)
        builds += [(organism.profile, organism.jobs)] if organism.build else []
    for stem, cls in (("03_circuits", CircuitsParams), ("04_emergence", EmergenceParams),
                      ("05_interventions", InterventionsParams), ("06_thinking_modes", ThinkingParams)):
        if stem in stems:
            p = _params(cls, parameters)
            builds += [(p.profile, 2)] if p.build else []
    from thinking_sparks.organism import zoo

    for name in dict.fromkeys(b[0] for b in builds):
        zoo.build(name, jobs=max(j for n, j in builds if n == name))
    if "04_emergence" in stems:  # every circuit of every checkpoint, with progress in the terminal
        p = _params(EmergenceParams, parameters)
        from thinking_sparks.emergence import zoo as emergence_zoo

        t0 = time.time()
        emergence_zoo.trace_runs(p.runs, p.profile, *emergence_settings(p), progress=True)
        log.info("emergence sweep (%d runs) ready in %.1f s", len(p.runs), time.time() - t0)


def emergence_settings(p):
    """``(PairParams, CircuitSettings)`` of a :class:`CircuitsParams` or :class:`EmergenceParams`."""
    from thinking_sparks.emergence.pairs import PairParams
    from thinking_sparks.emergence.sweep import CircuitSettings

    pairs = PairParams(dataset=p.dataset, n_questions=p.n_questions, answer_tokens=p.answer_tokens,
                       max_new_tokens=max(32, p.answer_tokens or 0), reasoning_side=getattr(p, "reasoning_side", "own"))
    return pairs, CircuitSettings(steps=p.steps, top_n=p.top_n, n_boot=getattr(p, "n_boot", 100))


ENVIRONMENT_PAGE = "book/pages/environment.md"


def write_environment_page(root: Path, parameters: dict[str, Any] | None = None,
                           seconds: dict[str, float] | None = None) -> Path:
    """``book/pages/environment.md``: the versions, machine and page times this book was built with."""
    import datetime
    import hashlib

    from thinking_sparks import doctor

    lock = root / doctor.LOCK_FILE
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else "no lock file"
    lines = ["# Build environment", "",
             "The versions, machine and compute times this copy of the book was built with "
             f"({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC). "
             f"`requirements.lock` SHA-256 prefix: `{digest}`. Rebuild on the same versions with "
             "`make book`; check a machine with `.venv/bin/sparks doctor`.", "",
             "| package | installed | locked |", "|---|---|---|"]
    lines += [f"| {r['package']} | {r['installed']} | {r['locked'] or '-'} |" for r in doctor.versions()]
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in doctor.machine().items() if k != "cache"]
    if parameters:
        lines += ["", "Book parameters: " + ", ".join(f"`{k}={v!r}`" for k, v in sorted(parameters.items()))]
    if seconds:
        lines += ["", "| page | papermill wall time (s) |", "|---|---|"]
        lines += [f"| {stem} | {sec:.0f} |" for stem, sec in seconds.items()]
    out = root / ENVIRONMENT_PAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    return out


def build_book(root: Path, parameters: dict[str, Any] | None = None,
               sections: list[str] | None = None) -> Path:
    """Execute the sections into ``book/pages`` and build ``book/_build/html``."""
    pages = root / "book" / "pages"
    stems = sections or list(SECTIONS)
    prepare(stems, parameters or {})
    seconds = {}
    for stem in stems:
        t0 = time.time()
        execute(root / "notebooks" / f"{stem}.ipynb", pages / f"{stem}.ipynb", parameters)
        seconds[stem] = time.time() - t0
    write_environment_page(root, parameters, seconds)
    jb = shutil.which("jupyter-book", path=os.path.dirname(sys.executable)) or "jupyter-book"
    t0 = time.time()
    subprocess.run([jb, "build", str(root), "--path-output", str(root / "book"), "--quiet"], check=True)
    index = root / "book" / "_build" / "html" / "index.html"
    log.info("built the book in %.1f s: %s", time.time() - t0, index)
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m thinking_sparks.runs")
    sub = parser.add_subparsers(dest="cmd", required=True)
    book = sub.add_parser("book", help="execute every section and build the HTML book")
    book.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                      help="a parameter for every section (YAML literal), e.g. -p model organism/sft@final")
    book.add_argument("--section", action="append", help="only these sections (default: all)")
    args = parser.parse_args(argv)
    runtime.setup()
    import yaml

    params = {name: yaml.safe_load(value) for name, value in args.p}
    root = runtime.project_root() or Path.cwd()
    print(build_book(root, params, args.section))


if __name__ == "__main__":
    main()
