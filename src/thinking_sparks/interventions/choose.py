"""Which heads the intervention pages act on, chosen from the emergence room's circuits.

Head sets of a post-trained model against its base (:func:`choose_heads`, pages 05):

- *emergent*: the post-trained model's emergent heads (in its circuit, not in the base's), top ``k``
  by circuit score;
- *base*: the base circuit's heads, top ``k`` by the base's score;
- *control*: the model's circuit on a control set (the organism's single-operation problems of the
  easy set, answered in one step: its stand-in for TriviaQA, a task that needs no reasoning; or a
  set of the user's), top ``k``;
- *sft*: SFT's emergent heads (Table 5's "scale up SFT heads"), top ``k``;
- *grpo early*: the emergent heads of the GRPO run's first checkpoint (Table 5's 100-step GSM8K
  circuit; ``grpo-easy`` plays GRPO-GSM8K), top ``k``.

A hybrid model's two modes (:func:`think_heads`, pages 06 and 07): the think-on and think-off
circuits and the heads only in the think-off one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks import runtime
from thinking_sparks.atomic import write_text
from thinking_sparks.emergence import compare, think_circuits
from thinking_sparks.emergence.modelruns import ModelRun
from thinking_sparks.evaluation.datasets import load_eval_set
from thinking_sparks.interventions.experiments import has_taxonomy, head_overlap
from thinking_sparks.interventions.headsets import top_heads
from thinking_sparks.models import step_of
from thinking_sparks.organism import task

CONTROL_LEVEL = 1


def control_dataset() -> str:
    """The single-operation (level-1) problems of the organism's ``easy`` set as a JSON-lines file in
    the cache; its path (the control circuit's questions)."""
    path = runtime.cache_dir() / "interventions" / f"control-easy-L{CONTROL_LEVEL}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"id": r["id"], "question": r["question"], "answer": r["answer"], "difficulty": "control"}
                for r in task.eval_set("easy") if r["level"] == CONTROL_LEVEL]
        write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def control_set(value: str | None, eval_sets: list[str]) -> str | None:
    """The control circuit's question set: ``auto`` -> :func:`control_dataset` when the eval sets
    are the organism's (else None: no control set), None -> None, anything else as given."""
    if value == "auto":
        return control_dataset() if has_taxonomy(eval_sets) else None
    return value


def _scores(result: Any) -> dict[str, float]:
    """``{head: score}`` of a circuit result's heads (its ``[n_layers, n_heads]`` score map)."""
    score = np.asarray(result.score)
    out = {}
    for h in result.heads:
        layer, head = (int(x) for x in h[1:].split("H"))
        out[h] = float(score[layer, head])
    return out


@dataclass
class ChosenHeads:
    """The head sets of page 05 (``sets``: name -> ``L{l}H{h}`` list), one sentence per set on how it
    was chosen, and the shape of the model whose heads they name."""

    sets: dict[str, list[str]]
    notes: dict[str, str] = field(default_factory=dict)
    n_layers: int = 0
    n_heads: int = 0

    def frame(self) -> pd.DataFrame:
        """``set, n_heads, heads, source``: one row per set (``(none)`` for an empty one)."""
        return pd.DataFrame([{"set": k, "n_heads": len(v), "heads": ", ".join(v) or "(none)",
                              "source": self.notes.get(k, "")} for k, v in self.sets.items()])


def choose_heads(model: ModelRun, base: str, sft: ModelRun | None, grpo: ModelRun | None, pairs: Any,
                 settings: Any, k: int, control: str | None = None) -> ChosenHeads:
    """The head sets (module docstring) from cached emergence circuits, each against ``base``'s
    circuit; a set whose run (``sft``, ``grpo``) or question set (``control``) is None is empty."""
    main = compare(model.final, base, pairs, settings)
    sets = {"emergent": list(main.sets.emergent[:k]), "base": top_heads(_scores(main.base), k)}
    notes = {"emergent": f"{model.label}'s emergent heads ({len(main.sets.emergent)} in all), top {k} by score",
             "base": f"the base's circuit ({len(main.base.heads)} heads), top {k} by score"}
    sets["control"], notes["control"] = [], "no control set"
    if control is not None:
        # the control set may hold fewer questions than the main circuits use: all of them, then
        n = min(pairs.n_questions, len(load_eval_set(control, limit=pairs.n_questions)))
        ctl = compare(model.final, base, dataclasses.replace(pairs, dataset=control, n_questions=n), settings)
        sets["control"] = top_heads(_scores(ctl.model), k)
        notes["control"] = f"{model.label}'s circuit on the control questions ({len(ctl.model.heads)} heads), top {k}"
    sets["sft"], notes["sft"] = [], "no SFT run"
    if sft is not None:
        c = compare(sft.final, base, pairs, settings)
        sets["sft"] = list(c.sets.emergent[:k])
        notes["sft"] = f"{sft.label}'s emergent heads ({len(c.sets.emergent)} in all), top {k}"
    sets["grpo early"], notes["grpo early"] = [], "no GRPO run"
    if grpo is not None:
        first = grpo.checkpoints[0]
        c = compare(first, base, pairs, settings, final=grpo.final)
        sets["grpo early"] = list(c.sets.emergent[:k])
        notes["grpo early"] = (f"{grpo.label}'s first checkpoint ({_step(first)})'s emergent heads "
                               f"({len(c.sets.emergent)} in all), top {k}")
    return ChosenHeads(sets, notes, main.model.n_layers, main.model.n_heads)


def _step(spec: str) -> str:
    """A checkpoint's step as pages name it (``organism/full/grpo-easy@25`` -> ``@25``)."""
    step = step_of(spec, -1)
    return f"@{step}" if step >= 0 else spec


def think_heads(model: str, pairs: Any, settings: Any, k: int, switch: str = "flags", on: str | None = None,
                off: str | None = None) -> dict[str, Any]:
    """A model's think-on and think-off circuits (:func:`thinking_sparks.emergence.think_circuits`:
    the hybrid's ``switch``, or two named modes ``on`` / ``off``): both head lists, their overlap and
    the think-off-only heads (top ``k`` by the think-off score). ``model`` is a spec
    (``organism/<profile>/hybrid@final``, a chat model with prompting-style modes, ...).

    Returns:
        ``comparison`` (the :class:`~thinking_sparks.emergence.Comparison`: ``base`` = think on,
        ``model`` = think off), ``on``, ``off`` (head lists), ``overlap`` (:func:`head_overlap`),
        ``off_only`` (top ``k``), ``n_off_only``, ``on_only``.
    """
    cmp = think_circuits(model, pairs, settings, switch=switch, on=on, off=off)
    on_heads, off_heads = list(cmp.base.heads), list(cmp.model.heads)
    return {"comparison": cmp, "on": on_heads, "off": off_heads, "overlap": head_overlap(on_heads, off_heads),
            "off_only": list(cmp.sets.emergent[:k]), "n_off_only": len(cmp.sets.emergent),
            "on_only": list(cmp.sets.base_only)}
