"""What pages ``05_interventions`` and ``06_thinking_modes`` compute, as library calls (the
notebooks only display it). Models come in as :class:`~thinking_sparks.emergence.modelruns.ModelRun`
(an organism run or a user's base and checkpoints).

Head sets come from the emergence room's circuits (:func:`thinking_sparks.emergence.compare`):

- *emergent*: the post-trained model's emergent heads (in its circuit, not in the base's), top ``k``
  by circuit score;
- *base*: the base circuit's heads, top ``k`` by the base's score;
- *control*: the model's circuit on a control set (the organism's single-operation problems of the
  easy set, answered in one step: its stand-in for TriviaQA, a task that needs no reasoning; or a
  set of the user's), top ``k``;
- *sft*: SFT's emergent heads (Table 5's "scale up SFT heads"), top ``k``;
- *grpo early*: the emergent heads of the GRPO run's first checkpoint (Table 5's 100-step GSM8K
  circuit; ``grpo-easy`` plays GRPO-GSM8K), top ``k``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.emergence.modelruns import ModelRun
from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.interventions.claims import ablation_verdicts, scaling_verdicts
from thinking_sparks.interventions.headsets import top_heads
from thinking_sparks.atomic import write_text as write_text_atomic
from thinking_sparks.verdicts import verdict_table

log = logging.getLogger(__name__)

CONTROL_LEVEL = 1


def control_dataset() -> str:
    """The single-operation (level-1) problems of the organism's ``easy`` set as a JSON-lines file in
    the cache; its path (the control circuit's questions)."""
    from thinking_sparks import runtime
    from thinking_sparks.organism import task

    path = runtime.cache_dir() / "interventions" / f"control-easy-L{CONTROL_LEVEL}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"id": r["id"], "question": r["question"], "answer": r["answer"], "difficulty": "control"}
                for r in task.eval_set("easy") if r["level"] == CONTROL_LEVEL]
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def control_set(value: str | None, eval_sets: list[str]) -> str | None:
    """The control circuit's question set: ``auto`` -> :func:`control_dataset` when the eval sets
    are the organism's (else None: no control set), None -> None, anything else as given."""
    if value == "auto":
        return control_dataset() if ex.has_taxonomy(eval_sets) else None
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
class PageHeads:
    """The head sets of the page (``sets``), one sentence per set on how it was chosen, and the
    shape of the model whose heads they name."""

    sets: dict[str, list[str]]
    notes: dict[str, str] = field(default_factory=dict)
    n_layers: int = 0
    n_heads: int = 0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"set": k, "n_heads": len(v), "heads": ", ".join(v) or "(none)",
                              "source": self.notes.get(k, "")} for k, v in self.sets.items()])


def choose_heads(model: ModelRun, base: str, sft: ModelRun | None, grpo: ModelRun | None, pairs: Any,
                 settings: Any, k: int, control: str | None = None) -> PageHeads:
    """The head sets (module docstring) from cached emergence circuits, each against ``base``'s
    circuit; a set whose run (``sft``, ``grpo``) or question set (``control``) is None is empty."""
    from thinking_sparks.emergence import compare

    main = compare(model.final, base, pairs, settings)
    sets = {"emergent": list(main.sets.emergent[:k]), "base": top_heads(_scores(main.base), k)}
    notes = {"emergent": f"{model.label}'s emergent heads ({len(main.sets.emergent)} in all), top {k} by score",
             "base": f"the base's circuit ({len(main.base.heads)} heads), top {k} by score"}
    sets["control"], notes["control"] = [], "no control set"
    if control is not None:
        ctl = compare(model.final, base, dataclasses.replace(pairs, dataset=control), settings)
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
    return PageHeads(sets, notes, main.model.n_layers, main.model.n_heads)


def _step(spec: str) -> str:
    """A checkpoint's step as pages name it (``organism/full/grpo-easy@25`` -> ``@25``)."""
    from thinking_sparks.emergence.sweep import step_of

    step = step_of(spec, -1)
    return f"@{step}" if step >= 0 else spec


def run_page(heads: PageHeads, params: EvalParams, model: ModelRun, base: str, grpo: ModelRun | None,
             seeds: int, n_boot: int, sets: Sequence[str], device: str = "cpu") -> dict[str, Any]:
    """Tables 1, 4/5, Fig 4 (None without a GRPO run) and the verdicts for the page (every
    evaluation cached). Failure counts are empty on sets other than the organism's."""
    from thinking_sparks.emergence.sweep import step_of
    from thinking_sparks.models import load_model

    lm, base_lm = load_model(model.final, device=device), load_model(base, device=device)
    named = {k: heads.sets[k] for k in ("emergent", "base", "control") if heads.sets[k]}  # empty sets: no row
    conds = ex.ablation_conditions(named, lm.n_layers, lm.n_heads,
                                   random_like="emergent" if heads.sets["emergent"] else None, seeds=range(seeds))
    table1 = ex.pass_at_1_table(lm, conds, params, sets)
    scaled = {k: heads.sets[k] for k in ("sft", "grpo early") if heads.sets[k]}
    scale_conds = ex.scaling_conditions(scaled, factors=(1.3, 0.5))
    scale_conds += [ex.Condition(f"ablate {k}", ex.parse_edits(v), f"ablate {k}") for k, v in scaled.items()]
    table5 = ex.pass_at_1_table(base_lm, scale_conds, params, sets)
    sweep = None
    if grpo is not None:
        start = grpo.base or base  # Fig 4's step 0: where the GRPO run started
        loaded = {base: base_lm}
        points = [(0, start)] + [(step_of(c, i + 1), c) for i, c in enumerate(grpo.checkpoints)]
        sweep = ex.checkpoint_sweep(points, params, sets,
                                    load=lambda s: loaded[s] if s in loaded else load_model(s, device=device))
    classified, failures = ex.taxonomy(pd.concat([table1.samples.assign(model=model.label),
                                                  table5.samples.assign(model="base")]), by=["model", "condition"],
                                       sets=sets)
    tables = [ablation_verdicts(table1, n_boot=n_boot)] if heads.sets["emergent"] else []
    if "sft" in scaled and len(sets) > 1:  # Table 5's reading: the hardest set gains, the easiest loses
        tables += [scaling_verdicts(table5, label="x1.3 sft", hard=(ex.set_label(sets[-1]),),
                                    easy=(ex.set_label(sets[0]),), n_boot=n_boot)]
    return {"table1": table1, "random": ex.random_summary(table1.table), "table5": table5, "sweep": sweep,
            "classified": classified, "failures": failures,
            "verdicts": pd.concat(tables, ignore_index=True) if tables else verdict_table([])}


def examples(classified: pd.DataFrame, conditions: list[str], n_problems: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few problems with the first completion of each condition (and its failure category, where
    the taxonomy applies), side by side.

    Problems are picked (seeded) among those where the conditions disagree on correctness.
    """
    sub = classified[classified["condition"].isin(conditions) & (classified["sample_index"] == 0)]
    wide = sub.pivot_table(index=["set", "problem_id"], columns="condition", values="correct", aggfunc="first")
    mixed = wide[wide.nunique(axis=1) > 1].index.tolist() or wide.index.tolist()
    rng = np.random.default_rng(seed)
    picks = [mixed[i] for i in sorted(rng.choice(len(mixed), size=min(n_problems, len(mixed)), replace=False))]
    rows = []
    for s, pid in picks:
        for cond in conditions:
            r = sub[(sub["set"] == s) & (sub["problem_id"] == pid) & (sub["condition"] == cond)]
            if not r.empty:
                r = r.iloc[0]
                rows.append({"problem": pid, "gold": r["gold"], "condition": cond,
                             **({"failure": r["failure"]} if "failure" in r else {}), "completion": r["completion"]})
    return pd.DataFrame(rows)


def timing(*results: ex.ExperimentResult) -> float:
    """Generation seconds of the evaluations behind these results (as computed, cached or not)."""
    total = 0.0
    for res in results:
        for r in res.results.values():
            total += float(r.info.get("timing", {}).get("seconds", 0.0))
    return total



def pass_table(table: pd.DataFrame) -> pd.DataFrame:
    """Conditions x sets, each cell ``pass@1 [ci_low, ci_high]`` (display form of a pass@1 table;
    sets in the table's order)."""
    cells = table.assign(cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                               zip(table["pass@1"], table["ci_low"], table["ci_high"])])
    wide = cells.pivot_table(index="condition", columns="set", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=list(dict.fromkeys(table["set"]))).rename_axis(None, axis=1)


# ---------------------------------------------------------------- page 06_thinking_modes


def think_heads(model: str, pairs: Any, settings: Any, k: int, switch: str = "flags", on: str | None = None,
                off: str | None = None) -> dict[str, Any]:
    """A model's think-on and think-off circuits (:func:`thinking_sparks.emergence.think_circuits`:
    the hybrid's ``switch``, or two named modes ``on`` / ``off``): both head lists, their overlap and
    the think-off-only heads (top ``k`` by the think-off score). ``model`` is a spec
    (``organism/<profile>/hybrid@final``, a chat model with prompting-style modes, ...)."""
    from thinking_sparks.emergence import think_circuits

    cmp = think_circuits(model, pairs, settings, switch=switch, on=on, off=off)
    on_heads, off_heads = list(cmp.base.heads), list(cmp.model.heads)
    return {"comparison": cmp, "on": on_heads, "off": off_heads, "overlap": ex.head_overlap(on_heads, off_heads),
            "off_only": list(cmp.sets.emergent[:k]), "n_off_only": len(cmp.sets.emergent),
            "on_only": list(cmp.sets.base_only)}


def run_thinking(model: str, off_only: list[str], params: EvalParams, k_params: EvalParams,
                 k_dataset: str = "organism/hard", sets: Sequence[str] = ex.SETS, switch: str = "flags",
                 device: str = "cpu") -> dict[str, Any]:
    """Table 2 (pass@1 per set under each mode / intervention) and Fig 5 (pass@k, success@k curves);
    failure counts are empty on sets other than the organism's."""
    from thinking_sparks.models import load_model

    lm = load_model(model, device=device)
    conds = ex.think_conditions(off_only, scale=0.5, switch=switch)
    table2 = ex.pass_at_1_table(lm, conds, params, sets)
    curves = ex.k_curves(lm, [c for c in conds if c.label != "think on"], k_params, dataset=k_dataset)
    classified, failures = ex.taxonomy(table2.samples, by=["condition"], sets=sets)
    return {"table2": table2, "curves": curves, "classified": classified, "failures": failures}
