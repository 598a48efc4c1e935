"""Command-line head interventions shared by ``sparks generate`` and ``sparks eval``.

``--ablate L3H1,L5H0`` (repeatable) zeroes heads; with ``--ablate-mode mean`` they are replaced by
their mean output by position over a reference set: the prompts of ``--reference`` (an eval set;
``sparks eval`` defaults to its own ``--dataset``, ``sparks generate`` to ``organism/easy``), first
``--reference-limit`` problems, each followed by the model's own greedy completion (cached).
``--scale L3H1=1.3`` (repeatable, or comma-separated) multiplies a head's output.
Kept import-light: torch loads only when a verb runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ABLATE_HELP = "Heads to ablate, paper notation: L3H1,L5H0 (repeatable)."
MODE_HELP = ("zero (output 0) or mean (output replaced by its mean by position over the reference set: "
             "--reference prompts + the model's greedy completions).")
SCALE_HELP = "Scale a head's output: L3H1=1.3 (repeatable; comma-separated lists too)."
REFERENCE_LIMIT_HELP = "Reference problems for --ablate-mode mean."


def check_options(ablate: Sequence[str] | None, mode: str, scale: Sequence[str] | None) -> None:
    """Validate the notation before any model loads (one-line ``ValueError``)."""
    from thinking_sparks.heads.edits import parse_edits  # deferred: loaded only when this verb runs

    if mode not in ("zero", "mean"):
        raise ValueError(f"--ablate-mode must be 'zero' or 'mean', got {mode!r}")
    parse_edits(list(ablate or []), scale=list(scale or []), mode="zero")


def build_intervention(model: Any, ablate: Sequence[str] | None, mode: str, scale: Sequence[str] | None,
                       reference: Callable[[], list[str]] | None = None) -> Any:
    """The :class:`~thinking_sparks.interventions.Intervention` the options ask for (None if none).

    Args:
        model: the loaded model (heads are checked against its shape).
        reference: returns the reference texts; called only for ``mode == "mean"`` with heads.
    """
    # deferred: loaded only when this verb runs
    # deferred: loaded only when this verb runs
    from thinking_sparks.heads.edits import Intervention, check_heads, parse_edits
    from thinking_sparks.interventions.means import mean_ablation  # deferred: loaded only when this verb runs

    check_options(ablate, mode, scale)
    iv = parse_edits(list(ablate or []), scale=list(scale or []), mode="zero")
    check_heads(model, iv)
    if not iv:
        return None
    ablated = [e.name for e in iv.edits if e.mode == "zero"]
    if mode == "mean" and ablated:
        if reference is None:
            raise ValueError("--ablate-mode mean needs a reference set")
        means = mean_ablation(model, ablated, reference())
        scaled = tuple(e for e in iv.edits if e.mode == "scale")
        iv = Intervention(means.edits + scaled, means=means.means, means_key=means.means_key)
    return iv
