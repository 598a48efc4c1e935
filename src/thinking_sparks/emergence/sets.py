"""Head sets against a base circuit, cohorts along checkpoints, activation frequency, method maps.

Definitions (paper §4.5, §5.1-5.3), for a model circuit with heads ``M`` and the base circuit's
heads ``B``:

* **emergent** = ``M - B`` (in the model's circuit, not in the base's);
* **base-only** = ``B - M`` (the paper's "base-model heads": in the base's circuit, lost);
* **retained** = ``M & B``;
* every other head is **inactive**.

**Cohorts** (panel A of Figs 2, 3, 6-9), over checkpoints ``t_1 < t_2 < ...`` of one run: an
emergent head's cohort is the first checkpoint at which it is emergent.  *Return rule*: a head that
leaves the circuit and comes back keeps the cohort of its first appearance; while it is away it is
not counted in any band, and when it is back it counts in its first cohort's band again (so a band
may fall and rise) and in that checkpoint's ``returned`` count.  It never opens a new cohort, so
the stacked bands always sum to the emergent count, and ``newcomers`` counts only first
appearances.  A base head that drops out and comes back is simply retained again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinking_sparks.emergence.stats import effect
from thinking_sparks.heads import head_name, parse_head, sort_heads

STATUSES = ("emergent", "base", "retained", "inactive")


@dataclass(frozen=True)
class HeadSets:
    """Emergent, base-only and retained heads of a model circuit against a base circuit.

    Each is a tuple of ``L{l}H{h}`` names, ordered by score (highest first) when scores were
    given, else by (layer, head): emergent and retained by the model's scores, base-only by the
    base's.  This is what the interventions room consumes, e.g. ``HeadSets.emergent[:5]``.
    """

    emergent: tuple[str, ...]
    base_only: tuple[str, ...]
    retained: tuple[str, ...]

    @classmethod
    def from_sets(cls, model: Iterable[str], base: Iterable[str], model_score: Mapping[str, float] | None = None,
                  base_score: Mapping[str, float] | None = None) -> HeadSets:
        m, b = set(model), set(base)
        for name in m | b:
            parse_head(name)  # validates
        return cls(_order(m - b, model_score), _order(b - m, base_score), _order(m & b, model_score))

    @property
    def model(self) -> frozenset[str]:
        """The model circuit's heads (emergent + retained)."""
        return frozenset(self.emergent) | frozenset(self.retained)

    @property
    def base(self) -> frozenset[str]:
        """The base circuit's heads (base-only + retained)."""
        return frozenset(self.base_only) | frozenset(self.retained)

    def status(self, head: str) -> str:
        """``emergent``, ``base`` (base-only), ``retained`` or ``inactive``."""
        if head in self.emergent:
            return "emergent"
        if head in self.base_only:
            return "base"
        return "retained" if head in self.retained else "inactive"

    def counts(self) -> dict[str, int]:
        return {"emergent": len(self.emergent), "base_only": len(self.base_only), "retained": len(self.retained)}

    @property
    def retained_share(self) -> float:
        """Share of the base circuit's heads still in the model's circuit (nan for an empty base)."""
        n = len(self.base_only) + len(self.retained)
        return len(self.retained) / n if n else float("nan")


def _order(names: set[str], score: Mapping[str, float] | None) -> tuple[str, ...]:
    ordered = sort_heads(names)
    if score is not None:
        ordered = sorted(ordered, key=lambda h: -float(score.get(h, 0.0)))
    return tuple(ordered)


def score_dict(score: np.ndarray) -> dict[str, float]:
    """``[n_layers, n_heads]`` map -> ``{"L0H0": value, ...}``."""
    return {head_name(layer, h): float(score[layer, h]) for layer in range(score.shape[0])
            for h in range(score.shape[1])}


def head_table(sets: HeadSets, n_layers: int, n_heads: int, importance_model: np.ndarray,
               importance_base: np.ndarray, eps: float = 1e-6) -> pd.DataFrame:
    """One row per head: ``head, layer, index, status, importance_model, importance_base, effect``."""
    e = effect(importance_model, importance_base, eps)
    rows = []
    for layer in range(n_layers):
        for h in range(n_heads):
            name = head_name(layer, h)
            rows.append({"head": name, "layer": layer, "index": h, "status": sets.status(name),
                         "importance_model": float(importance_model[layer, h]),
                         "importance_base": float(importance_base[layer, h]), "effect": float(e[layer, h])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ along checkpoints

def cohorts(steps: Sequence[int], active: Sequence[Iterable[str]], base: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cohort bands and per-checkpoint counts (return rule in the module docstring).

    Args:
        steps: checkpoint steps, ascending.
        active: the circuit's heads at each step.
        base: the base circuit's heads.
    Returns:
        ``bands``: ``step, cohort, n_active`` (one row per step and cohort opened so far);
        ``counts``: ``step, emergent, retained, base_only, newcomers, returned, left``.
    """
    if len(steps) != len(active):
        raise ValueError(f"{len(steps)} steps but {len(active)} head sets")
    if list(steps) != sorted(steps):
        raise ValueError("steps must be ascending")
    b = set(base)
    first: dict[str, int] = {}
    prev: set[str] = set()
    bands, counts = [], []
    for step, heads in zip(steps, active, strict=True):
        em = set(heads) - b
        newcomers = {h for h in em if h not in first}
        returned = {h for h in em if h in first and h not in prev}
        for h in newcomers:
            first[h] = step
        for cohort in sorted(set(first.values())):
            bands.append({"step": step, "cohort": cohort, "n_active": sum(1 for h in em if first[h] == cohort)})
        counts.append({"step": step, "emergent": len(em), "retained": len(set(heads) & b),
                       "base_only": len(b - set(heads)), "newcomers": len(newcomers), "returned": len(returned),
                       "left": len(prev - em)})
        prev = em
    return pd.DataFrame(bands, columns=["step", "cohort", "n_active"]), pd.DataFrame(counts)


def frequency_table(active: Sequence[Iterable[str]], base: Iterable[str], n_layers: int, n_heads: int) -> pd.DataFrame:
    """Activation frequency over checkpoints (panel B/C): one row per head with ``frequency``
    (share of checkpoints where the head is in the circuit), ``in_base``, ``active_final`` and
    ``kind`` (``base`` / ``emergent`` / ``never``)."""
    b = set(base)
    sets = [set(a) for a in active]
    if not sets:
        raise ValueError("no checkpoints")
    rows = []
    for layer in range(n_layers):
        for h in range(n_heads):
            name = head_name(layer, h)
            freq = sum(name in s for s in sets) / len(sets)
            kind = "base" if name in b else "emergent" if freq > 0 else "never"
            rows.append({"head": name, "layer": layer, "index": h, "in_base": name in b, "frequency": freq,
                         "active_final": name in sets[-1], "kind": kind})
    return pd.DataFrame(rows)


def first_heads(sets: HeadSets, k: int = 5) -> str:
    """Table 3's "first five": the ``k`` emergent heads with the highest score, then "…"."""
    shown = ", ".join(sets.emergent[:k])
    return shown + (" …" if len(sets.emergent) > k else "")


def cross_method(emergent: Mapping[str, Iterable[str]], n_layers: int, n_heads: int) -> pd.DataFrame:
    """Fig 14: per head, the methods (runs) in whose circuits it is emergent.

    Returns one row per head and method (``head, layer, index, method``; heads of no method
    appear once with method ``none``) plus ``n_methods`` and ``methods`` (``"sft+grpo-hard"``,
    ``"none"``), the cumulative map.
    """
    sets = {m: set(v) for m, v in emergent.items()}
    rows = []
    for layer in range(n_layers):
        for h in range(n_heads):
            name = head_name(layer, h)
            have = [m for m in sets if name in sets[m]]
            label = "+".join(have) if have else "none"
            for m in have or ["none"]:
                rows.append({"head": name, "layer": layer, "index": h, "method": m, "n_methods": len(have),
                             "methods": label})
    return pd.DataFrame(rows)
