"""Supervised fine-tuning on worked solutions with TRL's ``SFTTrainer`` (OpenR1-Math's role).

The recipe takes a starting model (a local dir or a model spec, e.g. ``organism/base@final`` or
``Qwen/Qwen2.5-Math-1.5B``) and a conversational prompt-completion dataset; by default the
dataset holds the task's gold reasoning traces (``<think> chain </think> <answer> N </answer>``).
Loss on the completion only. Checkpoints every ``max_steps // n_checkpoints`` steps, each a
standard HF dir with the tokenizer; the tidy log goes to ``<run_dir>/log.csv``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from thinking_sparks.models import load_tokenizer, resolve_spec
from thinking_sparks.organism import task
from thinking_sparks.organism.config import SFTRecipe, TrainCommon
from thinking_sparks.organism.logs import CleanCheckpointCallback, TidyLogCallback, drop_printer

log = logging.getLogger(__name__)


def load_start(model: str | Path, common: TrainCommon) -> tuple[Any, Any]:
    """The starting HF causal LM (train mode, float32 or bf16) and its tokenizer."""
    from transformers import AutoModelForCausalLM  # deferred: transformers is heavy or optional, loaded only here

    where = resolve_spec(str(model))
    dtype = torch.bfloat16 if common.bf16 else torch.float32
    hf = AutoModelForCausalLM.from_pretrained(where, dtype=dtype)
    if isinstance(where, Path):
        tok = load_tokenizer(where)
    else:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(where)
    if tok is None:
        raise FileNotFoundError(f"model {model!r} has no tokenizer files")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return hf, tok


def sft_dataset(recipe: SFTRecipe, seed: int | None = None):
    """Gold reasoning traces as a conversational prompt-completion ``datasets.Dataset``."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    seed = recipe.seed if seed is None else seed
    problems = task.make_problems(recipe.n_train, recipe.levels, seed + 100, "train", weights=recipe.level_weights)
    return Dataset.from_list([
        {"prompt": task.messages(p.question, recipe.system_prompt),
         "completion": [{"role": "assistant", "content": task.think_reply(p.solution, p.answer)}],
         "answer": str(p.answer), "level": p.level}
        for p in problems
    ])


def finalize(trainer, run_dir: Path, tokenizer) -> Path:
    """Make sure the last step has a clean checkpoint; return its dir."""
    final = run_dir / f"checkpoint-{trainer.state.global_step}"
    if not (final / "model.safetensors").exists():
        trainer.save_model(str(final))
    CleanCheckpointCallback(tokenizer).on_save(trainer.args, trainer.state, None)
    return final


def train_sft(recipe: SFTRecipe, model: str | Path, run_dir: Path | str, run_name: str = "sft",
              dataset: Any = None) -> Path:
    """Fine-tune ``model`` on ``dataset`` (default :func:`sft_dataset`); returns the final checkpoint dir."""
    from transformers import set_seed  # deferred: transformers is heavy or optional, loaded only here
    from trl import SFTTrainer  # deferred: trl is heavy or optional, loaded only here

    run_dir = Path(run_dir)
    set_seed(recipe.seed)
    hf, tok = load_start(model, recipe)
    data = sft_dataset(recipe) if dataset is None else dataset
    keep = [c for c in ("prompt", "completion", "chat_template_kwargs") if c in data.column_names]
    data = data.select_columns(keep)
    log.info("%s: SFT on %d examples for %d steps from %s", run_name, len(data), recipe.max_steps, model)
    trainer = SFTTrainer(model=hf, args=recipe.trl_config(str(run_dir)), train_dataset=data, processing_class=tok,
                         callbacks=[TidyLogCallback(run_dir / "log.csv", run_name), CleanCheckpointCallback(tok)])
    drop_printer(trainer)
    trainer.train()
    return finalize(trainer, run_dir, tok)
