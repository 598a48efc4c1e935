"""Exact patching (circuits.patching) on a tiny seeded Qwen2: a silenced head has no effect,
a layer's heads together equal its attention output patched by a Hugging Face hook, the batched
node / edge patches equal the one-at-a-time references, and the agreement statistics."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.test_circuits import _pairs as random_pairs
from thinking_sparks.circuits.attribute import attribute, exact_node_scores
from thinking_sparks.circuits.metrics import loss
from thinking_sparks.circuits.pairs import Pair, collate
from thinking_sparks.circuits.patching import (
    agreement,
    patch_edges,
    patch_nodes,
    sample_edges,
)


def _pairs(vocab: int, n: int = 6, length: int = 7, seed: int = 0) -> list[Pair]:
    """Random pairs whose metric reads the last two positions."""
    return random_pairs(vocab, n, length, seed, target_pos=(length - 2, length - 1))


@pytest.fixture(scope="module")
def pairs(tiny_qwen2):
    return _pairs(tiny_qwen2.hf_model.config.vocab_size)


@pytest.mark.parametrize("direction", ["noise", "denoise"])
def test_zeroed_head_has_no_effect(tiny_qwen2, pairs, direction):
    hf = copy.deepcopy(tiny_qwen2.hf_model)
    dh = hf.config.hidden_size // hf.config.num_attention_heads if not getattr(hf.config, "head_dim", None) \
        else hf.config.head_dim
    with torch.no_grad():
        hf.model.layers[1].self_attn.o_proj.weight[:, 2 * dh : 3 * dh] = 0.0  # L1H2 writes nothing
    res = patch_nodes(hf, pairs, metric="kl", direction=direction, batch_size=4)
    eff = res.as_dict()
    # (float rounding only: the patched forward sums the heads one by one, the plain one fused)
    assert res.per_example[:, res.nodes.index("L1H2")].abs().max() < 1e-6
    assert abs(eff["L0H1"]) > 1e-5  # the other heads do matter


def _hook_patch_attention(hf, pairs, layer: int, metric: str) -> float:
    """Reference: the layer's attention output (self_attn's output, o_proj and bias included) of
    the clean run replaced by the corrupted run's through Hugging Face forward hooks."""
    batch = collate(pairs)
    attn = hf.model.layers[layer].self_attn
    saved = {}

    def record(_m, _i, out):
        saved["out"] = out[0].detach()

    def replace(_m, _i, out):
        return (saved["out"],) + tuple(out[1:])

    with torch.no_grad():
        h = attn.register_forward_hook(record)
        hf(batch.corrupted)
        h.remove()
        clean = hf(batch.clean).logits
        h = attn.register_forward_hook(replace)
        patched = hf(batch.clean).logits
        h.remove()
    lp = torch.log_softmax(clean.float(), -1)
    return float((loss(metric, patched, batch, lp) - loss(metric, clean, batch, lp)).mean())


@pytest.mark.parametrize("metric", ["kl", "logit-diff"])
def test_all_heads_of_a_layer_equal_the_attention_output(tiny_qwen2, pairs, metric):
    hf = tiny_qwen2.hf_model
    H = hf.config.num_attention_heads
    groups = {f"L{l}": [f"L{l}H{h}" for h in range(H)] for l in range(hf.config.num_hidden_layers)}
    res = patch_nodes(hf, pairs, nodes=groups, metric=metric, batch_size=len(pairs)).as_dict()
    for layer in range(hf.config.num_hidden_layers):
        ref = _hook_patch_attention(hf, pairs, layer, metric)
        assert abs(ref) > 1e-4
        assert res[f"L{layer}"] == pytest.approx(ref, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("metric", ["kl", "logit-diff"])
def test_batched_patches_equal_one_at_a_time(tiny_qwen2, pairs, metric):
    ref = exact_node_scores(tiny_qwen2, pairs, metric=metric, batch_size=4)
    fast = patch_nodes(tiny_qwen2.hf_model, pairs, metric=metric, batch_size=4, chunk=3).as_dict()
    assert max(abs(ref[k] - fast[k]) for k in ref) < 1e-6
    ex = attribute(tiny_qwen2, pairs, method="exact", metric=metric, batch_size=4, progress=False)
    pe = patch_edges(tiny_qwen2.hf_model, pairs, metric=metric, batch_size=4, chunk=7)
    mask = ex.graph.edge_mask()
    assert len(pe.effects) == int(mask.sum())
    assert torch.allclose(pe.dense()[mask], ex.scores[mask], atol=1e-6)


def _prefix_pairs(vocab: int) -> list[Pair]:
    """Pairs sharing their first 4 tokens (a prompt), differing at 4-5, read at 6-7 and followed
    by a tail position 8 that no read position sees."""
    g = torch.Generator().manual_seed(3)
    out = []
    for _ in range(5):
        clean = torch.randint(0, vocab, (9,), generator=g)
        corr = clean.clone()
        corr[4:6] = torch.randint(0, vocab, (2,), generator=g)
        out.append(Pair(tuple(clean.tolist()), tuple(corr.tolist()), 1, 2, target_pos=(6, 7)))
    return out


@pytest.mark.parametrize("model", ["tiny_qwen2", "tiny_qwen3"])
@pytest.mark.parametrize("direction", ["noise", "denoise"])
def test_shared_prefix_shortcut_is_exact(model, direction, request):
    """Skipping the shared prompt and the unread tail (circuits.resume) changes no head effect."""
    from thinking_sparks.circuits.forward import CircuitModel
    from thinking_sparks.circuits.pairs import collate
    from thinking_sparks.circuits.resume import shared_prefix

    lm = request.getfixturevalue(model)
    pairs = _prefix_pairs(lm.hf_model.config.vocab_size)
    b = collate(pairs)
    assert shared_prefix(b.clean, b.corrupted, b.cols) == 4
    cm = CircuitModel(lm.hf_model)
    fast = patch_nodes(lm.hf_model, pairs, metric="kl", direction=direction, batch_size=3, circuit_model=cm)
    slow = patch_nodes(lm.hf_model, pairs, metric="kl", direction=direction, batch_size=3, circuit_model=cm,
                       prefix=False)
    assert fast.effects.abs().max() > 1e-4
    assert torch.allclose(fast.per_example, slow.per_example, atol=1e-6)
    if direction == "noise":
        ref = exact_node_scores(lm, pairs, metric="kl", batch_size=3)
        assert max(abs(ref[k] - v) for k, v in fast.as_dict().items()) < 1e-6


def test_denoising_every_source_restores_the_clean_run(tiny_qwen2, pairs):
    """Patching every source in the denoise direction restores the clean run entirely."""
    hf = tiny_qwen2.hf_model
    nodes = {"all": ["input"] + [f"L{l}H{h}" for l in range(2) for h in range(4)] + ["MLP0", "MLP1"]}
    res = patch_nodes(hf, pairs, nodes=nodes, metric="kl", direction="denoise")
    assert res.clean_loss == 0.0
    assert res.effects[0].item() == pytest.approx(res.corrupted_loss, rel=1e-5)


def test_sample_edges_keeps_the_top_n():
    scores = torch.arange(40, dtype=torch.float32).reshape(4, 10) - 20.0
    mask = torch.ones(4, 10, dtype=torch.bool)
    mask[0, :5] = False
    picked = sample_edges(scores, mask, n=10, top_n=3, strata=5)
    assert len(picked) == 13
    assert picked[:3].tolist() == [[3, 9], [3, 8], [3, 7]]  # |score| 19, 18, 17
    assert bool(mask[picked[:, 0], picked[:, 1]].all())
    assert len({tuple(e) for e in picked.tolist()}) == 13
    assert len(sample_edges(scores, mask, n=40, top_n=3)) == 35  # small graph: every edge


def test_agreement_on_a_known_case():
    attributed = [3.0, -2.0, 1.0, 0.5]
    exact = [2.9, -2.1, 0.1, 0.6]
    a = agreement(attributed, exact, k=2)
    assert (a.spearman, a.spearman_abs, a.recall, a.k, a.n) == (pytest.approx(0.8), pytest.approx(0.8), 1.0, 2, 4)
    assert agreement(attributed, exact, k=3).recall == pytest.approx(2 / 3)
    assert agreement([1, 2, 3], [3, 2, 1], k=1).spearman == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="k must be"):
        agreement(attributed, exact, k=5)


def test_agreement_on_a_model_with_one_live_head(tiny_qwen2, pairs):
    """A hand-built model whose only head writing into the residual is L1H2 (every other head's
    slice of o_proj zeroed): exact denoising patches and EAP-IG node scores are both exactly 0 on
    the 7 silent heads, so both rank L1H2 first: Spearman 1, top-1 recall 1; attributions of the
    wrong sign give Spearman -1 with recall still 1 (recall reads |values|)."""
    from thinking_sparks.circuits.agreement import head_scores
    from thinking_sparks.circuits.forward import CircuitModel

    hf = copy.deepcopy(tiny_qwen2.hf_model)
    H, L = hf.config.num_attention_heads, hf.config.num_hidden_layers
    dh = hf.config.hidden_size // H
    with torch.no_grad():
        for layer in range(L):
            for h in range(H):
                if (layer, h) != (1, 2):
                    hf.model.layers[layer].self_attn.o_proj.weight[:, h * dh : (h + 1) * dh] = 0.0
    cm = CircuitModel(hf)
    exact = patch_nodes(hf, pairs, metric="kl", direction="denoise", circuit_model=cm).effects
    attributed = head_scores(attribute(hf, pairs, steps=20, circuit_model=cm, progress=False), "node")
    live = 1 * H + 2
    assert exact[live] > 1e-4 and attributed[live] > 1e-4
    silent = [i for i in range(L * H) if i != live]
    assert exact[silent].abs().max() < 1e-6 and attributed[silent].abs().max() < 1e-6

    def silent_zero(v):  # float dust (the patched forward sums the heads one by one) set to 0
        return torch.where(v.abs() < 1e-6, torch.zeros_like(v), v)

    a = agreement(silent_zero(attributed), silent_zero(exact), k=1)
    assert (a.spearman, a.spearman_abs, a.recall, a.n) == (pytest.approx(1.0), pytest.approx(1.0), 1.0, 8)
    flipped = agreement(-silent_zero(attributed), silent_zero(exact), k=1)
    assert (flipped.spearman, flipped.recall) == (pytest.approx(-1.0), 1.0)


# ---------------------------------------------------------------- sparks patch


def _patch_cli(tmp_path, monkeypatch, *args):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    return CliRunner().invoke(app, ["--quiet", "patch", *args])


@pytest.fixture
def pairs_file(tmp_path):
    import json

    f = tmp_path / "pairs.jsonl"
    rows = [{"clean_ids": [5, 6, 7, 8, 9], "corrupted_ids": [5, 10, 7, 8, 9], "correct_id": 11, "wrong_id": 12},
            {"clean_ids": [13, 14, 15, 16], "corrupted_ids": [13, 17, 15, 16], "correct_id": 18, "wrong_id": 19},
            {"clean_ids": [20, 21, 22, 23], "corrupted_ids": [20, 24, 25, 23], "correct_id": 11, "wrong_id": 19}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def test_cli_heads_and_edges(tmp_path, tiny_model_dir, pairs_file, monkeypatch):
    import json

    import pandas as pd

    for level, n_rows in (("heads", 8), ("edges", 25)):
        out = tmp_path / level
        r = _patch_cli(tmp_path, monkeypatch, "--model", str(tiny_model_dir), "--pairs", str(pairs_file), "--out",
                       str(out), "--level", level, "--metric", "logit-diff", "--top-n", "6", "--sample", "19")
        assert r.exit_code == 0, r.output
        df = pd.read_parquet(out / f"{level}.parquet")
        assert len(df) == n_rows and {"attribution", "exact"} <= set(df.columns)
        meta = json.loads((out / "meta.json").read_text())
        assert set(meta["agreement"]) == {"spearman", "spearman_abs", "recall", "k", "n"}
        assert meta["agreement"]["n"] == n_rows and meta["params"]["level"] == level
    assert json.loads((tmp_path / "edges" / "meta.json").read_text())["edges_sampled"] is True
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries left


def test_cli_bad_level_is_one_line(tmp_path, tiny_model_dir, pairs_file, monkeypatch):
    r = _patch_cli(tmp_path, monkeypatch, "--model", str(tiny_model_dir), "--pairs", str(pairs_file), "--out",
                   str(tmp_path / "o"), "--level", "nodes")
    assert r.exit_code != 0 and "unknown --level 'nodes'" in r.output
    assert not (tmp_path / "o").exists()


def test_pair_transforms():
    from thinking_sparks.circuits.agreement import (
        cap_answer,
        first_divergent_token,
        max_differing,
        n_differing,
    )

    # prompt 0 1 2, answers from position 3; the inputs first differ at 4, the continuations at 5 -> 6
    p = Pair((0, 1, 2, 3, 4, 5, 6, 7), (0, 1, 2, 3, 9, 5, 8, 7), target_pos=(2, 3, 4, 5, 6))
    same_start = Pair((0, 1, 2, 3), (0, 1, 2, 9), target_pos=(2,))  # differs only in the last token
    (f,) = first_divergent_token([p, same_start])
    assert (f.clean_ids, f.corrupted_ids, f.correct_id, f.wrong_id, f.target_pos) == (
        (0, 1, 2, 3, 4, 5), (0, 1, 2, 3, 9, 5), 6, 8, (5,))
    (c,) = cap_answer([p], 3)
    assert (c.clean_ids, c.target_pos) == ((0, 1, 2, 3, 4), (2, 3, 4))
    assert cap_answer([p], 2) == []  # the inputs up to the cut are identical
    assert n_differing(p) == 2 and max_differing([p, same_start], 1) == [same_start]


def test_edges_grouped_gqa_equal_the_reference(tiny_qwen2, pairs):
    ex = attribute(tiny_qwen2, pairs, method="exact", metric="kl", gqa="grouped", batch_size=6, progress=False)
    pe = patch_edges(tiny_qwen2.hf_model, pairs, metric="kl", gqa="grouped", batch_size=6, chunk=5)
    mask = ex.graph.edge_mask()
    assert "L1G1.k" in ex.graph.dst_names and len(pe.effects) == int(mask.sum())
    assert torch.allclose(pe.dense()[mask], ex.scores[mask], atol=1e-6)


def test_cli_heads_samples_the_rest_on_a_llama(tmp_path, pairs_file, monkeypatch):
    """On a tiny Llama (from its config, seed 0): ``--sample 2`` patches the circuit's top heads by
    |attribution| and 2 seeded others, with the same exact effects as patching every head."""
    import json

    import pandas as pd

    from thinking_sparks.circuits.patch_cli import sample_heads
    from thinking_sparks.tiny import build_tiny

    model = build_tiny(tmp_path / "llama", arch="llama", seed=0)
    frames, metas = {}, {}
    for sample in (1000, 2, 2):
        out = tmp_path / f"heads-{sample}-{len(frames)}"
        r = _patch_cli(tmp_path, monkeypatch, "--model", str(model), "--pairs", str(pairs_file), "--out", str(out),
                       "--metric", "logit-diff", "--top-n", "3", "--sample", str(sample), "--seed", "1")
        assert r.exit_code == 0, r.output
        frames[len(frames)] = pd.read_parquet(out / "heads.parquet")
        metas[len(metas)] = json.loads((out / "meta.json").read_text())
    full, part, again = frames[0], frames[1], frames[2]
    k = metas[1]["agreement"]["k"]
    assert metas[0]["heads_patched"] == metas[0]["n_heads"] == len(full) == 8 and metas[0]["heads_sampled"] == 0
    assert k + 2 < 8 and metas[1]["heads_patched"] == len(part) == k + 2 and metas[1]["heads_sampled"] == 2
    assert part.equals(again)  # seeded
    top = set(full.assign(a=full.attribution.abs()).sort_values("a", ascending=False, kind="stable").head(k)["head"])
    assert top == set(part.loc[~part.sampled, "head"])
    merged = part.merge(full, on="head", suffixes=("", "_full"))
    assert (merged.exact - merged.exact_full).abs().max() < 1e-6
    assert (merged.attribution == merged.attribution_full).all()
    idx, sampled = sample_heads(torch.tensor([0.1, -3.0, 2.0, 0.0, 0.5]), 2, 1, seed=0)
    assert len(idx) == 3 and {1, 2} <= set(idx) and sampled.count(True) == 1
