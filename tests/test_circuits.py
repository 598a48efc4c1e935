"""Circuit engine on tiny seeded models: graph, pairs, forward fidelity, EAP vs a slow autograd
reference, grouped/ungrouped GQA, IG completeness, determinism, pruning, planner."""

from __future__ import annotations

import json

import pytest
import torch

from thinking_sparks.circuits.attribute import attribute, riemann_alphas
from thinking_sparks.circuits.circuit import Circuit, head_importance, prune, threshold, top_n
from thinking_sparks.circuits.faithfulness import evaluate_circuit
from thinking_sparks.circuits.forward import CircuitModel
from thinking_sparks.circuits.graph import Graph, reference_name_to_ours
from thinking_sparks.circuits.memory import estimate_bytes, plan_batch_size
from thinking_sparks.circuits.pairs import Pair, collate, load_pairs, save_pairs
from thinking_sparks.circuits.weights import rms_norm


def _pairs(vocab: int, n: int = 6, length: int = 7, seed: int = 0,
           target_pos: tuple[int, ...] | None = None) -> list[Pair]:
    """``n`` seeded random pairs whose corrupted side differs at positions 1-2; the metric reads
    ``target_pos`` (None: the last position)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        clean = torch.randint(0, vocab, (length,), generator=g)
        corr = clean.clone()
        corr[1:3] = torch.randint(0, vocab, (2,), generator=g)
        a, b = torch.randperm(vocab, generator=g)[:2].tolist()
        out.append(Pair(tuple(clean.tolist()), tuple(corr.tolist()), a, b, target_pos=target_pos))
    return out


# ---------------------------------------------------------------- slow independent reference


def _reference_eap(lm, pairs: list[Pair], metric: str, gqa: str, alphas: list[float] | None = None) -> torch.Tensor:
    """EAP by brute force: an explicit per-head forward where every destination reads the
    residual plus its own zero perturbation ``eps_j``; score(u, j) = <Delta_u, dL/d eps_j>.

    With ``alphas`` it is EAP-IG on the inputs: dL/d eps_j is averaged over forwards whose token
    embeddings are ``e_corr + a (e_clean - e_corr)`` for each a (the loss's reference, e.g. the
    clean distribution of ``kl``, stays the clean run's)."""
    hf = lm.hf_model
    from safetensors.torch import load_file

    sd = {k: v.float() for k, v in load_file(lm.path / "model.safetensors").items()}  # raw HF weights
    cfg = hf.config
    L, H, G, D = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.hidden_size
    dh = getattr(cfg, "head_dim", None) or D // H
    eps_n = cfg.rms_norm_eps
    graph = Graph(L, H, G, gqa)
    batch = collate(pairs)

    def norm(x, w, e=eps_n):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + e))

    def rope(t):  # t [b, p, dh]
        p = t.shape[1]
        inv = 1.0 / (cfg.rope_theta if hasattr(cfg, "rope_theta") else cfg.rope_parameters["rope_theta"]) ** (
            torch.arange(0, dh, 2).float() / dh)
        ang = torch.arange(p).float()[:, None] * inv[None]
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        rot = torch.cat([-t[..., dh // 2:], t[..., : dh // 2]], -1)
        return t * cos + rot * sin

    def forward(ids, eps, emb=None):
        x = sd["model.embed_tokens.weight"][ids] if emb is None else emb
        outs = [x]
        p = ids.shape[1]
        causal = torch.ones(p, p, dtype=torch.bool).triu(1)
        for li in range(L):
            pre = f"model.layers.{li}."
            def w(name, pre=pre):
                return sd[pre + name]

            heads = []
            for h in range(H):
                grp = h // (H // G)
                kname = f"L{li}H{h}.k" if gqa == "ungrouped" else f"L{li}G{grp}.k"
                vname = f"L{li}H{h}.v" if gqa == "ungrouped" else f"L{li}G{grp}.v"
                xq = norm(x + eps[graph.dst_index(f"L{li}H{h}.q")], w("input_layernorm.weight"))
                xk = norm(x + eps[graph.dst_index(kname)], w("input_layernorm.weight"))
                xv = norm(x + eps[graph.dst_index(vname)], w("input_layernorm.weight"))
                sl, gs = slice(h * dh, (h + 1) * dh), slice(grp * dh, (grp + 1) * dh)
                q = xq @ w("self_attn.q_proj.weight")[sl].T
                k = xk @ w("self_attn.k_proj.weight")[gs].T
                v = xv @ w("self_attn.v_proj.weight")[gs].T
                if pre + "self_attn.q_proj.bias" in sd:
                    q, k, v = (q + w("self_attn.q_proj.bias")[sl], k + w("self_attn.k_proj.bias")[gs],
                               v + w("self_attn.v_proj.bias")[gs])
                if pre + "self_attn.q_norm.weight" in sd:
                    q, k = norm(q, w("self_attn.q_norm.weight")), norm(k, w("self_attn.k_norm.weight"))
                q, k = rope(q), rope(k)
                s = (q @ k.transpose(-1, -2)) / dh**0.5
                z = torch.softmax(s.masked_fill(causal, float("-inf")), -1) @ v
                heads.append(z @ w("self_attn.o_proj.weight")[:, sl].T)
            outs += heads
            x = x + sum(heads)
            m_in = norm(x + eps[graph.mlp_dst(li)], w("post_attention_layernorm.weight"))
            act = torch.nn.functional.silu(m_in @ w("mlp.gate_proj.weight").T) * (m_in @ w("mlp.up_proj.weight").T)
            m = act @ w("mlp.down_proj.weight").T
            outs.append(m)
            x = x + m
        x = x + eps[graph.logits_dst]
        logits = norm(x, sd["model.norm.weight"]) @ sd["lm_head.weight"].T
        return logits, torch.stack(outs, 2)

    from thinking_sparks.circuits.metrics import loss

    b, p = batch.clean.shape
    zeros = [torch.zeros(b, p, D) for _ in range(graph.n_dst)]
    with torch.no_grad():
        lc, sc = forward(batch.clean, zeros)
        _, sx = forward(batch.corrupted, zeros)
    e_clean, e_corr = sd["model.embed_tokens.weight"][batch.clean], sd["model.embed_tokens.weight"][batch.corrupted]
    grads = [torch.zeros(b, p, D) for _ in range(graph.n_dst)]
    for a in alphas if alphas is not None else [1.0]:
        eps = [torch.zeros(b, p, D, requires_grad=True) for _ in range(graph.n_dst)]
        logits, _ = forward(batch.clean, eps, emb=e_corr + a * (e_clean - e_corr))
        total = loss(metric, logits, batch, torch.log_softmax(lc, -1)).sum()
        for gj, new in zip(grads, torch.autograd.grad(total, eps), strict=True):
            gj += new / len(alphas if alphas is not None else [1.0])
    delta = sx - sc  # [b, p, S, D]
    scores = torch.stack([torch.einsum("bpsd,bpd->s", delta, gj) for gj in grads], 1) / b
    return scores * graph.edge_mask()


# ---------------------------------------------------------------- tests


def test_graph_names_and_edges():
    g = Graph(2, 8, 2, "ungrouped")
    assert g.n_src == 19 and g.n_edges == 310  # the bench graph
    assert g.src_names[:3] == ["input", "L0H0", "L0H1"] and g.src_names[-1] == "MLP1"
    assert "L1H5.q" in g.dst_names and g.dst_names[-1] == "logits"
    gg = Graph(2, 8, 2, "grouped")
    assert "L1G1.k" in gg.dst_names and "L1H5.k" not in gg.dst_names
    assert gg.dst_heads("L1G1.v") == [f"L1H{h}" for h in range(4, 8)]
    assert reference_name_to_ours("a1.h5<q>") == "L1H5.q"
    assert reference_name_to_ours("m0") == "MLP0" and reference_name_to_ours("a0.h3") == "L0H3"
    with pytest.raises(ValueError):
        Graph(1, 6, 4)


def test_pairs_equal_length_and_jsonl(tmp_path):
    with pytest.raises(ValueError, match="lengths differ"):
        Pair((1, 2, 3), (1, 2))
    pairs = [Pair((1, 2, 3), (1, 4, 3), 5, 6), Pair((1, 2), (3, 2), 7, 8, target_pos=(0, 1))]
    save_pairs(pairs, tmp_path / "p.jsonl")
    assert load_pairs(tmp_path / "p.jsonl") == pairs
    (tmp_path / "bad.jsonl").write_text(json.dumps({"clean_ids": [1, 2], "corrupted_ids": [1]}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_pairs(tmp_path / "bad.jsonl")
    with pytest.raises(FileNotFoundError):
        load_pairs(tmp_path / "missing.jsonl")
    b = collate(pairs)
    assert b.clean.shape == (2, 3) and b.target[0].tolist() == [False, False, True]
    assert b.target[1].tolist() == [True, True, False] and not b.valid[1, 2]


def test_text_pairs_need_single_token_answers(tiny_qwen2, tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"clean": "what is 2 plus 3", "corrupted": "what is 7 plus 3", "correct": "5",
                             "wrong": "0"}) + "\n")
    (p,) = load_pairs(f, tiny_qwen2.tokenizer)
    assert len(p.clean_ids) == len(p.corrupted_ids) and p.correct_id is not None
    f.write_text(json.dumps({"clean": "what is 2", "corrupted": "what is 7", "correct": "5 5", "wrong": "0"}) + "\n")
    with pytest.raises(ValueError, match="expected exactly 1"):
        load_pairs(f, tiny_qwen2.tokenizer)


@pytest.mark.parametrize("arch", ["tiny_qwen2", "tiny_qwen3", "tiny_llama"])
def test_forward_matches_bridge(arch, request):
    lm = request.getfixturevalue(arch)
    cm = CircuitModel(lm)
    ids = torch.randint(0, cm.vocab, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = lm.bridge(ids)
        ours = cm.run(cm.embed(ids)).logits
        rec = cm.run(cm.embed(ids), record=True)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)
    # the residual stream is the sum of all source outputs
    torch.testing.assert_close(rms_norm(rec.sources.sum(2), cm.final_norm, cm.final_eps) @ cm.lm_head.T, ref,
                               atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ["tiny_qwen2", "tiny_qwen3", "tiny_llama"])
@pytest.mark.parametrize("gqa", ["ungrouped", "grouped"])
def test_eap_equals_autograd_reference(arch, gqa, request):
    lm = request.getfixturevalue(arch)
    pairs = _pairs(lm.config.vocab_size, n=3)
    for metric in ("logit-diff", "kl"):
        ours = attribute(lm, pairs, method="eap", metric=metric, gqa=gqa, batch_size=2, progress=False)
        if metric == "kl":  # zero at the clean point: check it's float noise
            assert ours.scores.abs().max() < 1e-5
            continue
        ref = _reference_eap(lm, pairs, metric, gqa)
        torch.testing.assert_close(ours.scores, ref, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", ["tiny_qwen2", "tiny_qwen3", "tiny_llama"])
@pytest.mark.parametrize("rule", ["left", "right"])
def test_default_path_eap_ig_inputs_kl_equals_slow_autograd(arch, rule, request):
    """The default (eap-ig-inputs + kl) against an independent slow computation, always run."""
    lm = request.getfixturevalue(arch)
    pairs = _pairs(lm.config.vocab_size, n=3)
    ours = attribute(lm, pairs, method="eap-ig-inputs", metric="kl", steps=3, rule=rule, batch_size=2,
                     progress=False)
    ref = _reference_eap(lm, pairs, "kl", "ungrouped", alphas=riemann_alphas(3, rule))
    top = float(ref.abs().max())
    assert top > 1e-4  # a real signal, not two zeros agreeing
    torch.testing.assert_close(ours.scores, ref, atol=1e-3 * top, rtol=1e-3)


@pytest.mark.parametrize("method", ["eap", "eap-ig-inputs", "clean-corrupted", "eap-ig-joint-activations"])
def test_grouped_is_sum_of_ungrouped(tiny_qwen2, method):
    pairs = _pairs(tiny_qwen2.config.vocab_size)
    un = attribute(tiny_qwen2, pairs, method=method, metric="kl", steps=3, gqa="ungrouped", progress=False)
    gr = attribute(tiny_qwen2, pairs, method=method, metric="kl", steps=3, gqa="grouped", progress=False)
    gu, gg = un.graph, gr.graph
    rep = gu.n_heads // gu.n_kv_heads
    for layer in range(gu.n_layers):
        for grp in range(gu.n_kv_heads):
            for kind in "kv":
                summed = sum(un.scores[:, gu.dst_index(f"L{layer}H{h}.{kind}")]
                             for h in range(grp * rep, (grp + 1) * rep))
                torch.testing.assert_close(gr.scores[:, gg.dst_index(f"L{layer}G{grp}.{kind}")], summed,
                                           atol=1e-6, rtol=1e-4)
        for h in range(gu.n_heads):
            torch.testing.assert_close(gr.scores[:, gg.dst_index(f"L{layer}H{h}.q")],
                                       un.scores[:, gu.dst_index(f"L{layer}H{h}.q")], atol=1e-6, rtol=1e-4)


def test_exact_grouped_patches_whole_group(tiny_qwen2):
    pairs = _pairs(tiny_qwen2.config.vocab_size, n=2)
    a = attribute(tiny_qwen2, pairs, method="exact", metric="logit-diff", gqa="grouped", progress=False)
    assert a.scores[:, a.graph.dst_index("L1G0.k")].abs().sum() > 0


@pytest.mark.parametrize("method", ["eap-ig-inputs", "eap-ig-joint-activations"])
def test_ig_completeness(tiny_llama, method):
    """IG sums to L(corrupted) - L(clean): over input's edges (inputs) / into logits (activations)."""
    pairs = _pairs(tiny_llama.config.vocab_size, n=4)
    a = attribute(tiny_llama, pairs, method=method, metric="logit-diff", steps=40, rule="midpoint",
                  progress=False)
    cm = CircuitModel(tiny_llama)
    from thinking_sparks.circuits.metrics import loss

    b = collate(pairs)
    with torch.no_grad():
        gap = float((loss("logit-diff", cm.run(cm.embed(b.corrupted)).logits, b)
                     - loss("logit-diff", cm.run(cm.embed(b.clean)).logits, b)).mean())
    got = a.scores[0].sum() if method == "eap-ig-inputs" else a.scores[:, a.graph.logits_dst].sum()
    assert abs(float(got) - gap) < 0.02 * abs(gap) + 1e-3, (float(got), gap)


def test_riemann_rules():
    assert riemann_alphas(4, "left") == [0, 0.25, 0.5, 0.75]
    assert riemann_alphas(4, "right") == [0.25, 0.5, 0.75, 1.0]
    assert riemann_alphas(2, "midpoint") == [0.25, 0.75]
    with pytest.raises(ValueError):
        riemann_alphas(3, "trapezoid")


def test_determinism_batching_and_errors(tiny_qwen3):
    pairs = _pairs(tiny_qwen3.config.vocab_size, n=5) + [Pair((1, 2, 3, 4), (1, 5, 3, 4), 6, 7)]
    a = attribute(tiny_qwen3, pairs, method="eap-ig-inputs", metric="logit-diff", steps=3, batch_size=2,
                  progress=False)
    b = attribute(tiny_qwen3, pairs, method="eap-ig-inputs", metric="logit-diff", steps=3, batch_size=2,
                  progress=False)
    assert torch.equal(a.scores, b.scores)
    c = attribute(tiny_qwen3, pairs, method="eap-ig-inputs", metric="logit-diff", steps=3, batch_size=6,
                  progress=False)  # padding (mixed lengths) and batch size do not change scores
    torch.testing.assert_close(a.scores, c.scores, atol=1e-5, rtol=1e-4)
    assert a.scores.dtype == torch.float32
    with pytest.raises(ValueError, match="unknown method"):
        attribute(tiny_qwen3, pairs, method="magic", progress=False)
    with pytest.raises(ValueError, match="logit-diff"):
        attribute(tiny_qwen3, [Pair((1, 2), (3, 2))], metric="logit-diff", progress=False)


def test_answer_logprob_metric_runs(tiny_qwen2):
    pairs = [Pair((5, 6, 7, 8, 9), (5, 10, 7, 8, 9), target_pos=(2, 3))]
    a = attribute(tiny_qwen2, pairs, method="eap", metric="answer-logprob", progress=False)
    assert torch.isfinite(a.scores).all() and a.scores.abs().sum() > 0


def test_every_metric_is_a_mean_over_target_positions(tiny_qwen2):
    """One convention: answer-logprob, like kl and logit-diff, averages over target positions."""
    from thinking_sparks.circuits.metrics import loss

    pairs = [Pair((5, 6, 7, 8, 9), (5, 10, 7, 8, 9), 11, 12, target_pos=(1, 2, 3)),
             Pair((5, 6, 7, 8, 9), (5, 10, 7, 8, 9), 11, 12, target_pos=(3,))]
    b = collate(pairs)
    with torch.no_grad():
        logits = tiny_qwen2.hf_model(b.clean).logits.float()
    logp = torch.log_softmax(logits, -1)
    for i, pair in enumerate(pairs):
        ts = list(pair.target_pos)
        want_alp = -sum(float(logp[i, t, pair.clean_ids[t + 1]]) for t in ts) / len(ts)
        want_ld = -sum(float(logits[i, t, 11] - logits[i, t, 12]) for t in ts) / len(ts)
        assert float(loss("answer-logprob", logits, b)[i]) == pytest.approx(want_alp, rel=1e-5)
        assert float(loss("logit-diff", logits, b)[i]) == pytest.approx(want_ld, rel=1e-5, abs=1e-6)


def test_old_activations_name_is_refused_with_the_reason(tiny_qwen2):
    from thinking_sparks.circuits.attribute import METHODS

    assert "eap-ig-activations" not in METHODS
    with pytest.raises(ValueError, match="renamed 'eap-ig-joint-activations'.*reference library"):
        attribute(tiny_qwen2, _pairs(tiny_qwen2.config.vocab_size, n=1), method="eap-ig-activations",
                  progress=False)


def test_sliding_window_models_refuse_inputs_longer_than_the_window():
    """Mistral-style configs set ``sliding_window`` without ``use_sliding_window``."""
    from transformers import MistralConfig, MistralForCausalLM

    from thinking_sparks.circuits.weights import sliding_window

    torch.manual_seed(0)
    cfg = MistralConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, sliding_window=5,
                        max_position_embeddings=64, attn_implementation="eager")
    assert not hasattr(cfg, "use_sliding_window") and sliding_window(cfg) == 5
    hf = MistralForCausalLM(cfg).eval()
    cm = CircuitModel(hf)
    ids = torch.randint(0, 64, (1, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        inside = cm.run(cm.embed(ids[:, :5])).logits
        torch.testing.assert_close(inside, hf(ids[:, :5]).logits, atol=1e-4, rtol=1e-4)
        with pytest.raises(ValueError, match="sliding attention window"):
            cm.run(cm.embed(ids))
    pairs = [Pair(tuple(ids[0].tolist()), tuple(ids[0].tolist()[:1] + [1] + ids[0].tolist()[2:]), 3, 4)]
    with pytest.raises(ValueError, match="sliding attention window"):
        attribute(hf, pairs, method="eap", metric="logit-diff", progress=False)
    from transformers import Qwen2Config

    assert sliding_window(Qwen2Config()) is None  # Qwen2 switches it off by default


def test_prune_topn_threshold_and_importance(tiny_qwen2):
    from thinking_sparks.circuits.circuit import ranking_scores

    pairs = _pairs(tiny_qwen2.config.vocab_size)
    a = attribute(tiny_qwen2, pairs, method="eap-ig-inputs", metric="kl", steps=3, progress=False)
    g = a.graph
    key = ranking_scores(a)
    mask = g.edge_mask()
    full = top_n(a, g.n_edges)
    assert full.n_edges == g.n_edges
    # top-n before pruning: exactly the n largest |score| edges of the graph
    raw = top_n(a, 30, do_prune=False)
    assert raw.n_edges == 30 and not bool((raw.edges & ~mask).any())
    assert float(key[raw.edges].min()) >= float(key[mask & ~raw.edges].max())
    c = top_n(a, 30)
    assert torch.equal(c.edges, prune(g, raw.edges)) and 0 < c.n_edges < 30
    # pruned circuits are closed: every kept head reads a kept edge, every kept edge's head is kept
    again = prune(g, c.edges)
    assert torch.equal(again, c.edges)
    for head in c.heads():
        ins = [d for d in g.dst_names if d.startswith(head + ".") or (d[-2:] in (".k", ".v") and head in g.dst_heads(d))]
        assert any(bool(c.edges[:, g.dst_index(d)].any()) for d in ins), head
    # a lone edge into a head that feeds nothing is pruned away
    lone = torch.zeros_like(full.edges)
    lone[g.src_index("input"), g.dst_index("L0H0.q")] = True
    assert Circuit(g, prune(g, lone)).n_edges == 0
    # threshold: the kept edges are the pruned set of edges scoring >= tau * max
    t = threshold(a, 0.02)
    cut = 0.02 * float(key[mask].max())
    assert torch.equal(t.edges, prune(g, mask & (key >= cut))) and 0 < t.n_edges < g.n_edges
    assert float(key[t.edges].min()) >= cut
    kept = attribute(tiny_qwen2, pairs, method="eap-ig-inputs", metric="kl", steps=3, batch_size=4,
                     keep_per_example=True, progress=False)
    torch.testing.assert_close(kept.per_example.mean(0), kept.scores, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(kept.per_example.abs().mean(0), kept.abs_scores, atol=1e-6, rtol=1e-5)
    imp = head_importance(kept.per_example, g, top_n=20)
    assert imp.shape == (g.n_layers, g.n_heads) and abs(float(imp.sum()) - 1) < 1e-5
    # faithfulness: the full circuit minus one edge costs exactly that edge's patching effect
    exact = attribute(tiny_qwen2, pairs, method="exact", metric="kl", progress=False)
    s_idx, d_idx = divmod(int(exact.scores.abs().argmax()), g.n_dst)
    minus = full.edges.clone()
    minus[s_idx, d_idx] = False
    f = evaluate_circuit(tiny_qwen2, pairs, Circuit(g, minus), metric="kl")
    assert f.circuit_loss - f.clean_loss == pytest.approx(float(exact.scores[s_idx, d_idx]), rel=1e-3, abs=1e-6)
    assert abs(float(exact.scores[s_idx, d_idx])) > 1e-4
    assert f.normalized == pytest.approx((f.corrupted_loss - f.circuit_loss) / (f.corrupted_loss - f.clean_loss))
    # the empty circuit patches every edge: the corrupted run itself
    f0 = evaluate_circuit(tiny_qwen2, pairs, Circuit(g, torch.zeros_like(full.edges)), metric="kl")
    assert f0.circuit_loss == pytest.approx(f0.corrupted_loss, rel=1e-4) and abs(f0.normalized) < 1e-3


def test_memory_planner(tiny_qwen2):
    small = estimate_bytes(2, 4, 2, 64, 16, 128, n_pos=10, batch=1)
    big = estimate_bytes(2, 4, 2, 64, 16, 128, n_pos=10, batch=8)
    assert big.total > 7 * small.total
    cm = CircuitModel(tiny_qwen2)
    assert plan_batch_size(cm, 10, budget=10**12, n_examples=5) == 5
    assert plan_batch_size(cm, 10, budget=1) == 1
    mid = plan_batch_size(cm, 10, budget=int(small.total * 8 / 0.7) + 1)
    assert 6 <= mid <= 9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_model_dir):
    from thinking_sparks.models import load_model

    lm = load_model(str(tiny_model_dir), device="cpu", dtype="float32")
    pairs = _pairs(lm.config.vocab_size, n=3)
    cpu = attribute(lm, pairs, method="eap-ig-inputs", metric="kl", steps=3, progress=False)
    gpu = attribute(load_model(str(tiny_model_dir), device="cuda", dtype="float32"), pairs, method="eap-ig-inputs",
                    metric="kl", steps=3, progress=False)
    assert gpu.scores.device.type == "cpu"
    torch.testing.assert_close(gpu.scores, cpu.scores, atol=1e-4, rtol=1e-3)


def test_exact_stacked_edges_match_one_by_one(tiny_llama):
    from thinking_sparks.circuits.attribute import _Runner

    cm = CircuitModel(tiny_llama)
    batch = collate(_pairs(tiny_llama.config.vocab_size, n=2))
    r = _Runner(cm, batch, "kl")
    torch.testing.assert_close(r.exact_scores(chunk=7), r.exact_scores(chunk=1), atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_smollm2_scores_are_finite_and_gqa_shaped(smollm2):
    lm = smollm2
    tok = lm.tokenizer
    pairs = [Pair(tuple(tok.encode("The capital of France is")), tuple(tok.encode("The capital of Italy is")))]
    a = attribute(lm, pairs, method="eap-ig-inputs", metric="kl", steps=2, progress=False)
    assert a.graph.n_heads == 9 and a.graph.n_kv_heads == 3
    assert torch.isfinite(a.scores).all() and a.scores.abs().max() > 0
