"""Fig 14's frames on literal head sets; Fig 15's τ simplification on a hand-built attribution, its
paired bootstrap on literal per-example scores, and its verdict row on literal counts."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from thinking_sparks.circuits.attribute import Attribution
from thinking_sparks.circuits.graph import Graph
from thinking_sparks.emergence import fig15 as f15
from thinking_sparks.emergence.fig14 import COLOURS, category, fig14_frames, place, pooled_runs
from thinking_sparks.emergence.sweep import CircuitResult
from thinking_sparks.emergence.trace import CircuitHeads, TraceTables
from thinking_sparks.plan import Plan, StatsPlan

# ------------------------------------------------------------------ Fig 14

BASE = ["L0H0"]
#: run -> (kind, circuits at its checkpoints); a 2 layers x 3 heads model, every base circuit = BASE
RUNS = {
    "distill": ("distill", [["L0H2"], ["L0H0", "L0H1", "L1H2"]]),  # final only: L0H2 (mid-run) is not counted
    "sft": ("sft", [["L0H1", "L1H0"], ["L1H0"]]),
    "grpo-easy": ("grpo", [["L1H0"]]),
    "grpo-hard": ("grpo", [["L1H1"], []]),
    "grpo-hard-lr": ("grpo", [["L0H2"]]),  # not pooled (Fig 8's run)
}


def _ch(heads, n_pairs=5):
    return CircuitHeads("m", list(heads), [[0.0] * 3, [0.0] * 3], 2, 3, 10, n_pairs)


def _runs():
    empty = pd.DataFrame()
    out = []
    for run, (_, cps) in RUNS.items():
        # grpo-hard's last checkpoint answered like its base: no signal, not a circuit
        res = [_ch(h, 0 if (run == "grpo-hard" and i == 1) else 5) for i, h in enumerate(cps)]
        out.append(TraceTables(run, _ch(BASE), res, list(range(len(cps))), empty, empty, empty, empty, empty))
    return out


KINDS = {run: kind for run, (kind, _) in RUNS.items()}


def test_fig14_categories_colours_and_counts():
    assert pooled_runs(KINDS) == {"distillation": ["distill"], "SFT": ["sft"], "GRPO": ["grpo-easy", "grpo-hard"]}
    top, bottom = fig14_frames(_runs(), KINDS)
    b = bottom.set_index("head")
    assert b.category.to_dict() == {"L0H0": "none", "L0H1": "SFT+distillation", "L0H2": "none",
                                    "L1H0": "GRPO+SFT", "L1H1": "GRPO", "L1H2": "distillation"}
    assert b.shared_grpo[b.shared_grpo].index.tolist() == ["L1H0"]
    assert b.loc["L1H0", "colour"] == COLOURS["GRPO+SFT"] == "#e6c619" and b.loc["L0H0", "colour"] == "#ffffff"
    assert b.loc["L1H0", "counts"] == "distillation 0/1, SFT 2/2, GRPO 1/2"
    t = top.set_index(["method", "head"])
    assert t.loc[("SFT", "L1H0"), "share"] == 1.0 and t.loc[("GRPO", "L1H1"), "count"] == 1
    assert t.loc[("distillation", "L0H2"), "count"] == 0 and t.loc[("GRPO", "L0H0"), "in_base"]
    assert category(["distillation", "GRPO"]) == "GRPO+distillation"
    with pytest.raises(ValueError, match="unknown methods"):
        category(["PPO"])


def test_fig14_pools_circuit_sets():
    top, bottom = fig14_frames({"hard": _runs(), "medium": _runs()}, KINDS)
    assert bottom.set_index("head").loc["L1H0", "counts"] == "distillation 0/2, SFT 4/4, GRPO 2/4"
    assert top.set_index(["method", "head"]).loc[("SFT", "L1H0"), "share"] == 1.0


def test_fig14_sorting_both_ways():
    _, bottom = fig14_frames(_runs(), KINDS)  # default: within each layer, new heads first
    cells = {h: (c, s) for h, c, s in zip(bottom["head"], bottom.column, bottom.slot, strict=True)}
    assert cells == {"L0H1": (0, 0), "L0H0": (0, 1), "L0H2": (0, 2), "L1H0": (1, 0), "L1H1": (1, 1), "L1H2": (1, 2)}
    cols = place(bottom, "columns")  # layer 1 has 3 new heads, layer 0 one: layer 1 is the first column
    assert dict(zip(cols["head"], zip(cols.column, cols.slot, strict=True), strict=True)) == {
        "L0H0": (1, 0), "L0H1": (1, 1), "L0H2": (1, 2), "L1H0": (0, 0), "L1H1": (0, 1), "L1H2": (0, 2)}
    plain = place(bottom, "none")
    assert plain.column.tolist() == plain.layer.tolist() and plain.slot.tolist() == plain["index"].tolist()
    with pytest.raises(ValueError, match="sort must be one of"):
        place(bottom, "rows")


def test_fig14_chart_builds():
    from thinking_sparks import plots

    top, bottom = fig14_frames(_runs(), KINDS, sort="columns")
    spec = plots.fig14_chart(top, bottom, "Fig 14").to_dict()
    assert len(spec["vconcat"]) == 2 and len(spec["vconcat"][0]["hconcat"]) == 3


# ------------------------------------------------------------------ Fig 15: τ simplification

G = Graph(1, 2, 2)  # src: input, L0H0, L0H1, MLP0; dst: L0H{0,1}.{q,k,v}, MLP0, logits
EDGES = {("input", "L0H0.q"): 1.0, ("input", "L0H1.q"): 0.05, ("L0H0", "MLP0"): 0.5, ("MLP0", "logits"): 0.8,
         ("L0H1", "logits"): 0.2, ("input", "MLP0"): 0.09, ("L0H0", "logits"): -0.3, ("input", "logits"): 0.02}


def _scores(edges=EDGES) -> torch.Tensor:
    s = torch.zeros(G.n_src, G.n_dst)
    for (a, b), v in edges.items():
        s[G.src_index(a), G.dst_index(b)] = v
    return s


@pytest.mark.parametrize(("n", "tau", "nodes", "edges", "kept"), [
    # top 6 drop input->L0H1.q, so L0H1 (no input) is pruned with its logits edge: 5 edges left
    (6, 0.0, 4, 5, {("input", "L0H0.q"), ("L0H0", "MLP0"), ("MLP0", "logits"), ("L0H0", "logits"),
                    ("input", "MLP0")}),
    (6, 0.1, 4, 4, {("input", "L0H0.q"), ("L0H0", "MLP0"), ("MLP0", "logits"), ("L0H0", "logits")}),
    (6, 0.4, 4, 3, {("input", "L0H0.q"), ("L0H0", "MLP0"), ("MLP0", "logits")}),
    (6, 0.6, 0, 0, set()),  # L0H0 keeps no output, MLP0 no input: nothing connects
    # all 8 in the top-n circuit; L0H1 -> logits (0.2) clears the cut but input -> L0H1.q (0.05) does not
    (8, 0.1, 4, 4, {("input", "L0H0.q"), ("L0H0", "MLP0"), ("MLP0", "logits"), ("L0H0", "logits")}),
])
def test_tau_simplification(n, tau, nodes, edges, kept):
    s = _scores()
    c = f15.simplify(Attribution(G, s, s.abs(), 1, "test", "kl"), n, tau)
    assert set(c.edge_list()) == kept and f15.counts(c) == (nodes, edges)
    pe = torch.stack([2 * s, torch.zeros_like(s)])  # mean over the two examples = s
    assert f15.simplified_counts(pe, G, n, tau) == (nodes, edges)
    assert f15.simplified_counts(pe, G, n, tau, rows=[0, 0]) == (nodes, edges)  # 2 s: same relative cut


def test_paired_bootstrap_on_literal_scores(monkeypatch, tmp_path):
    more = dict(EDGES) | {("input", "MLP0"): 0.2}  # (C): input -> MLP0 clears the 0.1 cut: one edge more
    results = []
    for name, edges in (("b", EDGES), ("c", more)):
        (tmp_path / name).mkdir()
        torch.save(torch.stack([_scores(edges)] * 4), tmp_path / name / "per_example.pt")
        results.append(CircuitResult(name, "x", "y", 1, 2, 6, ["L0H0"], None, None, None, 4, 0, 0, 1.0, 0.0, 5,
                                     question_index=[0, 1, 2, 3] if name == "b" else [0, 1, 2, 5],
                                     path=tmp_path / name))
    monkeypatch.setattr(f15, "edge_graph", lambda r, settings: G)

    class Settings:
        aggregation = "mean"

    plan = Plan(stats=StatsPlan(n_resamples=50))
    frame = f15.paired_difference(*results, Settings(), 0.1, plan)
    got = frame.set_index("measure")[["B", "C", "difference", "ci_low", "ci_high", "questions", "resamples"]]
    assert got.loc["nodes"].tolist() == [4, 4, 0, 0, 0, 5, 50]
    assert got.loc["edges"].tolist() == [4, 5, 1, 1, 1, 5, 50]
    assert f15.fig15_verdict(frame).verdict == "partly"  # more edges, not more nodes


# ------------------------------------------------------------------ Fig 15: the verdict row


def _complexity(nodes, edges):
    return pd.DataFrame([{"measure": m, "B": 10, "C": 10 + v[0], "difference": v[0], "ci_low": v[1], "ci_high": v[2]}
                         for m, v in (("nodes", nodes), ("edges", edges))])


@pytest.mark.parametrize(("nodes", "edges", "verdict"), [
    ((5, 2, 8), (12, 4, 20), "reproduced"),
    ((-3, -6, -1), (-5, -9, -2), "not reproduced"),
    ((3, 1, 5), (-2, -4, 0), "partly"),
    ((2, -1, 4), (5, 1, 9), "inconclusive"),
    ((2, float("nan"), float("nan")), (5, 1, 9), "inconclusive"),
])
def test_fig15_verdict_row(nodes, edges, verdict):
    v = f15.fig15_verdict(_complexity(nodes, edges))
    assert v.verdict == verdict and v.value == nodes[0]
    assert v.criterion == "CI of (C) - (B) above 0 for nodes and for edges" and "Fig 15" in v.paper
