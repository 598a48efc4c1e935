"""The method's premise as verdict rows: does EAP-IG pick the heads exact patching picks?

The paper (§3) builds every circuit with EAP-IG, relying on Hanna et al. (2024) for its
faithfulness to activation patching.  On the organism exact patching is cheap, so the premise is
checked, not assumed: :func:`premise_verdicts` (one circuit, page 03) and
:func:`emergent_sets_verdict` (the emergent heads of every run, page 04).
"""

from __future__ import annotations

import math

from thinking_sparks.verdicts import Verdict

#: the issue's bar for "approximates exact patching well enough to pick heads"
SPEARMAN_BAR = 0.8
#: a Jaccard above this: most emergent heads of either method are shared
JACCARD_BAR = 0.5
PAPER = "§3 (EAP-IG; Hanna et al. 2024)"


def premise_verdicts(spearman: float, low: float, high: float, recall: float, recall_low: float,
                     recall_high: float, direction: str, k: int) -> list[Verdict]:
    """Head-level Spearman of EAP-IG node scores against exact ``direction`` patches (bootstrap CI
    over pairs) against :data:`SPEARMAN_BAR`, and top-``k`` recall against 0.5 (most of the ``k``
    heads exact patching ranks first are among EAP-IG's first ``k``)."""
    claim = "EAP-IG approximates exact patching well enough to pick heads"
    return [Verdict(claim, PAPER, f"head Spearman, attribution vs exact patching ({direction})", spearman, low, high,
                    above=SPEARMAN_BAR, criterion=f"CI above {SPEARMAN_BAR:g}"),
            Verdict(claim, PAPER, f"top-{k} recall of exact-patching heads ({direction})", recall, recall_low, recall_high,
                    above=0.5, criterion="CI above 0.5")]


def emergent_sets_verdict(jaccard: float, low: float, high: float, runs: int) -> Verdict:
    """Mean over ``runs`` of the Jaccard between the final emergent heads of EAP-IG and of exact
    patching (head sets of the same sizes); decided only with an interval (NaN: inconclusive)."""
    crit = f"CI above {JACCARD_BAR:g}" if not (math.isnan(low) or math.isnan(high)) else \
        f"CI above {JACCARD_BAR:g} (no interval: decides nothing)"
    return Verdict("the emergent heads are the ones exact patching finds", PAPER,
                   f"Jaccard of final emergent sets, EAP-IG vs exact denoising (mean of {runs} runs)", jaccard, low,
                   high, above=JACCARD_BAR, criterion=crit)
