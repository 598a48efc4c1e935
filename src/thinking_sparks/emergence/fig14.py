"""Fig 14 as the paper draws it: one layer x head map of new heads per method, and the cumulative map.

Inputs are page 04's stored sweeps (:class:`~.trace.TraceTables`), one list per circuit question
set, and each run's kind. Per method (:data:`METHODS`) the runs of :data:`POOL` are pooled, as the
paper pools "the AIME and AMC circuits and checkpoints from both OpenR1 and GSM8K training" for
GRPO and SFT: GRPO = ``grpo-easy`` (GSM8K's role) + ``grpo-hard`` (OpenR1's); the high-learning-rate
run (Fig 8) and the hybrid (Qwen3's role) are not in the figure. A run mapping of the user's joins
by its ``kind`` when no run of the default names is there.

**Counting.** A head is *newly activated* in a circuit when it is in that circuit but not in its
run's base circuit (§4.5). ``count`` is the number of the method's circuits (every circuit set,
every pooled run, every checkpoint with signal; distillation: the final checkpoint alone, a single
comparison as in the paper's Fig 13/14) in which the head is new, ``circuits`` how many there were.

**Colours** (the paper's: distillation blue, SFT green, GRPO red; shared heads "yellow/purple"):
a head new under several methods takes the additive mix of their colours, so GRPO + SFT is yellow,
GRPO + distillation purple (the paper's two shared colours), SFT + distillation cyan and all three
dark grey; a head new under no method is white (the baseline). ``shared_grpo`` marks the heads GRPO
shares with SFT or distillation (outlined in the chart).

**Columns** (paper ambiguity 20: "columns sorted by the number of newly activated heads"). The
cumulative map has one column per layer and one cell per head slot. :data:`SORTS`:

* ``within_layer`` (default): each layer's cells are sorted, its new heads first (by number of
  methods, then count, then head index), so every column reads as a bar of that layer's newly
  activated heads, stacked by method. Head indices carry no order (any permutation of a layer's
  heads is the same model), and "cumulative" suggests counts that stack.
* ``columns``: the layer columns themselves are ordered by their number of newly activated heads
  (most first), heads in index order within each: the other reading.
* ``none``: layers and heads in index order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from thinking_sparks.emergence.trace import TraceTables
from thinking_sparks.heads import head_name

#: the paper's three methods, in its order, and the run kind each pools
METHODS = ("distillation", "SFT", "GRPO")
KIND = {"distillation": "distill", "SFT": "sft", "GRPO": "grpo"}
#: the organism runs pooled per method (the paper's Fig 14 pools both GRPO data runs)
POOL: dict[str, tuple[str, ...]] = {"distillation": ("distill",), "SFT": ("sft",), "GRPO": ("grpo-easy", "grpo-hard")}
#: methods whose map uses each run's final checkpoint alone
FINAL_ONLY = ("distillation",)
SORTS = ("within_layer", "columns", "none")
#: category -> colour: one method's own, or the additive mix of the methods sharing the head
COLOURS: dict[str, str] = {"distillation": "#1f5fd0", "SFT": "#2ca02c", "GRPO": "#d62728",
                           "GRPO+SFT": "#e6c619", "GRPO+distillation": "#8e44ad", "SFT+distillation": "#17becf",
                           "GRPO+SFT+distillation": "#404040", "none": "#ffffff"}
#: the category order of the legend
CATEGORIES = tuple(COLOURS)


def category(methods: Sequence[str]) -> str:
    """The cumulative map's category of a head new under ``methods`` (``"none"`` for none): the
    methods joined by ``+`` in the order GRPO, SFT, distillation (``"GRPO+SFT"``)."""
    order = ("GRPO", "SFT", "distillation")
    unknown = set(methods) - set(order)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; Fig 14's are {', '.join(METHODS)}")
    have = [m for m in order if m in methods]
    return "+".join(have) if have else "none"


def pooled_runs(kinds: Mapping[str, str], pool: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """``method -> run labels`` pooled for it: the labels of ``pool`` (default :data:`POOL`) that are
    among ``kinds``; a method none of whose labels is there takes every run of its kind."""
    pool = POOL if pool is None else pool
    out = {}
    for m in METHODS:
        named = [r for r in pool.get(m, ()) if r in kinds]
        out[m] = named or [r for r, k in kinds.items() if k == KIND[m]]
    return out


def _as_sets(circuit_sets: Mapping[str, Sequence[TraceTables]] | Sequence[TraceTables]) -> dict[str, list]:
    if isinstance(circuit_sets, Mapping):
        return {name: list(runs) for name, runs in circuit_sets.items()}
    return {"circuits": list(circuit_sets)}


def fig14_frames(circuit_sets: Mapping[str, Sequence[TraceTables]] | Sequence[TraceTables], kinds: Mapping[str, str],
                 pool: Mapping[str, Sequence[str]] | None = None, sort: str = "within_layer") -> tuple[pd.DataFrame,
                                                                                                      pd.DataFrame]:
    """Fig 14's two panels from page 04's sweeps (module docstring).

    Args:
        circuit_sets: ``set name -> the page's runs`` (``Result.runs``), or one list of runs.
        kinds: ``run label -> kind`` (``Result.kinds``).
        pool: ``method -> run labels`` (default :data:`POOL`).
        sort: how the cumulative map's cells are placed (:data:`SORTS`).
    Returns:
        ``top``: one row per method and head: ``method, head, layer, index, count, circuits, share``
        (``count / circuits``), ``in_base`` (in a pooled run's base circuit), ``runs`` (pooled labels),
        ``colour`` (the method's);
        ``bottom``: one row per head: ``head, layer, index, category, colour, n_methods, shared_grpo``,
        ``count_<method>`` per method, ``counts`` (in words), ``column`` and ``slot`` (the cell's
        x and y in the cumulative map under ``sort``).
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    sets = _as_sets(circuit_sets)
    runs = pooled_runs(kinds, pool)
    shape = next(((tr.base.n_layers, tr.base.n_heads) for rs in sets.values() for tr in rs), None)
    if shape is None:
        raise ValueError("fig14_frames: no traced run to map")
    n_layers, n_heads = shape
    counts = {m: {} for m in METHODS}
    circuits = dict.fromkeys(METHODS, 0)
    in_base = {m: set() for m in METHODS}
    for traces in sets.values():
        for tr in traces:
            for m in (m for m in METHODS if tr.run in runs[m]):
                if (tr.base.n_layers, tr.base.n_heads) != shape:
                    raise ValueError(f"fig14_frames: run {tr.run} has another head grid than {shape}")
                base = set(tr.base.heads)
                in_base[m] |= base
                used = tr.results[-1:] if m in FINAL_ONLY else tr.live()
                for r in (r for r in used if r.has_signal):
                    circuits[m] += 1
                    for h in set(r.heads) - base:
                        counts[m][h] = counts[m].get(h, 0) + 1
    names = [(head_name(layer, h), layer, h) for layer in range(n_layers) for h in range(n_heads)]
    top = pd.DataFrame([{"method": m, "head": name, "layer": layer, "index": h, "count": counts[m].get(name, 0),
                         "circuits": circuits[m],
                         "share": counts[m].get(name, 0) / circuits[m] if circuits[m] else 0.0,
                         "in_base": name in in_base[m], "runs": "+".join(runs[m]), "colour": COLOURS[m]}
                        for m in METHODS for name, layer, h in names])
    rows = []
    for name, layer, h in names:
        have = [m for m in METHODS if counts[m].get(name, 0)]
        cat = category(have)
        rows.append({"head": name, "layer": layer, "index": h, "category": cat, "colour": COLOURS[cat],
                     "n_methods": len(have), "shared_grpo": "GRPO" in have and len(have) > 1,
                     **{f"count_{m}": counts[m].get(name, 0) for m in METHODS},
                     "counts": ", ".join(f"{m} {counts[m].get(name, 0)}/{circuits[m]}" for m in METHODS)})
    bottom = pd.DataFrame(rows)
    return top, place(bottom, sort)


def place(bottom: pd.DataFrame, sort: str = "within_layer") -> pd.DataFrame:
    """``bottom`` with ``column`` (x: the layer's position) and ``slot`` (y: the cell's position in its
    column) under ``sort`` (:data:`SORTS`; module docstring)."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    df = bottom.copy()
    total = df[[f"count_{m}" for m in METHODS]].sum(axis=1)
    if sort == "within_layer":
        df["_total"] = total
        ordered = df.sort_values(["layer", "n_methods", "_total", "index"], ascending=[True, False, False, True])
        df.loc[ordered.index, "slot"] = ordered.groupby("layer").cumcount().to_numpy()
        df = df.drop(columns="_total")
        df["column"] = df["layer"]
    else:
        df["slot"] = df["index"]
        if sort == "columns":
            new = df.assign(new=df.n_methods > 0).groupby("layer")["new"].sum()
            order = sorted(new.index, key=lambda layer: (-int(new[layer]), layer))
            df["column"] = df["layer"].map({layer: i for i, layer in enumerate(order)})
        else:
            df["column"] = df["layer"]
    df["slot"] = df["slot"].astype(int)
    df["column"] = df["column"].astype(int)
    return df


__all__ = ["CATEGORIES", "COLOURS", "FINAL_ONLY", "METHODS", "POOL", "SORTS", "category", "fig14_frames", "place",
           "pooled_runs"]
