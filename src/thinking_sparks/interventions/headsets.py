"""Head sets for interventions: the paper's notation, set algebra over analyses, matched random sets.

Analyses (circuits, emergence) hand over plain lists of head names; nothing here depends on them.

    emergent = parse_heads("L5H0,L5H2,L6H1")                 # or a list from an analysis
    controls = random_matched_sets(emergent, n_layers=4, n_heads=6, seeds=range(5))
    think_off_only = difference(off_heads, on_heads)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from thinking_sparks.heads import head_name, parse_head, sort_heads

__all__ = [
    "check_heads_fit",
    "difference",
    "intersection",
    "layer_counts",
    "parse_heads",
    "random_matched",
    "random_matched_sets",
    "top_heads",
    "union",
]


def parse_heads(spec: str | Iterable[str] | None) -> list[str]:
    """Head names from ``"L3H1,L5H0"`` (commas and/or spaces) or an iterable of names, sorted.

    Raises:
        ValueError: one line naming the first bad item or the duplicated head.
    """
    if spec is None:
        return []
    chunks = [spec] if isinstance(spec, str) else [str(x) for x in spec]
    items = [x for chunk in chunks for x in chunk.replace(",", " ").split()]
    names = []
    for item in items:
        layer, head = parse_head(item)
        names.append(head_name(layer, head))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"head(s) named twice: {', '.join(dupes)}")
    return sort_heads(names)


def check_heads_fit(heads: Iterable[str], n_layers: int, n_heads: int) -> None:
    """Raise one ValueError line when a head lies outside an ``n_layers x n_heads`` model."""
    bad = [h for h in heads if parse_head(h)[0] >= n_layers or parse_head(h)[1] >= n_heads]
    if bad:
        raise ValueError(f"head(s) {', '.join(bad)} not in this model ({n_layers} layers x {n_heads} heads)")


def layer_counts(heads: Iterable[str]) -> dict[int, int]:
    """How many of ``heads`` sit in each layer: ``{layer: count}``, layers ascending."""
    counts: dict[int, int] = {}
    for h in heads:
        layer = parse_head(h)[0]
        counts[layer] = counts.get(layer, 0) + 1
    return dict(sorted(counts.items()))


def random_matched(heads: Sequence[str], n_layers: int, n_heads: int, seed: int,
                   exclude: Iterable[str] | None = None) -> list[str]:
    """A random head set with as many heads in each layer as ``heads`` has (seeded).

    Heads are drawn, per layer, first from those not in ``exclude`` (default: ``heads`` itself);
    only when a layer has too few such heads are excluded heads of that layer used to fill it,
    so the size and the per-layer distribution always match exactly.
    """
    heads = parse_heads(heads)
    check_heads_fit(heads, n_layers, n_heads)
    avoid = set(parse_heads(exclude)) if exclude is not None else set(heads)
    rng = random.Random(f"random-matched-{seed}-{','.join(heads)}")
    out: list[str] = []
    for layer, k in layer_counts(heads).items():
        pool = [head_name(layer, h) for h in range(n_heads)]
        fresh = [h for h in pool if h not in avoid]
        used = [h for h in pool if h in avoid]
        picks = rng.sample(fresh, min(k, len(fresh)))
        if len(picks) < k:
            picks += rng.sample(used, k - len(picks))
        out += picks
    return sort_heads(out)


def random_matched_sets(heads: Sequence[str], n_layers: int, n_heads: int, seeds: Iterable[int],
                        exclude: Iterable[str] | None = None) -> dict[int, list[str]]:
    """:func:`random_matched` for each seed: ``{seed: heads}``."""
    return {int(s): random_matched(heads, n_layers, n_heads, int(s), exclude) for s in seeds}


def difference(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """Heads in ``a`` and not in ``b`` (e.g. emergent = post - base; think-off-only = off - on)."""
    drop = set(parse_heads(b))
    return [h for h in parse_heads(a) if h not in drop]


def intersection(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """Heads in both (e.g. retained base heads)."""
    keep = set(parse_heads(b))
    return [h for h in parse_heads(a) if h in keep]


def union(*sets: Iterable[str]) -> list[str]:
    """Heads in any of the sets."""
    return sort_heads({h for s in sets for h in parse_heads(s)})


def top_heads(scores: Mapping[str, float], k: int, among: Iterable[str] | None = None) -> list[str]:
    """The ``k`` heads with the largest scores (e.g. importance), optionally only ``among`` a set.

    Ties break by (layer, head). Returns them sorted by (layer, head).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    allowed = set(parse_heads(among)) if among is not None else None
    cands = [(h, float(v)) for h, v in scores.items() if allowed is None or h in allowed]
    cands.sort(key=lambda hv: (-hv[1], parse_head(hv[0])))
    return sort_heads(h for h, _ in cands[:k])
