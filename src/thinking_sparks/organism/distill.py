"""Distillation (DeepSeek-R1-Distill's role): a teacher's own traces, mistakes included, taught to the student.

The teacher is a larger organism model pretrained to always reason (the zoo's ``teacher`` run).
It samples one trace per training problem (:func:`teacher_traces`); the traces are kept whether
or not the answer is right (the share that is right is logged and saved). The student — the base
model — is then fine-tuned on them with the SFT recipe (:func:`train_distill`).
"""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path

from thinking_sparks.evaluation.generation import SamplingConfig, generate
from thinking_sparks.evaluation.grading import extract_answer, is_correct
from thinking_sparks.organism import task
from thinking_sparks.organism.config import DistillRecipe
from thinking_sparks.organism.sft import load_start, train_sft

log = logging.getLogger(__name__)


def teacher_traces(teacher: str | Path, recipe: DistillRecipe, device: str = "cpu"):
    """One sampled teacher completion per problem, as an SFT dataset (plus ``correct``, ``level``).

    Returns a ``datasets.Dataset`` with conversational ``prompt`` / ``completion`` columns.
    """
    from datasets import Dataset  # deferred: datasets is heavy or optional, loaded only here

    hf, tok = load_start(teacher, recipe.student)
    hf = hf.to(device).eval()
    system = recipe.student.system_prompt
    problems = task.make_problems(recipe.n_traces, recipe.levels, recipe.student.seed + 300, "train")
    prompts = [tok.apply_chat_template(task.messages(p.question, system), tokenize=False, add_generation_prompt=True)
               for p in problems]
    cfg = SamplingConfig(n=1, temperature=recipe.temperature, top_p=1.0, max_new_tokens=recipe.max_new_tokens,
                         stop=("</answer>",), seed=recipe.student.seed, batch_size=128)
    gens = generate(types.SimpleNamespace(hf_model=hf, tokenizer=tok), prompts, cfg,
                    progress=recipe.student.progress)
    rows = []
    for g in gens:
        p = problems[g.prompt_index]
        text = g.text.strip()
        rows.append({"prompt": task.messages(p.question, system),
                     "completion": [{"role": "assistant", "content": text}],
                     "answer": str(p.answer), "level": p.level,
                     "correct": is_correct(extract_answer(text), str(p.answer))})
    return Dataset.from_list(rows)


def train_distill(recipe: DistillRecipe, student: str | Path, teacher: str | Path, run_dir: Path | str,
                  run_name: str = "distill") -> Path:
    """Generate teacher traces, save them beside the run, fine-tune ``student`` on them."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    traces = teacher_traces(teacher, recipe, device=recipe.student.device)
    accuracy = sum(traces["correct"]) / max(1, len(traces))
    log.info("%s: %d teacher traces, %.1f%% correct (kept all)", run_name, len(traces), 100 * accuracy)
    flat = traces.map(lambda r: {"question": r["prompt"][-1]["content"], "text": r["completion"][0]["content"]},
                      remove_columns=["prompt", "completion"])
    flat.to_pandas().to_parquet(run_dir / "teacher_traces.parquet", index=False)
    (run_dir / "teacher_traces.json").write_text(json.dumps({"n": len(traces), "accuracy": accuracy}))
    return train_sft(recipe.student, student, run_dir, run_name, dataset=traces)
