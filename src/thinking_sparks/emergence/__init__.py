"""Emergence room: circuits over post-training checkpoints -> head sets, cohorts, effects, how sure.

The paper's central analysis (§4, §A.6): which attention heads enter and leave the reasoning
circuit as post-training proceeds.  Modules:

- :mod:`.pairs` — circuit inputs as the paper builds them (question + sampled answer prefix,
  clean = the analysed model's, corrupted = the other's; equal-length cut; identical pairs dropped
  and counted; which samples are the reasoning side of an intermediate checkpoint: a parameter).
- :mod:`.sweep` — one cached circuit per model and pair sides (EAP-IG, KL, top-n at the paper's
  edge fraction, faithfulness, per-head maps, bootstrap inclusion probabilities).
- :mod:`.sets` — emergent / base-only / retained heads, cohorts (with the return rule),
  activation frequency, Table 3's first heads, cross-method maps.
- :mod:`.stats` — effect ``E``, Spearman + permutation p, overlap bootstraps, the IG-steps check
  and top-n scaling.
- :mod:`.headstats` — head-set counts by the analysis plan's rule (p_model >= 0.8, p_base <= 0.2)
  on a paired bootstrap by question, their intervals and their same-size null.
- :mod:`.trace` — model vs base (:func:`compare`) and the per-checkpoint sweep (:func:`trace`).
- :mod:`.modelruns` — the models a page studies (:class:`ModelRun`): an organism run name or a
  user's ``{base, checkpoints}`` (TRL ``checkpoint-N`` folders, local dirs, hub names), resolved once.
- :mod:`.tables` — per-checkpoint counts and Table 3 with CIs and same-size floors, effect and cross-method maps, reward tracking,
  sweep summaries over several runs.
- :mod:`.drawing` — a circuit as nodes and edges for drawing.
- :mod:`.secondset` — the second circuit question set (the paper's AMC circuits, Figs 6 and 9) and
  whether its final emergent heads agree with the first set's.
- :mod:`.claims` — the §4 verdict table.
- :mod:`.cli` — ``sparks heads`` and ``sparks trace``.

API for other rooms (the interventions room consumes head sets)::

    from thinking_sparks.circuits.config import CircuitConfig
    from thinking_sparks.emergence import HeadSets, PairParams, compare

    cmp = compare("organism/sft@final", "organism/base@final",
                  PairParams(n_questions=32), CircuitConfig(steps=5))
    sets: HeadSets = cmp.sets       # .emergent, .base_only, .retained: tuples of "L{l}H{h}",
    sets.emergent[:5]               #   ordered by circuit score, highest first
    cmp.model.importance            # [n_layers, n_heads] I(l, h) of the model (paper §A.6)

``think_circuits(hybrid)`` gives the hybrid model's think-off vs think-on circuits the same way
(``sets.emergent`` = heads only in the think-off circuit).

``compare(model, base, params, settings)`` builds (or reads from the cache) both circuits: the
model's on clean = its own answer prefixes, corrupted = the base's, and the base's on the same
pairs swapped.  Shapes are read from the models, never assumed.
"""

import importlib

_WHERE = {
    "pairs": ["REASONING_SIDES", "PairParams", "PairSet", "Side", "build_pairs", "register_mode", "sample_prefixes"],
    "sets": ["HeadSets", "cohorts", "cross_method", "first_heads", "frequency_table"],
    "stats": ["effect", "ig_steps_check", "mean_effect", "overlap_bootstrap",
              "permutation_p",
              "reward_tracking", "spearman", "topn_scaling"],
    "sweep": ["CircuitResult", "circuit_for", "run_checkpoints", "scaled_top_n"],
    "trace": ["Comparison", "Trace", "compare", "think_circuits", "trace"],
    "modelruns": ["ModelRun", "resolve_runs"],
    "headstats": ["HeadStats", "Scores", "head_stats", "null_stats"],
}
_LOOKUP = {name: mod for mod, names in _WHERE.items() for name in names}
__all__ = [
    "REASONING_SIDES",
    "CircuitResult",
    "Comparison",
    "HeadSets",
    "HeadStats",
    "ModelRun",
    "PairParams",
    "PairSet",
    "Scores",
    "Side",
    "Trace",
    "build_pairs",
    "circuit_for",
    "cohorts",
    "compare",
    "cross_method",
    "effect",
    "first_heads",
    "frequency_table",
    "head_stats",
    "ig_steps_check",
    "mean_effect",
    "null_stats",
    "overlap_bootstrap",
    "permutation_p",
    "register_mode",
    "resolve_runs",
    "reward_tracking",
    "run_checkpoints",
    "sample_prefixes",
    "scaled_top_n",
    "spearman",
    "think_circuits",
    "topn_scaling",
    "trace",
]


def __getattr__(name: str):
    """Names are imported on first use (the CLI imports this package; torch loads only when needed)."""
    if name in _LOOKUP:
        return getattr(importlib.import_module(f"thinking_sparks.emergence.{_LOOKUP[name]}"), name)
    raise AttributeError(f"module 'thinking_sparks.emergence' has no attribute {name!r}")
