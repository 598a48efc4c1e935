"""A real pretrained model post-trained with the organism's SFT recipe: data, runs, eval sets.

SmolLM2-135M-Instruct (30 layers x 9 heads, 3 KV heads) is the one real model this machine
has. This module fine-tunes it on worked, step-by-step solutions written for a general chat
model and caches the checkpoints like the zoo does, so a page can trace its heads along the run.

Two kinds of training data (:data:`DATA`):

- ``words``: the organism's arithmetic problems (:mod:`thinking_sparks.organism.task`, train
  split) asked in plain chat English, each answer a worked solution, one operation per sentence,
  ending ``The answer is N.``;
- ``gsm8k``: GSM8K problems with their reference solutions (calculator annotations ``<<..>>``
  removed, ``#### N`` turned into ``The answer is N.``), taken from ``data/gsm8k/train-pool.jsonl``
  (test-split problems 251-650; the eval set ``data/gsm8k/test-250.jsonl`` is problems 1-250, so
  training and evaluation never share a problem).

Eval sets ``words/easy`` and ``words/medium`` are the organism's fixed ``easy`` / ``medium`` sets
(eval split: disjoint from any training problem) asked the same way (:func:`words_set`).

Runs are keyed by recipe + data + seed (:func:`run_key`) under
``runtime.cache_dir()/real/<run>-<key>/checkpoint-<step>/``; the spec ``real/<run>@<step|final>``
names a checkpoint of a run of :data:`RUNS` (e.g. ``real/smollm2-sft@final``) once it is trained
(:func:`train`, ``sparks real train``).

The prompting styles (:data:`STYLES`: reason step by step, or answer at once) are shared with
:mod:`thinking_sparks.realmodel.styles`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinking_sparks import runtime
from thinking_sparks.evaluation.datasets import Problem
from thinking_sparks.models import checkpoint_steps
from thinking_sparks.organism import sft, task
from thinking_sparks.organism.config import SFTRecipe, config_hash

log = logging.getLogger(__name__)

__all__ = ["DATA", "INSTRUCTION", "RUNS", "STYLES", "RealSFT", "ask", "checkpoint_specs", "gsm8k_solution",
           "is_trained", "log_path", "resolve_checkpoint", "run_dir", "run_key", "run_meta", "sft_data", "start_training",
           "train", "words_question", "words_set", "words_solution"]

DATA = ("words", "gsm8k")
#: appended to every question (training and evaluation): a general chat model is told the format
INSTRUCTION = "Solve it step by step and finish with 'The answer is' and the number."
#: the two prompting styles of a chat model without a thinking switch: reason first, or answer at once
STYLES = {"think": INSTRUCTION, "direct": "Do not explain; reply only with 'The answer is' and the number."}
WORDS_SETS = ("easy", "medium")
GSM8K_POOL = "train-pool.jsonl"
_SPEC = re.compile(r"^real/(?P<run>[a-z0-9][a-z0-9_.-]*)(?:@(?P<step>\d+|final|latest))?$")


def repo_data() -> Path:
    """The checkout's ``data/`` folder (GSM8K files, MIT licence)."""
    root = runtime.project_root()
    if root is None:
        raise FileNotFoundError("the GSM8K files live in the checkout's data/ folder; run from a checkout")
    return root / "data"


# ------------------------------------------------------------------ data


def _spaced(expr: str) -> str:
    """``( 12 + 7 ) * 3`` -> ``(12 + 7) * 3`` (ordinary spacing for a BPE chat model)."""
    return expr.replace("( ", "(").replace(" )", ")")


def ask(question: str, style: str = "think") -> str:
    """``question`` followed by the instruction of prompting style ``style`` (:data:`STYLES`)."""
    if style not in STYLES:
        raise ValueError(f"unknown prompting style {style!r}; choose one of {', '.join(STYLES)}")
    return f"{question} {STYLES[style]}"


def words_question(p: task.Problem, style: str = "think") -> str:
    """The problem as a chat user turn: ``What is (12 + 7) * 3 - 45? Solve it step by step ...``."""
    return ask(f"What is {_spaced(p.expression)}?", style)


def words_solution(p: task.Problem) -> str:
    """A worked solution, one operation per sentence, ending ``The answer is N.``.

    ``(12 + 7) * 3 - 45`` -> ``First, (12 + 7) * 3 - 45 = 19 * 3 - 45.`` / ``Then, 19 * 3 - 45 =
    57 - 45.`` / ``Then, 57 - 45 = 12.`` / ``The answer is 12.``
    """
    chain = [_spaced(s) for s in (p.expression, *p.steps)]
    lines = [f"{'First' if i == 0 else 'Then'}, {a} = {b}." for i, (a, b) in enumerate(itertools.pairwise(chain))]
    return "\n".join(lines + [f"The answer is {p.answer}."])


def gsm8k_solution(answer: str) -> str:
    """A GSM8K reference solution in the same shape: annotations dropped, ``#### N`` -> the answer line."""
    body, sep, final = answer.rpartition("####")
    if not sep:
        raise ValueError("a GSM8K answer ends with '#### N'")
    body = re.sub(r"<<[^>]*>>", "", body).strip()
    return f"{body}\nThe answer is {final.strip()}."


def _gsm8k_rows(n: int) -> list[dict]:
    path = repo_data() / "gsm8k" / GSM8K_POOL
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if n > len(rows):
        raise ValueError(f"n_train={n} exceeds the {len(rows)} GSM8K training problems in {path.name}")
    return rows[:n]


def sft_data(data: str, n: int, levels: tuple[int, ...] = (1, 2, 3), seed: int = 0):
    """``n`` conversational prompt-completion pairs of ``data`` (``words`` | ``gsm8k``) as a Dataset."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    if data == "words":
        pairs = [(words_question(p), words_solution(p))
                 for p in task.make_problems(n, levels, seed + 100, "train")]
    elif data == "gsm8k":
        pairs = [(f"{r['question']} {INSTRUCTION}", gsm8k_solution(r["answer"])) for r in _gsm8k_rows(n)]
    else:
        raise ValueError(f"unknown SFT data {data!r}; choose one of {', '.join(DATA)}")
    return Dataset.from_list([{"prompt": [{"role": "user", "content": q}],
                               "completion": [{"role": "assistant", "content": a}]} for q, a in pairs])


def words_set(name: str) -> list:
    """The organism's fixed ``easy`` / ``medium`` eval set asked in chat English (eval split).

    ``words/easy`` asks to reason step by step; ``words/easy-direct`` asks for the answer at once;
    ``words/easy-bare`` is the bare question (``What is ...?``), to which a circuit side in a
    prompting-style mode (:mod:`~thinking_sparks.realmodel.styles`) appends its style's instruction.
    """
    level, _, style = name.partition("-")
    style = style or "think"
    if level not in WORDS_SETS or (style not in STYLES and style != "bare"):
        raise ValueError(f"unknown words eval set {name!r}; choose one of "
                         + ", ".join(f"{lv}{'' if st == 'think' else '-' + st}" for lv in WORDS_SETS
                                     for st in (*STYLES, "bare")))
    levels, size, seed = task.EVAL_SETS[level]
    problems = task.make_problems(size, levels, seed, split="eval", unique=True)
    return [Problem(id=f"words-{p.id}", question=f"What is {_spaced(p.expression)}?" if style == "bare"
                    else words_question(p, style), answer=str(p.answer), difficulty=level) for p in problems]


# ------------------------------------------------------------------ runs


@dataclass
class RealSFT:
    """One SFT run of a real model: the organism's SFT recipe on ``data``, sized for a CPU.

    ``max_steps`` is the CPU size; ``gpu_steps`` replaces it on CUDA (``device="cuda"``), where
    bf16 is switched on as well.
    """

    model: str = "smollm2-135m-instruct"  #: model spec to fine-tune
    data: str = "words"          #: ``words`` | ``gsm8k`` (see :func:`sft_data`)
    n_train: int = 2000          #: training pairs (the run sees max_steps x batch_size of them)
    levels: tuple[int, ...] = (1, 2, 3)  #: organism levels of the ``words`` problems
    max_steps: int = 24          #: optimiser steps on a CPU (~12 s each on one free core: ~5 min)
    gpu_steps: int = 480         #: optimiser steps on a GPU
    batch_size: int = 8          #: pairs per step
    learning_rate: float = 5e-5  #: peak learning rate (cosine decay, 5 % warm-up)
    max_length: int = 192        #: tokens kept per prompt + completion
    n_checkpoints: int = 6       #: evenly spaced checkpoints
    seed: int = 0                #: data order, sampling of the words problems
    device: str = "cpu"          #: "cpu" or "cuda"

    def recipe(self):
        """The organism's SFT recipe (:class:`~thinking_sparks.organism.config.SFTRecipe`) with these settings."""
        gpu = self.device.startswith("cuda")
        return SFTRecipe(model=self.model, n_train=self.n_train, levels=self.levels, batch_size=self.batch_size,
                         max_length=self.max_length, learning_rate=self.learning_rate,
                         max_steps=self.gpu_steps if gpu else self.max_steps, n_checkpoints=self.n_checkpoints,
                         seed=self.seed, device=self.device, bf16=gpu, progress=False)


#: named runs (spec ``real/<name>@<step>``). Measured on words/easy (first 40 problems, n 4, T 0.6,
#: top-p 0.95): SmolLM2 pass@1 0.169 [0.100, 0.250] -> 0.625 [0.487, 0.756] after smollm2-sft's 24
#: steps (paired change +0.456 [+0.344, +0.575]); at step 4 both data kinds are still at the base's
#: level (words 0.113, gsm8k 0.200). A step costs ~12 CPU-s (words, batch 8) and ~2.5x that on GSM8K.
RUNS: dict[str, RealSFT] = {
    "smollm2-sft": RealSFT(data="words"),
    "smollm2-sft-gsm8k": RealSFT(data="gsm8k", n_train=400, max_length=384),
}


def run_key(cfg: RealSFT) -> str:
    """Hash of everything that changes the run: recipe, data, seed, start model, device."""
    return config_hash(cfg)


def run_dir(name: str, cfg: RealSFT | None = None) -> Path:
    cfg = cfg or _named(name)
    return runtime.cache_dir() / "real" / f"{name}-{run_key(cfg)}"


def _named(name: str) -> RealSFT:
    if name not in RUNS:
        raise FileNotFoundError(f"unknown real-model run {name!r}; runs: {', '.join(RUNS)}")
    return RUNS[name]


def is_trained(name: str, cfg: RealSFT | None = None) -> bool:
    path = run_dir(name, cfg)
    return (path / "run.json").exists() and bool(checkpoint_steps(path))


def train(name: str = "smollm2-sft", cfg: RealSFT | None = None, force: bool = False, quiet: bool = False) -> Path:
    """Train run ``name`` (``cfg`` defaults to :data:`RUNS` [name]) unless cached; returns its dir.

    The run trains into a temporary sibling dir renamed into place when finished, so an
    interrupted run leaves nothing that counts as trained. ``quiet``: train in a worker process
    whose console output (progress bars, warnings) goes to ``<cache>/real/logs/<name>.log`` (for
    notebooks).
    """
    cfg = cfg or _named(name)
    out = run_dir(name, cfg)
    if is_trained(name, cfg) and not force:
        return out
    if quiet:
        return runtime.in_quiet_worker(log_path(name, cfg), train, name, cfg, force)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    recipe = cfg.recipe()
    t0, c0 = time.perf_counter(), time.process_time()
    sft.train_sft(recipe, cfg.model, tmp, name,
                  dataset=sft_data(cfg.data, cfg.n_train, cfg.levels, cfg.seed))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # cpu_seconds: this process's CPU time; on a shared machine it says what the run costs on a free core
    meta = {"name": name, "key": run_key(cfg), "config": dataclasses.asdict(cfg), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "steps": checkpoint_steps(tmp), "steps_per_second": round(recipe.max_steps / seconds, 4)}
    (tmp / "run.json").write_text(json.dumps(meta, indent=1, default=str))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log.info("trained real/%s in %.0f s (%.3f steps/s, %d checkpoints)", name, seconds,
             meta["steps_per_second"], len(meta["steps"]))
    return out


def log_path(name: str, cfg: RealSFT | None = None) -> Path:
    """Where a quiet training run writes its console output."""
    return run_dir(name, cfg).parent / "logs" / f"{run_dir(name, cfg).name}.log"


def start_training(name: str, cfg: RealSFT | None = None):
    """Train ``name`` in a quiet worker process and return at once: a ``Future`` of its dir (None
    when the run is already trained)."""
    cfg = cfg or _named(name)
    if is_trained(name, cfg):
        return None
    return runtime.start_quiet_worker(log_path(name, cfg), train, name, cfg)


def run_meta(name: str, cfg: RealSFT | None = None) -> dict[str, Any]:
    """``run.json`` of a trained run (config, seconds, steps, steps/s)."""
    return json.loads((run_dir(name, cfg) / "run.json").read_text())


def checkpoint_specs(name: str = "smollm2-sft") -> list[str]:
    """``real/<name>@<step>`` for every checkpoint of a trained run, ascending."""
    return [f"real/{name}@{s}" for s in checkpoint_steps(run_dir(name))]


def resolve_checkpoint(spec: str) -> Path:
    """``real/<run>@<step|final>`` -> the checkpoint dir (raises if the run is not trained).

    ``<run>`` is a name of :data:`RUNS` (its default settings) or ``<name>-<key>`` as
    ``sparks real train`` prints it for a run with overrides (e.g. ``--set device=cuda``).
    """
    m = _SPEC.match(spec.strip())
    if not m:
        raise FileNotFoundError(f"bad real-model spec {spec!r}; expected 'real/<run>@<step|final>' "
                                "(e.g. real/smollm2-sft@final)")
    name = m.group("run")
    if name in RUNS:
        path, trained = run_dir(name), is_trained(name)
    else:
        path = runtime.cache_dir() / "real" / name
        trained = (path / "run.json").exists() and bool(checkpoint_steps(path))
        if not path.is_dir():
            raise FileNotFoundError(f"unknown real-model run {name!r}; runs: {', '.join(RUNS)} (or <name>-<key> "
                                    "as `sparks real train` prints it)")
    steps = checkpoint_steps(path)
    if not steps or not trained:
        raise FileNotFoundError(f"real-model run {name!r} is not trained; run `sparks real train {name}`")
    step = m.group("step") or "final"
    if step in ("final", "latest"):
        return path / f"checkpoint-{steps[-1]}"
    if int(step) not in steps:
        raise FileNotFoundError(f"real/{name} has no checkpoint at step {step}; steps: {', '.join(map(str, steps))}")
    return path / f"checkpoint-{int(step)}"
