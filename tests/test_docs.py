"""What the docs promise runs: notebook parameters match their params classes, the README's
commands execute (cheap ones on tiny models and the organism's tiny profile), pages named exist."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# ---------------------------------------------------------------- notebook parameters


def parameters_cell(path: Path) -> dict:
    """The literals assigned in a notebook's ``parameters`` cell."""
    nb = json.loads(path.read_text())
    (cell,) = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    out = {}
    for node in ast.parse("".join(cell["source"])).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{path.name}: the parameters cell may only assign literals, got {ast.dump(node)[:60]}")
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def param_mismatches(path: Path, cls: type) -> list[str]:
    """Differences between a notebook's parameters cell and its params dataclass (names, defaults)."""
    cell = parameters_cell(path)
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(cls)}
    problems = [f"{n}: in the cell, not in {cls.__name__}" for n in sorted(set(cell) - set(defaults))]
    problems += [f"{n}: in {cls.__name__}, not in the cell" for n in sorted(set(defaults) - set(cell))]
    problems += [f"{n}: cell {cell[n]!r} != default {defaults[n]!r}" for n in sorted(set(cell) & set(defaults))
                 if cell[n] != defaults[n] or type(cell[n]) is not type(defaults[n])]
    return problems


def test_every_notebook_is_a_section():
    from thinking_sparks.pages import PAGES

    assert sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")) == sorted(PAGES)


@pytest.mark.parametrize("stem", sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")))
def test_parameters_cell_matches_params_class(stem):
    from thinking_sparks.pages import params_class
    from thinking_sparks.pages.params import parameters_cell as declared_cell

    path = REPO / "notebooks" / f"{stem}.ipynb"
    assert param_mismatches(path, params_class(stem)) == []
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assert "".join(cell["source"]).strip() == declared_cell(stem), f"{stem}: regenerate its parameters cell"
    # the validating cell takes every parameter from the cell's names
    code = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(f'from_notebook("{stem}", globals())' in c for c in code), f"{stem}: no from_notebook call"


def test_param_mismatches_catches_drift(tmp_path):
    @dataclasses.dataclass
    class P:
        n: int = 4
        limit: int | None = None
        runs: list = dataclasses.field(default_factory=lambda: ["sft"])

    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                     "source": ["n = 8\n", "runs = ['sft']\n", "extra = 1\n"]}]}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert param_mismatches(path, P) == ["extra: in the cell, not in P", "limit: in P, not in the cell",
                                         "n: cell 8 != default 4"]


@pytest.mark.parametrize("value", ["null", "None", None])
def test_papermill_null_means_none(value):
    """``papermill -p limit null`` passes the string "null"."""
    from thinking_sparks.runs import validate

    assert validate("02_organism", limit=value).limit is None
    with pytest.raises(ValueError, match="limit"):
        validate("02_organism", limit="ten")


# ---------------------------------------------------------------- README and intro say what exists


def test_pages_named_in_readme_and_intro_exist_and_are_named():
    existing = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    readme = (REPO / "README.md").read_text()
    intro = (REPO / "book" / "intro.md").read_text()
    for text in (readme, intro):
        for stem in existing:
            assert f"`{stem}`" in text
        promised = set(re.findall(r"notebooks/(\d\d_\w+)\.ipynb", text))
        assert promised <= existing, promised - existing
        assert "coming" not in text  # every announced page exists; nothing is promised as present


def test_readme_documents_the_spec_that_zoo_build_prints():
    readme = (REPO / "README.md").read_text()
    assert "organism/<profile>/<run>@<step>" in readme
    from thinking_sparks.organism import cli

    assert 'f"organism/{profile}/{name}@final' in Path(cli.__file__).read_text()


def test_no_absolute_machine_paths_in_code_or_tests():
    pattern = re.compile(r"""["'](/work/|/home/|/root/|/tmp/)""")
    offenders = [f"{p.relative_to(REPO)}:{i}" for base in ("src", "tests") for p in (REPO / base).rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


# ---------------------------------------------------------------- the README's commands, run


def readme_commands() -> list[str]:
    """Every command in the README's ``bash`` blocks (continuations joined, ``&&`` split)."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip() if not line.lstrip().startswith("#") else ""
            out += [" ".join(part.split()) for part in line.split("&&") if part.strip()]
    return out


#: commands not run by the test, and why
EXPENSIVE = {
    r"^make book$": "builds the whole book (about 25 min)",
    r"^make test$": "runs this suite",
    r"^make book BOOK_ARGS=": "the whole book on a real model and a GPU",
    r"^\.venv/bin/sparks trace --base Qwen/": "a real model's checkpoints and data set",
    r"^\.venv/bin/sparks batch ": "nine notebook runs (minutes); tests/test_batch.py runs grids",
    r"^\.venv/bin/sparks real train ": "fine-tunes SmolLM2 (minutes)",
    r"^\.venv/bin/papermill notebooks/04_emergence\.ipynb .*Qwen/": "a real model's checkpoints and data set "
                                                                   "(tests/test_page_models.py runs the page)",
    r"^for g in examples/grids/paper_": "the paper's models, data and GPUs (tests/test_batch.py checks the grids)",
    r"^\.venv/bin/sparks head L5H1 --model full": "64 single-head ablations of the full organism (hours on a CPU); "
                                                   "tests/test_page_heads.py runs it on the tiny profile",
}
#: cheap commands: how each is run here (tiny model for SPEC / hub paths, tiny organism profile,
#: small limits where the README's sizes would take minutes); None = exactly as written
CHEAP = {
    r"^\.venv/bin/sparks generate ": "tiny model",
    r"^\.venv/bin/papermill notebooks/01_models\.ipynb ": "tiny model",
    r"^\.venv/bin/papermill notebooks/02_organism\.ipynb ": "parameters injected and validated (--prepare-only)",
    r"^\.venv/bin/sparks circuit ": "tiny model, a small pairs file",
    r"^\.venv/bin/sparks eval ": "tiny model, + --limit 2 --max-new-tokens 8",
    r"^\.venv/bin/sparks zoo (build|list)$": "+ --profile tiny",
    r"^\.venv/bin/sparks zoo build --profile tiny$": None,
    r"^\.venv/bin/sparks heads ": "tiny model as model and base, a small pairs file",
    r"^\.venv/bin/sparks trace --run organism/": "the tiny profile (SPARKS_ORGANISM_PROFILE=tiny)",
    r"^\.venv/bin/sparks zoo report ": "+ --profile tiny --limit 2",
    r"^\.venv/bin/sparks train \w+ --show": None,
    r"^\.venv/bin/sparks real list$": None,
    r"^\.venv/bin/sparks train \w+ --model ": "+ --show (training a real model needs the model and a GPU)",
}


def _kind(cmd: str) -> str:
    for pat in EXPENSIVE:
        if re.search(pat, cmd):
            return "expensive"
    for pat in CHEAP:
        if re.search(pat, cmd):
            return pat
    return "unknown"


def test_every_readme_command_is_classified():
    cmds = readme_commands()
    assert len(cmds) >= 10
    assert [c for c in cmds if _kind(c) == "unknown"] == []


def _adapt(cmd: str, kind: str, tiny: Path, tmp: Path) -> list[str]:
    args = shlex.split(cmd)
    subs = {"SPEC": str(tiny), "BASE": str(tiny), "smollm2-135m-instruct": str(tiny),
            "/path/to/Qwen2.5-Math-1.5B": str(tiny),
            # the tiny model has 2 layers x 4 heads: the README's heads renamed to exist there
            "L3H1,L5H0": "L1H1,L0H0", "L3H1": "L1H1", "L2H0=1.3": "L0H2=1.3",
            "DIR": str(tmp / "DIR"), "out.ipynb": str(tmp / "out.ipynb"), "pairs.jsonl": str(tmp / "pairs.jsonl"),
            "runs/grpo": str(tmp / "runs-grpo")}
    args = [subs.get(a, a) for a in args]
    if "DIR" in cmd.split():  # one DIR per verb: --out is replaced as a whole and must not hold another's files
        args = [str(tmp / f"DIR-{args[1]}") if a == str(tmp / "DIR") else a for a in args]
    if args[0].startswith(".venv/bin/"):  # the scripts beside the interpreter running the tests
        args[0] = str(Path(sys.executable).parent / args[0].removeprefix(".venv/bin/"))
    if "zoo (build|list)" in kind:
        args += ["--profile", "tiny"]
    elif "zoo report" in kind:
        args += ["--profile", "tiny", "--limit", "2"]
    elif "sparks eval" in kind:
        args += ["--limit", "2", "--max-new-tokens", "8"]
    elif "train \\w+ --model" in kind:
        args += ["--show"]
    elif "02_organism" in kind:
        args += ["--prepare-only"]
    return args


@pytest.mark.slow
def test_readme_cheap_commands_run(tiny_model_dir, tiny_zoo_cache, tmp_path):
    venv_bin = Path(sys.executable).parent  # the README's .venv/bin, wherever the tests run
    if not (venv_bin / "sparks").exists() or not (venv_bin / "papermill").exists():
        pytest.skip(f"needs the sparks and papermill scripts beside {sys.executable} (`pip install -e .[book]`)")
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"clean": "what is 2 plus 3 =", "corrupted": "what is 7 plus 3 =",
                                                      "correct": "5", "wrong": "0"}) + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SPARKS_CACHE": str(tiny_zoo_cache[0]),
           "HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "SPARKS_ORGANISM_PROFILE": "tiny"}
    ran = []
    for cmd in readme_commands():
        kind = _kind(cmd)
        if kind == "expensive":
            continue
        args = _adapt(cmd, kind, tiny_model_dir, tmp_path)
        r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{' '.join(args)}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        ran.append((cmd, r))
        if "02_organism" in kind:  # the injected parameters must pass the page's own validation
            from thinking_sparks.runs import validate

            nb = json.loads((tmp_path / "out.ipynb").read_text())
            injected = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
            values = {}
            exec("".join(injected["source"]), {}, values)  # noqa: S102 - papermill's literal assignments
            params = validate("02_organism", **values)
            assert params.n == 8 and params.limit is None
    assert len(ran) >= 8
    shows = [r.stdout for c, r in ran if "--show" in c or "train grpo --model" in c]
    assert shows and all(json.loads(s)["learning_rate"] == 1e-6 for s in shows)


def test_pyproject_license_is_an_spdx_string():
    """The ``{text = ...}`` table is deprecated by setuptools (PEP 639): an SPDX expression."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"


def test_readme_memory_table_is_the_planner_script_output():
    import importlib.util

    spec = importlib.util.spec_from_file_location("memory_plan", REPO / "benchmarks" / "memory_plan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (REPO / "README.md").read_text()
    start, end = module.MARKERS
    assert readme.split(start, 1)[1].split(end, 1)[0].strip() == module.table()
    assert "| Qwen3-8B | 8.19 B |" in module.table()  # the meta-device count of Qwen3-8B's config
