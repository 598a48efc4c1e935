"""Sanity floors: refuse to draw conclusions from an evaluation that looks broken.

An accuracy table can be wrong without any error: a library release that breaks cached decoding
turns every completion into a loop, every pass@1 into ~0, and a page would still print its checks
on those numbers. :func:`sanity_problems` looks for the signatures of such a failure and returns
them as sentences; pages show them *instead of* conclusions.

    problems = sanity_problems(table, SanityFloor(reference="organism/teacher@final"))
    if problems: show a warning with the sentences, and no checks table
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class SanityFloor:
    """What any working evaluation of a zoo must show.

    Attributes:
        reference: the model that must clear ``min_accuracy`` (the organism's teacher; for a real
            model, the strongest one evaluated). ``None`` skips that floor.
        difficulty: the eval set on which the reference is judged (the easiest).
        min_accuracy: the reference's pass@1 floor there. The organism's answers are integers
            over a wide range, so chance level is ~0; a teacher that was measured at ~0.97 on
            the easy set and falls below 0.2 means the evaluation, not the teacher, is broken.
        max_cut: the largest tolerated share of samples cut at the token budget over the whole
            table (a looping decoder hits the budget every time).
        min_any: at least one cell must reach this pass@1 (all-zero tables are broken tables).
    """

    reference: str | None = None
    difficulty: str = "easy"
    min_accuracy: float = 0.2
    max_cut: float = 0.9
    min_any: float = 0.05


def sanity_problems(table: pd.DataFrame, floor: SanityFloor) -> list[str]:
    """Sentences naming each failed floor (empty when the table looks sane).

    Args:
        table: rows ``model, difficulty, pass@1`` and optionally ``mode``, ``n_samples``,
            ``frac_cut`` (as :func:`thinking_sparks.organism.scores.accuracy_table` returns).
    """
    if table.empty:
        return ["the accuracy table is empty: nothing was evaluated"]
    problems = []
    if floor.reference is not None:
        ref = table[(table["model"] == floor.reference) & (table["difficulty"] == floor.difficulty)]
        if "mode" in ref:
            ref = ref[ref["mode"] == "default"] if (ref["mode"] == "default").any() else ref
        if ref.empty:
            problems.append(f"the reference model {floor.reference} was not evaluated on the "
                            f"{floor.difficulty} set")
        elif float(ref["pass@1"].max()) < floor.min_accuracy:
            problems.append(f"the reference model {floor.reference} scores pass@1 "
                            f"{float(ref['pass@1'].max()):.3f} on the {floor.difficulty} set, below the "
                            f"floor {floor.min_accuracy:g}")
    if "frac_cut" in table:
        weights = table["n_samples"] if "n_samples" in table else pd.Series(1.0, index=table.index)
        cut = float((table["frac_cut"] * weights).sum() / weights.sum())
        if cut > floor.max_cut:
            problems.append(f"{cut:.0%} of all samples ran into the token budget (floor: at most "
                            f"{floor.max_cut:.0%}); generation is probably looping")
    if float(table["pass@1"].max()) < floor.min_any:
        problems.append(f"no model reaches pass@1 {floor.min_any:g} on any set (best "
                        f"{float(table['pass@1'].max()):.3f})")
    return problems
