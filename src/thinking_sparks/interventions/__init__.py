"""Head interventions (paper §5.8–§5.10, §A.7): zero, mean or scale heads while a model runs."""

from thinking_sparks.interventions.core import (
    MODES,
    HeadEdit,
    Intervention,
    apply,
    output_projections,
    parse_edits,
)

__all__ = ["MODES", "HeadEdit", "Intervention", "apply", "output_projections", "parse_edits"]
