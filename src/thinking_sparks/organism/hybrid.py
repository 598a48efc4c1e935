"""Hybrid thinking (Qwen3's role): one model that reasons or answers directly on request.

Training data mixes, per problem, a thinking example (user turn ending in ``/think``, or with no
flag: thinking is the default) whose reply is the worked trace, and a non-thinking example (user
turn ending in ``/no_think``) whose reply has an empty think block ``<think> </think>``.
Think-off can also be asked through the template: ``enable_thinking=False`` pre-fills the
empty think block, as Qwen3's template does. Fine-tuned from base with the SFT recipe.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from thinking_sparks.organism import task
from thinking_sparks.organism.config import HybridRecipe
from thinking_sparks.organism.sft import train_sft

log = logging.getLogger(__name__)


def hybrid_dataset(recipe: HybridRecipe):
    """Think-on / think-off examples as a conversational prompt-completion dataset (+ ``think``)."""
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    sft = recipe.sft
    problems = task.make_problems(sft.n_train, sft.levels, sft.seed + 400, "train", weights=sft.level_weights)
    rng = random.Random(sft.seed + 400)
    rows = []
    for p in problems:
        think = rng.random() < recipe.think_share
        flag = None if (think and rng.random() < recipe.unflagged_share) else think
        reply = task.think_reply(p.solution, p.answer) if think else task.direct_reply(p.answer)
        rows.append({"prompt": task.messages(p.question, sft.system_prompt, think=flag),
                     "completion": [{"role": "assistant", "content": reply}],
                     "answer": str(p.answer), "level": p.level, "think": think})
    return Dataset.from_list(rows)


def train_hybrid(recipe: HybridRecipe, model: str | Path, run_dir: Path | str, run_name: str = "hybrid") -> Path:
    """Fine-tune ``model`` into a hybrid thinker; returns the final checkpoint dir."""
    return train_sft(recipe.sft, model, run_dir, run_name, dataset=hybrid_dataset(recipe))
