"""Tidy training logs and clean checkpoints, shared by every recipe.

:class:`TidyLogCallback` turns the trainer's per-step log dicts into one CSV row per
(step, metric) — columns ``run, step, metric, value`` — written to ``<run_dir>/log.csv`` as
training goes (loss, lr, grad norm, and for GRPO the reward terms).

:class:`CleanCheckpointCallback` makes every ``checkpoint-<step>`` dir a standard HF model dir:
it saves the tokenizer beside the weights (loadable by stock ``AutoTokenizer``: see
:mod:`thinking_sparks.hfcompat`) and drops trainer leftovers (optimizer, rng, args).
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from thinking_sparks.hfcompat import make_portable

log = logging.getLogger(__name__)

_DROP = ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin", "scaler.pt")


class TidyLogCallback(TrainerCallback):
    """Append ``run, step, metric, value`` rows to ``path`` on every trainer log event."""

    def __init__(self, path: Path | str, run: str):
        self.path, self.run = Path(path), run
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as fh:
            csv.writer(fh).writerow(["run", "step", "metric", "value"])

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        rows = []
        for key, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
                continue
            name = "lr" if key == "learning_rate" else key
            rows.append([self.run, int(state.global_step), name, float(value)])
        with self.path.open("a", newline="") as fh:
            csv.writer(fh).writerows(rows)


class CleanCheckpointCallback(TrainerCallback):
    """After each save: tokenizer into the checkpoint dir, trainer-only files removed."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def on_save(self, args, state, control, **kwargs):
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not ckpt.exists():
            return
        if self.tokenizer is not None and not (ckpt / "tokenizer.json").exists():
            self.tokenizer.save_pretrained(str(ckpt))
        fix_tokenizer_class(ckpt)
        for name in _DROP:
            (ckpt / name).unlink(missing_ok=True)


def fix_tokenizer_class(directory: Path) -> None:
    """Make the saved tokenizer load as saved under stock ``AutoTokenizer`` too (transformers 5
    writes ``TokenizersBackend``, and for ``qwen2`` ignores the class anyway): see
    :func:`thinking_sparks.hfcompat.make_portable`. Weights are not touched."""
    make_portable(directory)


class BarOnlyProgress(ProgressCallback):
    """transformers' progress bar, minus the raw log dict it writes under the bar at every log step."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None


def drop_printer(trainer) -> None:
    """Keep raw log dicts off the console (the tidy log has them): no ``PrinterCallback``, and the
    progress bar (when on) replaced by :class:`BarOnlyProgress`."""
    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnlyProgress())
