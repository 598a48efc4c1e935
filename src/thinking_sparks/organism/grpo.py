"""GRPO with TRL's ``GRPOTrainer``: accuracy reward + format reward (the paper's GRPO runs).

Data variants: easy problems (levels 1-2; GSM8K's role) and hard problems (levels 3-5;
OpenR1-Math's role); the zoo also runs a learning-rate variant (the paper's Fig 8). Rewards:

- :func:`accuracy_reward` — 1.0 when the extracted answer equals the gold ``answer`` column
  (grading from :mod:`thinking_sparks.evaluation.grading`), else 0.0;
- :func:`format_reward` — 1.0 when the completion is ``<think> ... </think> <answer> N </answer>``.

The per-step reward curve (the paper's Fig 3B) is written to ``<run_dir>/reward.csv`` with columns
``step, reward, accuracy, format, completion_length``; every logged metric is also in ``log.csv``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from thinking_sparks.evaluation.grading import extract_answer, follows_format, is_correct
from thinking_sparks.organism import task
from thinking_sparks.organism.config import GRPORecipe
from thinking_sparks.organism.logs import CleanCheckpointCallback, TidyLogCallback, drop_printer
from thinking_sparks.organism.sft import finalize, load_start

log = logging.getLogger(__name__)

def _text(completion: Any) -> str:
    """A completion as text (conversational completions are ``[{"role", "content"}]``)."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def accuracy_reward(completions: list, answer: list[str], **kwargs) -> list[float]:
    """1.0 per completion whose final answer matches the gold ``answer`` column, else 0.0."""
    return [float(is_correct(extract_answer(_text(c)), gold)) for c, gold in zip(completions, answer)]


def format_reward(completions: list, **kwargs) -> list[float]:
    """1.0 per completion of the form ``<think> ... </think> <answer> ... </answer>``, else 0.0
    (:func:`~thinking_sparks.evaluation.grading.follows_format`: one definition for reward and grader)."""
    return [float(follows_format(_text(c))) for c in completions]


def grpo_dataset(recipe: GRPORecipe):
    """Prompts (conversational) with their gold ``answer`` for the reward."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    problems = task.make_problems(recipe.n_prompts, recipe.levels, recipe.seed + 200, "train")
    return Dataset.from_list([
        {"prompt": task.messages(p.question, recipe.system_prompt), "answer": str(p.answer), "level": p.level}
        for p in problems
    ])


def reward_curve(log_csv: Path | str) -> pd.DataFrame:
    """Per-step reward terms from a GRPO run's tidy log (wide: one row per step)."""
    df = pd.read_csv(log_csv)
    names = {"reward": "reward", "rewards/accuracy_reward/mean": "accuracy",
             "rewards/format_reward/mean": "format", "completions/mean_length": "completion_length"}
    df = df[df["metric"].isin(names)].assign(metric=lambda d: d["metric"].map(names))
    wide = df.pivot_table(index="step", columns="metric", values="value", aggfunc="last").reset_index()
    return wide[["step"] + [c for c in names.values() if c in wide.columns]]


def train_grpo(recipe: GRPORecipe, model: str | Path, run_dir: Path | str, run_name: str = "grpo",
               dataset: Any = None) -> Path:
    """Run GRPO from ``model`` on ``dataset`` (default :func:`grpo_dataset`); returns the final checkpoint."""
    from transformers import set_seed  # deferred: transformers is heavy or optional, loaded only here
    from trl import GRPOTrainer  # deferred: trl is heavy or optional, loaded only here

    run_dir = Path(run_dir)
    set_seed(recipe.seed)
    hf, tok = load_start(model, recipe)
    data = grpo_dataset(recipe) if dataset is None else dataset
    log.info("%s: GRPO on %d prompts for %d steps (lr %g) from %s", run_name, len(data), recipe.max_steps,
             recipe.learning_rate, model)
    trainer = GRPOTrainer(model=hf, reward_funcs=[accuracy_reward, format_reward], args=recipe.trl_config(str(run_dir)),
                          train_dataset=data, processing_class=tok,
                          callbacks=[TidyLogCallback(run_dir / "log.csv", run_name), CleanCheckpointCallback(tok)])
    drop_printer(trainer)
    trainer.train()
    final = finalize(trainer, run_dir, tok)
    reward_curve(run_dir / "log.csv").to_csv(run_dir / "reward.csv", index=False)
    return final
