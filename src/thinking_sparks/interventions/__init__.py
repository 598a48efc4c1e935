"""Head interventions (paper §5.8–§5.10, §A.7): zero, mean or scale heads while a model runs."""

from thinking_sparks.heads.edits import (
    MODES,
    HeadEdit,
    Intervention,
    apply,
    check_heads,
    edit_weights,
    output_projections,
    parse_edits,
    token_positions,
)
from thinking_sparks.interventions.headsets import (
    difference,
    intersection,
    layer_counts,
    parse_heads,
    random_matched,
    random_matched_sets,
    top_heads,
    union,
)
from thinking_sparks.interventions.means import mean_ablation, means_key, reference_means, reference_texts

__all__ = [
    "MODES",
    "HeadEdit",
    "Intervention",
    "apply",
    "check_heads",
    "difference",
    "edit_weights",
    "intersection",
    "layer_counts",
    "mean_ablation",
    "means_key",
    "output_projections",
    "parse_edits",
    "parse_heads",
    "random_matched",
    "random_matched_sets",
    "reference_means",
    "reference_texts",
    "token_positions",
    "top_heads",
    "union",
]
