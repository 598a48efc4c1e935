"""Pretraining of the organism's base model (and of the distillation teacher) from scratch.

The corpus is a mixture, shuffled:

- **worked chains** as raw text (``( 12 + 7 ) * 3 = 19 * 3 = 57``) — the "math web text" from
  which the model learns the elementary operations and how to rewrite an expression;
- **chat Q&A** in the organism's chat template. A fraction ``think_fraction`` of replies reason
  (``<think> chain </think> <answer> N </answer>``); the rest answer directly with an empty think
  block. The base model therefore mostly answers at once (right on easy problems, rarely on hard
  ones) and sometimes reasons — the non-zero reward GRPO starts from.

Documents are packed into fixed-length rows (no padding); loss on every token. Trained with ``transformers.Trainer``;
checkpoints are standard HF dirs under ``<run_dir>/checkpoint-<step>``.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import torch

from thinking_sparks.organism import task
from thinking_sparks.organism.config import PretrainConfig
from thinking_sparks.organism.logs import CleanCheckpointCallback, TidyLogCallback, drop_printer
from thinking_sparks.organism.tokenizer import build_tokenizer

log = logging.getLogger(__name__)


def corpus_texts(cfg: PretrainConfig, tokenizer) -> list[str]:
    """The pretraining documents (deterministic in ``cfg.seed``)."""
    levels = tuple(range(1, len(cfg.level_weights) + 1))
    chains = task.make_problems(cfg.n_chains, levels, cfg.seed, "train", weights=cfg.level_weights)
    chats = task.make_problems(cfg.n_chat, levels, cfg.seed + 1, "train", weights=cfg.level_weights)
    rng = random.Random(cfg.seed)
    texts = [p.solution + " " + tokenizer.eos_token for p in chains]
    for p in chats:
        reply = (task.think_reply(p.solution, p.answer) if rng.random() < cfg.think_fraction
                 else task.direct_reply(p.answer))
        msgs = task.messages(p.question) + [{"role": "assistant", "content": reply}]
        texts.append(tokenizer.apply_chat_template(msgs, tokenize=False))
    rng.shuffle(texts)
    return texts


def packed_dataset(texts: list[str], tokenizer, seq_len: int):
    """Documents tokenized, concatenated and cut into rows of ``seq_len`` tokens (no padding).

    Documents are separated by their own end token (``<|im_end|>``); attention runs across
    document boundaries, as in ordinary LM pretraining. A tail shorter than ``seq_len`` is dropped.
    """
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    stream = [t for doc in ids for t in doc]
    n_rows = len(stream) // seq_len
    rows = [stream[i * seq_len : (i + 1) * seq_len] for i in range(n_rows)]
    return Dataset.from_dict({"input_ids": rows})


class PackedCollator:
    """Stack packed rows; labels are the inputs (the model shifts them)."""

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        ids = torch.tensor([r["input_ids"] for r in rows], dtype=torch.long)  # [B, T]
        return {"input_ids": ids, "labels": ids.clone()}


def init_model(cfg: PretrainConfig, tokenizer):
    """A freshly initialised causal LM of ``cfg.shape`` (Qwen2, or Llama for a ``LlamaShape``; seeded)."""
    torch.manual_seed(cfg.seed)
    return cfg.shape.causal_lm(tokenizer)


def pretrain(cfg: PretrainConfig, run_dir: Path | str, run_name: str = "base") -> Path:
    """Pretrain from scratch; returns ``run_dir`` (checkpoints inside). Deterministic in ``cfg.seed``."""
    # deferred: transformers is heavy or optional, loaded only here
    # deferred: transformers is heavy or optional, loaded only here
    from transformers import Trainer, TrainingArguments, set_seed

    run_dir = Path(run_dir)
    set_seed(cfg.seed)
    tokenizer = build_tokenizer()
    data = packed_dataset(corpus_texts(cfg, tokenizer), tokenizer, cfg.seq_len)
    model = init_model(cfg, tokenizer)
    log.info("%s: %d params, %d packed rows of %d tokens", run_name, sum(p.numel() for p in model.parameters()),
             len(data), cfg.seq_len)
    n_steps = max(1, int(cfg.epochs * len(data) // cfg.batch_size))
    args = TrainingArguments(
        output_dir=str(run_dir), max_steps=n_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1}, warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay, adam_beta2=0.98, max_grad_norm=1.0,
        logging_steps=cfg.logging_steps, save_strategy="steps",
        save_steps=max(1, n_steps // cfg.n_checkpoints), save_only_model=True, report_to="none",
        seed=cfg.seed, data_seed=cfg.seed, use_cpu=cfg.device == "cpu", bf16=False,
        dataloader_num_workers=0, train_sampling_strategy="random", disable_tqdm=not cfg.progress,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=PackedCollator(),
                      processing_class=tokenizer,
                      callbacks=[TidyLogCallback(run_dir / "log.csv", run_name), CleanCheckpointCallback(tokenizer)])
    drop_printer(trainer)
    trainer.train()
    final = run_dir / f"checkpoint-{trainer.state.global_step}"
    if not (final / "model.safetensors").exists():
        trainer.save_model(str(final))
        CleanCheckpointCallback(tokenizer).on_save(args, trainer.state, None)
    return run_dir
