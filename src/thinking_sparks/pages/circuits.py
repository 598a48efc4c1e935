"""Page ``03_circuits``: one EAP-IG circuit of the organism from the ground up.

:class:`Params` is the notebook's parameters cell; :func:`run` builds the circuit of one
checkpoint against its base with every check the page shows (pairs, edge scores, the IG-steps
check, top-n scaling with faithfulness, the drawing, head attributions against exact patching in
both directions, the agreement table of a few cheap variants and a bootstrap over pairs of the
chosen direction's agreement) into a :class:`Result`; :func:`verdicts` checks the method's premise
(§3: EAP-IG picks the heads exact patching picks).

Measured compute time of :func:`run` (cold results cache, answer prefixes cached, 2 busy CPU
cores): the tiny profile about 10 s; the full profile (sft final vs base, 32 questions) 143 s, of
which the IG-steps check 40 s, the two exact head patchings 15 s and the agreement table 22 s.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from thinking_sparks.cache import cached
from thinking_sparks.circuits.agreement import (
    Variant,
    agreement_bootstrap,
    agreement_table,
    first_divergent_token,
    head_per_example,
)
from thinking_sparks.circuits.agreement import head_scores as node_head_scores
from thinking_sparks.circuits.attribute import attribute
from thinking_sparks.circuits.circuit import top_n as prune
from thinking_sparks.circuits.claims import premise_verdicts
from thinking_sparks.circuits.config import CircuitConfig, scaled_top_n
from thinking_sparks.circuits.patching import DIRECTIONS, agreement, patch_nodes
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.device import load_kept, use_device
from thinking_sparks.emergence.drawing import circuit_graph
from thinking_sparks.emergence.edgecheck import edge_check
from thinking_sparks.emergence.modelruns import check_value
from thinking_sparks.emergence.pairs import PairParams, Side, pairs_frame, side_fingerprint
from thinking_sparks.emergence.stats import attribution_vs_exact, ig_steps_check, topn_scaling, topn_sizes
from thinking_sparks.emergence.sweep import circuit_for, pair_set
from thinking_sparks.pages.params import CircuitInputs, emergence_settings
from thinking_sparks.verdicts import verdict_table


@dataclass
class Params(CircuitInputs):
    """Parameters of ``03_circuits``: one circuit from the ground up.

    Attributes (besides :class:`CircuitInputs`'):
        run: the analysed run: an organism run of ``profile`` or a mapping ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...]}`` (``emergence.modelruns``); its base is the run's
            parent at its final checkpoint, or the mapping's ``base``.
        step: the analysed checkpoint: ``final`` or a step one of the run's checkpoints names.
        ig_steps: the IG step counts compared (``steps`` is the one the circuit drawn uses).
        patch_direction: the exact patching taken as ground truth for head attributions:
            ``denoise`` (restore one head's clean output in the corrupted run: what EAP-IG, which
            integrates gradients from the corrupted end, approximates) or ``noise`` (corrupt one
            head in the clean run); the other direction's Spearman is shown beside it.
    """

    run: str | dict[str, Any] = "sft"
    step: str = "final"
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])
    patch_direction: str = "denoise"

    def __post_init__(self):
        super().__post_init__()
        check_value(self.run, "run", self.profile, need_base=True)
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")
        if self.patch_direction not in DIRECTIONS:
            raise ValueError(f"patch_direction must be one of {', '.join(DIRECTIONS)}, got {self.patch_direction!r}")

    def run_values(self) -> list:
        return [self.run]


@dataclass
class Result:
    """What ``03_circuits`` shows: one circuit of ``model`` (clean: its answers) against ``base``.

    Frames: ``pair_text`` (prompt, clean and corrupted prefixes, answer tokens), ``top_edges``
    (``src, dst, score, abs_score, rank``, the 15 strongest), ``ig`` (``m, spearman, seconds,
    chosen``), ``scaling`` (``top_n, fraction, edges, heads, faithfulness``), ``nodes`` / ``edges``
    (the drawing, :func:`~thinking_sparks.emergence.drawing.circuit_graph`), ``exact`` (``head,
    attribution, exact, denoise``: node score, exact *noising* effect (``exact_spearman``), exact
    denoising effect), ``agreement`` (:func:`~thinking_sparks.circuits.agreement.agreement_table`
    of :data:`VARIANTS`), ``boot`` (``spearman, spearman_abs, recall`` per resample of the pairs,
    :func:`~thinking_sparks.circuits.agreement.agreement_bootstrap`, direction ``patch_direction``).
    """

    model: str
    base: str
    label: str
    n_pairs: int
    n_identical: int
    n_short: int
    pair_text: pd.DataFrame
    top_edges: pd.DataFrame
    n_edges: int                 # edges of the graph
    top_n: int                   # edges kept (the paper's fraction unless top_n is set)
    paper_top_n: int             # the paper's fraction of this graph
    ig: pd.DataFrame
    scaling: pd.DataFrame
    nodes: pd.DataFrame
    edges: pd.DataFrame
    exact: pd.DataFrame
    exact_spearman: float
    faithfulness: float
    heads: list[str]
    patch_direction: str
    spearman_denoise: float      # signed node scores vs exact denoising effects
    recall: float                # top-k recall against the chosen direction
    k: int                       # heads of the top-n circuit of this attribution
    noise_sum: float             # summed single-head noising effects
    denoise_sum: float           # summed single-head denoising effects
    clean_loss: float            # mean L(clean run) (KL: 0)
    corrupted_loss: float        # mean L(corrupted run)
    patch_seconds: float         # both exact head patchings
    agreement_seconds: float     # the agreement table
    agreement: pd.DataFrame
    boot: pd.DataFrame
    seconds: float = 0.0

    @property
    def spearman(self) -> float:
        """Spearman against the chosen direction (``patch_direction``)."""
        return self.spearman_denoise if self.patch_direction == "denoise" else self.exact_spearman

    @property
    def other_spearman(self) -> float:
        """Spearman against the other direction."""
        return self.exact_spearman if self.patch_direction == "denoise" else self.spearman_denoise

    def ci(self, column: str = "spearman") -> tuple[float, float]:
        """95% bootstrap interval of ``boot[column]`` (NaN resamples left out)."""
        b = self.boot[column].dropna()
        return (float(b.quantile(0.025)), float(b.quantile(0.975))) if len(b) else (float("nan"), float("nan"))

    @property
    def chosen_steps(self) -> int:
        """The smallest IG step count whose head ranking agrees with the largest's."""
        return int(self.ig.loc[self.ig.chosen, "m"].iloc[0])


def run(params: Params) -> Result:
    """Build the analysed run's missing checkpoints (``params.build``), then the page's circuit
    and every check (cached: a warm rebuild loads no model)."""
    use_device(params.device)
    if params.build:
        modelruns.build_organism(params.profile, params.run)
    analysed = modelruns.resolve_roles(params.profile, model=params.run)["model"]
    pairs, config = emergence_settings(params)
    return _circuit(analysed.checkpoint(params.step), analysed.base, analysed.label, pairs, config,
                    list(params.ig_steps), params.patch_direction)


def edge_agreement(params: Params) -> pd.DataFrame:
    """The page's circuit (the sweep's, drawn above) against exact *edge* patching and, on the same
    pairs, exact head patching: one row (:func:`~thinking_sparks.emergence.edgecheck.edge_check`, cached)."""
    use_device(params.device)
    analysed = modelruns.resolve_roles(params.profile, model=params.run)["model"]
    pairs, config = emergence_settings(params)
    model = analysed.checkpoint(params.step)
    return pd.DataFrame([edge_check(model, Side(model), Side(analysed.base), pairs, config).row()])


#: the Spearman at which a smaller IG step count agrees with the largest
IG_AGREEMENT = 0.95
#: bootstrap resamples of the pairs for the agreement's interval
N_BOOT = 1000


def variants(config: CircuitConfig) -> list[Variant]:
    """The cheap variants of the agreement table (one attribution on all pairs, one on the first
    divergent tokens, three exact patchings): the page's setting against either direction, two other
    head scores, and the first divergent token."""
    same = {"metric": config.metric, "method": config.method, "steps": config.steps}
    return [Variant("page setting, noise", **same, direction="noise"),
            Variant("page setting, denoise", **same, direction="denoise"),
            Variant("head score abs-node, denoise", **same, head_score="abs-node", direction="denoise"),
            Variant("head score abs-edges, denoise", **same, head_score="abs-edges", direction="denoise"),
            Variant("first divergent token, denoise", pairs="first", **same, direction="denoise")]


def _key(model: str, base: str, label: str, pairs: PairParams, config: CircuitConfig, ig_steps: list[int],
         direction: str) -> dict:
    # side_fingerprint: each model's spec, weights fingerprint and (off float32) the device's dtype
    return {"model": side_fingerprint(Side(model)), "base": side_fingerprint(Side(base)), "label": label,
            "pairs": pairs, "circuit": config, "ig_steps": ig_steps, "threshold": IG_AGREEMENT,
            "direction": direction, "n_boot": N_BOOT, "variants": variants(config),
            # the stored result's layout: an entry of another layout is not read back
            "result": [[f.name, str(f.type)] for f in dataclasses.fields(Result)]}


@cached("page-circuits", key=_key)
def _circuit(model: str, base: str, label: str, pairs: PairParams, config: CircuitConfig,
             ig_steps: list[int], direction: str) -> Result:
    t0 = time.perf_counter()
    ps = pair_set(Side(model), Side(base), pairs)
    if len(ps.pairs) < 2:
        raise ValueError(f"{model} answers like {base} on all but {len(ps.pairs)} questions: no circuit to show")
    lm = load_kept(model, config.dtype)
    a = attribute(lm, ps.pairs, method=config.method, metric=config.metric, steps=config.steps, rule=config.rule,
                  gqa=config.gqa, batch_size=config.batch_size, keep_per_example=True, progress=False)
    top = a.to_frame().sort_values("rank").head(15)[["src", "dst", "score", "abs_score", "rank"]]
    n = config.n_for(a.graph)
    ig = ig_steps_check(lm, ps.pairs, ig_steps, IG_AGREEMENT, config.metric, config.rule)
    scaling = topn_scaling(lm, ps.pairs, a, topn_sizes(n, a.graph.n_edges), config.metric, config.aggregation)
    drawn = circuit_for(model, Side(model), Side(base), pairs, config)  # the sweep's cached circuit
    nodes, edges = circuit_graph(drawn, config)
    exact, rho = attribution_vs_exact(lm, ps.pairs, a, config.metric, config.gqa)
    t1 = time.perf_counter()
    patched = {d: patch_nodes(lm, ps.pairs, metric=config.metric, direction=d, gqa=config.gqa) for d in DIRECTIONS}
    patch_s = time.perf_counter() - t1
    exact["denoise"] = patched["denoise"].effects.numpy()  # same head order (layer-major)
    k = max(1, len(prune(a, n, config.aggregation).heads()))
    chosen = agreement(node_head_scores(a, "node"), patched[direction].effects, k)
    denoise_rho = agreement(node_head_scores(a, "node"), patched["denoise"].effects, k).spearman
    boot = agreement_bootstrap(head_per_example(a), patched[direction].per_example, k, N_BOOT)
    t2 = time.perf_counter()
    table = agreement_table(lm, {"all": ps.pairs, "first": first_divergent_token(ps.pairs)}, variants(config), n,
                            gqa=config.gqa)
    agreement_s = time.perf_counter() - t2
    noise, denoise = patched["noise"], patched["denoise"]
    return Result(model, base, label, len(ps.pairs), ps.n_identical, ps.n_short, pairs_frame(ps, lm.tokenizer), top,
                  a.graph.n_edges, n, scaled_top_n(a.graph.n_edges), ig, scaling, nodes, edges, exact, rho,
                  drawn.faithfulness, list(drawn.heads), direction, float(denoise_rho), float(chosen.recall), k,
                  float(noise.effects.sum()), float(denoise.effects.sum()), float(noise.clean_loss),
                  float(noise.corrupted_loss), round(patch_s, 3), round(agreement_s, 3), table, boot, round(time.perf_counter() - t0, 3))


def verdicts(result: Result) -> pd.DataFrame:
    """The method's premise (§3): head Spearman and top-k recall of EAP-IG against exact patching in
    the chosen direction, with bootstrap intervals over pairs
    (:func:`~thinking_sparks.circuits.claims.premise_verdicts`)."""
    return verdict_table(premise_verdicts(result.spearman, *result.ci("spearman"), result.recall,
                                          *result.ci("recall"), result.patch_direction, result.k))
