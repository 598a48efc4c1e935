"""Page ``03_circuits``: one EAP-IG circuit of the organism from the ground up.

:class:`Params` is the notebook's parameters cell; :func:`run` builds the circuit of one
checkpoint against its base with every check the page shows (pairs, edge scores, the IG-steps
check, top-n scaling with faithfulness, the drawing, head attributions against exact patching)
into a :class:`Result`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from thinking_sparks.cache import cached
from thinking_sparks.circuits.attribute import attribute
from thinking_sparks.circuits.config import CircuitConfig, scaled_top_n
from thinking_sparks.emergence import modelruns
from thinking_sparks.emergence.device import load_kept, use_device
from thinking_sparks.emergence.drawing import circuit_graph
from thinking_sparks.emergence.pairs import PairParams, Side, pairs_frame, side_fingerprint
from thinking_sparks.emergence.stats import attribution_vs_exact, ig_steps_check, topn_scaling, topn_sizes
from thinking_sparks.emergence.sweep import circuit_for, pair_set
from thinking_sparks.pages.params import CircuitInputs, emergence_settings
from thinking_sparks.verdicts import verdict_table
from thinking_sparks.emergence.modelruns import check_value


@dataclass
class Params(CircuitInputs):
    """Parameters of ``03_circuits``: one circuit from the ground up.

    Attributes (besides :class:`CircuitInputs`'):
        run: the analysed run: an organism run of ``profile`` or a mapping ``{base: SPEC,
            checkpoints: SPEC | [SPEC, ...]}`` (``emergence.modelruns``); its base is the run's
            parent at its final checkpoint, or the mapping's ``base``.
        step: the analysed checkpoint: ``final`` or a step one of the run's checkpoints names.
        ig_steps: the IG step counts compared (``steps`` is the one the circuit drawn uses).
    """

    run: str | dict[str, Any] = "sft"
    step: str = "final"
    ig_steps: list[int] = field(default_factory=lambda: [5, 20, 100])

    def __post_init__(self):
        super().__post_init__()
        check_value(self.run, "run", self.profile, need_base=True)
        if not self.ig_steps or not all(isinstance(m, int) and m >= 1 for m in self.ig_steps):
            raise ValueError(f"ig_steps must be a non-empty list of positive integers, got {self.ig_steps!r}")

    def run_values(self) -> list:
        return [self.run]


@dataclass
class Result:
    """What ``03_circuits`` shows: one circuit of ``model`` (clean: its answers) against ``base``.

    Frames: ``pair_text`` (prompt, clean and corrupted prefixes, answer tokens), ``top_edges``
    (``src, dst, score, abs_score, rank``, the 15 strongest), ``ig`` (``m, spearman, seconds,
    chosen``), ``scaling`` (``top_n, fraction, edges, heads, faithfulness``), ``nodes`` / ``edges``
    (the drawing, :func:`~thinking_sparks.emergence.drawing.circuit_graph`), ``exact`` (``head,
    attribution, exact``).
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
    seconds: float = 0.0

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
                    list(params.ig_steps))


#: the Spearman at which a smaller IG step count agrees with the largest
IG_AGREEMENT = 0.95


def _key(model: str, base: str, label: str, pairs: PairParams, config: CircuitConfig, ig_steps: list[int]) -> dict:
    # side_fingerprint: each model's spec, weights fingerprint and (off float32) the device's dtype
    return {"model": side_fingerprint(Side(model)), "base": side_fingerprint(Side(base)), "label": label,
            "pairs": pairs, "circuit": config, "ig_steps": ig_steps, "threshold": IG_AGREEMENT,
            # the stored result's layout: an entry of another layout is not read back
            "result": [[f.name, str(f.type)] for f in dataclasses.fields(Result)]}


@cached("page-circuits", key=_key)
def _circuit(model: str, base: str, label: str, pairs: PairParams, config: CircuitConfig,
             ig_steps: list[int]) -> Result:
    t0 = time.perf_counter()
    ps = pair_set(Side(model), Side(base), pairs)
    if len(ps.pairs) < 2:
        raise ValueError(f"{model} answers like {base} on all but {len(ps.pairs)} questions: no circuit to show")
    lm = load_kept(model, config.dtype)
    a = attribute(lm, ps.pairs, method=config.method, metric=config.metric, steps=config.steps, rule=config.rule,
                  gqa=config.gqa, batch_size=config.batch_size, progress=False)
    top = a.to_frame().sort_values("rank").head(15)[["src", "dst", "score", "abs_score", "rank"]]
    n = config.n_for(a.graph)
    ig = ig_steps_check(lm, ps.pairs, ig_steps, IG_AGREEMENT, config.metric, config.rule)
    scaling = topn_scaling(lm, ps.pairs, a, topn_sizes(n, a.graph.n_edges), config.metric, config.aggregation)
    drawn = circuit_for(model, Side(model), Side(base), pairs, config)  # the sweep's cached circuit
    nodes, edges = circuit_graph(drawn, config)
    exact, rho = attribution_vs_exact(lm, ps.pairs, a, config.metric, config.gqa)
    return Result(model, base, label, len(ps.pairs), ps.n_identical, ps.n_short, pairs_frame(ps, lm.tokenizer), top,
                  a.graph.n_edges, n, scaled_top_n(a.graph.n_edges), ig, scaling, nodes, edges, exact, rho,
                  drawn.faithfulness, list(drawn.heads), round(time.perf_counter() - t0, 3))


def verdicts(result: Result) -> pd.DataFrame:
    """No claim of the paper is decided here (the page checks the method: IG steps, top-n,
    attribution against exact patching): an empty verdict table."""
    return verdict_table([])
