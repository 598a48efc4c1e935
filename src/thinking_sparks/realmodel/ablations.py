"""Zeroing and halving the heads only one prompting style recruits (§6, Table 2, Fig 5 on a real
model): each style evaluated in its own prompt, unmodified, with its own heads zeroed, with as many
layer-matched random heads zeroed, and for the direct style those heads scaled; pass@k / success@k
curves of the direct style."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from thinking_sparks.evaluation.harness import EvalParams
from thinking_sparks.interventions import experiments as ex
from thinking_sparks.models import load_model

__all__ = ["StyleAblations", "style_ablations", "style_interventions", "style_sets"]


def style_sets(level: str) -> dict[str, str]:
    """The eval sets of the two styles at ``level``: ``think`` -> ``words/<level>``, ``direct`` ->
    ``words/<level>-direct`` (the same problems, asked the two ways)."""
    return {"think": f"words/{level}", "direct": f"words/{level}-direct"}


def style_interventions(model: str, think_only: list[str], direct_only: list[str], params: dict[str, EvalParams],
                        level: str = "easy", seeds: int = 3, scale: float = 0.5,
                        device: str = "cpu") -> dict[str, object]:
    """Each style's heads zeroed (and the direct-only heads scaled by ``scale``) in that style, beside
    the unmodified model and ``seeds`` layer-matched random sets of the same size (every evaluation
    cached). ``params[style]`` are the sampling settings per style (their ``dataset`` is replaced).

    Returns ``{"think": ExperimentResult, "direct": ..., "curves": pass@k / success@k of the direct
    style (no ablation, ablated, scaled), "heads": {style: heads}}``; a style without heads of its
    own has no intervention rows (only its unmodified row).
    """
    lm = load_model(model, device=device)
    sets = style_sets(level)
    out: dict[str, object] = {"heads": {"think": list(think_only), "direct": list(direct_only)}}
    for style, heads in (("think", think_only), ("direct", direct_only)):
        named = {f"{style}-only": heads} if heads else {}
        conds = ex.ablation_conditions(named, lm.n_layers, lm.n_heads, random_like=f"{style}-only" if heads else None,
                                       seeds=range(seeds))
        if style == "direct" and heads:
            conds += ex.scaling_conditions(named, factors=(scale,), baseline=False)
        out[style] = ex.pass_at_1_table(lm, conds, params[style], sets=[sets[style]])
    kept = list(ex.ablation_conditions({"direct-only": direct_only} if direct_only else {}, lm.n_layers, lm.n_heads))
    kept += ex.scaling_conditions({"direct-only": direct_only}, factors=(scale,), baseline=False) if direct_only else []
    out["curves"] = ex.k_curves(lm, kept, params["direct"], dataset=sets["direct"])
    return out


@dataclass
class StyleAblations:
    """:func:`style_interventions` as data: ``think`` / ``direct`` pass@1 tables with their samples,
    ``curves`` (pass@k / success@k of the direct style), ``heads`` (style -> intervened heads) and the
    generation seconds behind them (as computed)."""

    think: ex.ExperimentResult
    direct: ex.ExperimentResult
    curves: ex.ExperimentResult
    heads: dict[str, list[str]]
    seconds: float = 0.0

    @property
    def table(self) -> pd.DataFrame:
        """Both styles' pass@1 rows (think first)."""
        return pd.concat([self.think.table, self.direct.table], ignore_index=True)

    def as_dict(self) -> dict[str, object]:
        """The form :func:`~thinking_sparks.realmodel.claims.real_verdicts` reads."""
        return {"think": self.think, "direct": self.direct, "curves": self.curves, "heads": self.heads}


def _generation_seconds(*results: ex.ExperimentResult) -> float:
    return sum(float(r.info.get("timing", {}).get("seconds", 0.0)) for res in results for r in res.results.values())


def style_ablations(model: str, think_only: list[str], direct_only: list[str], params: dict[str, EvalParams],
                    level: str = "easy", seeds: int = 3, scale: float = 0.5, device: str = "cpu") -> StyleAblations:
    """:func:`style_interventions` as a :class:`StyleAblations` (tables and samples; the per-evaluation
    objects are dropped once their seconds are counted)."""
    out = style_interventions(model, think_only, direct_only, params, level, seeds, scale, device)
    parts = [out[s] for s in ("think", "direct", "curves")]
    seconds = _generation_seconds(*parts)
    think, direct, curves = (dataclasses.replace(r, results={}) for r in parts)
    return StyleAblations(think, direct, curves, out["heads"], seconds)
