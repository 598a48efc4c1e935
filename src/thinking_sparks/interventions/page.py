"""What page ``05_interventions`` computes, as library calls (the notebook only displays it).

Head sets come from the emergence room's circuits (:func:`thinking_sparks.emergence.compare`):

- *emergent*: the distilled model's emergent heads (in its circuit, not in the base's), top ``k``
  by circuit score;
- *base*: the base circuit's heads, top ``k`` by the base's score;
- *control*: the distilled model's circuit on the single-operation problems of the easy set (level 1,
  answered in one step: the organism's stand-in for TriviaQA, a task that needs no reasoning), top ``k``;
- *sft*: SFT's emergent heads (Table 5's "scale up SFT heads"), top ``k``;
- *grpo early*: the emergent heads of the GRPO run's first checkpoint (Table 5's 100-step GSM8K
  circuit; ``grpo-easy`` plays GRPO-GSM8K), top ``k``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.interventions.claims import ablation_verdicts, scaling_verdicts
from thinking_sparks.interventions.headsets import top_heads
from thinking_sparks.runtime import write_text_atomic
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
    """The head sets of the page (``sets``) and one sentence per set on how it was chosen."""

    sets: dict[str, list[str]]
    notes: dict[str, str] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"set": k, "n_heads": len(v), "heads": ", ".join(v) or "(none)",
                              "source": self.notes.get(k, "")} for k, v in self.sets.items()])


def choose_heads(profile: str, model_run: str, base_run: str, sft_run: str, grpo_run: str, pairs: Any,
                 settings: Any, k: int) -> PageHeads:
    """The five head sets (module docstring) from cached emergence circuits."""
    from thinking_sparks.emergence import compare
    from thinking_sparks.organism.zoo import checkpoint_steps, run_dir

    spec = lambda run, step="final": f"organism/{profile}/{run}@{step}"
    base = spec(base_run)
    main = compare(spec(model_run), base, pairs, settings)
    ctl = compare(spec(model_run), base, dataclasses.replace(pairs, dataset=control_dataset()), settings)
    sft = compare(spec(sft_run), base, pairs, settings)
    first = checkpoint_steps(run_dir(profile, grpo_run))[0]
    early = compare(spec(grpo_run, first), base, pairs, settings, final=spec(grpo_run))
    sets = {
        "emergent": list(main.sets.emergent[:k]),
        "base": top_heads(_scores(main.base), k),
        "control": top_heads(_scores(ctl.model), k),
        "sft": list(sft.sets.emergent[:k]),
        "grpo early": list(early.sets.emergent[:k]),
    }
    notes = {
        "emergent": f"{model_run}'s emergent heads ({len(main.sets.emergent)} in all), top {k} by score",
        "base": f"{base_run}'s circuit ({len(main.base.heads)} heads), top {k} by score",
        "control": f"{model_run}'s circuit on single-operation problems ({len(ctl.model.heads)} heads), top {k}",
        "sft": f"{sft_run}'s emergent heads ({len(sft.sets.emergent)} in all), top {k}",
        "grpo early": f"{grpo_run}@{first}'s emergent heads ({len(early.sets.emergent)} in all), top {k}",
    }
    return PageHeads(sets, notes)


def run_page(profile: str, heads: PageHeads, params: EvalParams, model_run: str, base_run: str, grpo_run: str,
             seeds: int, n_boot: int) -> dict[str, Any]:
    """Tables 1, 4/5, Fig 4 and the verdicts for the page (every evaluation cached)."""
    from thinking_sparks.models import load_model
    from thinking_sparks.organism import config
    from thinking_sparks.organism.zoo import checkpoint_steps, run_dir

    spec = lambda run, step="final": f"organism/{profile}/{run}@{step}"
    model, base = load_model(spec(model_run)), load_model(spec(base_run))
    start = spec(config.profile(profile)[grpo_run].parent)  # Fig 4's step 0: where the GRPO run started
    loaded = {spec(base_run): base}
    named = {k: heads.sets[k] for k in ("emergent", "base", "control") if heads.sets[k]}  # empty sets: no row
    conds = ex.ablation_conditions(named, model.n_layers, model.n_heads,
                                   random_like="emergent" if heads.sets["emergent"] else None, seeds=range(seeds))
    table1 = ex.pass_at_1_table(model, conds, params)
    scaled = {k: heads.sets[k] for k in ("sft", "grpo early") if heads.sets[k]}
    scale_conds = ex.scaling_conditions(scaled, factors=(1.3, 0.5))
    scale_conds += [ex.Condition(f"ablate {k}", ex.parse_edits(v), f"ablate {k}") for k, v in scaled.items()]
    table5 = ex.pass_at_1_table(base, scale_conds, params)
    steps = checkpoint_steps(run_dir(profile, grpo_run))
    sweep = ex.checkpoint_sweep([(0, start)] + [(s, spec(grpo_run, s)) for s in steps], params,
                                load=lambda s: loaded[s] if s in loaded else load_model(s))
    classified, failures = ex.taxonomy(pd.concat([table1.samples.assign(model=model_run),
                                                  table5.samples.assign(model=base_run)]), by=["model", "condition"])
    tables = [ablation_verdicts(table1, n_boot=n_boot)] if heads.sets["emergent"] else []
    tables += [scaling_verdicts(table5, label="x1.3 sft", n_boot=n_boot)] if "sft" in scaled else []
    return {"table1": table1, "random": ex.random_summary(table1.table), "table5": table5, "sweep": sweep,
            "classified": classified, "failures": failures, "verdicts": pd.concat(tables, ignore_index=True) if tables else verdict_table([])}


def examples(classified: pd.DataFrame, conditions: list[str], n_problems: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few problems with the first completion of each condition and its failure category, side by side.

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
                rows.append({"problem": pid, "gold": r["gold"], "condition": cond, "failure": r["failure"],
                             "completion": r["completion"]})
    return pd.DataFrame(rows)


def timing(*results: ex.ExperimentResult) -> float:
    """Generation seconds of the evaluations behind these results (as computed, cached or not)."""
    total = 0.0
    for res in results:
        for r in res.results.values():
            total += float(r.info.get("timing", {}).get("seconds", 0.0))
    return total



def pass_table(table: pd.DataFrame) -> pd.DataFrame:
    """Conditions x sets, each cell ``pass@1 [ci_low, ci_high]`` (display form of a pass@1 table)."""
    cells = table.assign(cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                               zip(table["pass@1"], table["ci_low"], table["ci_high"])])
    wide = cells.pivot_table(index="condition", columns="set", values="cell", aggfunc="first", sort=False)
    known = [c for c in ("easy", "medium", "hard") if c in wide.columns]  # the organism's sets in order, then others
    return wide.reindex(columns=known + [c for c in wide.columns if c not in known]).rename_axis(None, axis=1)


# ---------------------------------------------------------------- page 06_thinking_modes


def think_heads(model: str, pairs: Any, settings: Any, k: int, on: str = "think", off: str = "no_think") -> dict[str, Any]:
    """A model's think-on and think-off circuits (:func:`thinking_sparks.emergence.think_circuits`,
    modes ``on`` / ``off``): both head lists, their overlap and the think-off-only heads (top ``k``
    by the think-off score). ``model`` is a spec (``organism/<profile>/hybrid@final``, a chat model
    with prompting-style modes, ...)."""
    from thinking_sparks.emergence import think_circuits

    cmp = think_circuits(model, pairs, settings, on=on, off=off)
    on_heads, off_heads = list(cmp.base.heads), list(cmp.model.heads)
    return {"comparison": cmp, "on": on_heads, "off": off_heads, "overlap": ex.head_overlap(on_heads, off_heads),
            "off_only": list(cmp.sets.emergent[:k]), "n_off_only": len(cmp.sets.emergent),
            "on_only": list(cmp.sets.base_only)}


def run_thinking(profile: str, hybrid_run: str, off_only: list[str], params: EvalParams, k_params: EvalParams,
                 k_dataset: str = "organism/hard") -> dict[str, Any]:
    """Table 2 (pass@1 per set under each mode / intervention) and Fig 5 (pass@k, success@k curves)."""
    from thinking_sparks.models import load_model

    model = load_model(f"organism/{profile}/{hybrid_run}@final")
    conds = ex.think_conditions(off_only, scale=0.5)
    table2 = ex.pass_at_1_table(model, conds, params)
    curves = ex.k_curves(model, [c for c in conds if c.label != "think on"], k_params, dataset=k_dataset)
    classified, failures = ex.taxonomy(table2.samples, by=["condition"])
    return {"table2": table2, "curves": curves, "classified": classified, "failures": failures}
