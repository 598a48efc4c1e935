"""Page 08's sparse-feature circuits (Fig 12): SAE training, Eq. 5 and the claim rule on null data."""

import dataclasses

import numpy as np
import pytest
import torch

from thinking_sparks.emergence import saeattr
from thinking_sparks.emergence.sae import decode, encode, train_sae
from thinking_sparks.plan import PLAN

SMALL = dataclasses.replace(PLAN.sae, dict_factor=4, k=4, steps=150, batch=128, log_every=10)


def _sparse_data(seed: int = 0, n: int = 2000, d: int = 16, atoms: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(atoms, d, generator=g)
    codes = torch.rand(n, atoms, generator=g) * (torch.rand(n, atoms, generator=g) < 0.08)
    return codes @ dictionary + 0.5


def test_sae_training_reduces_error_and_is_deterministic():
    x = _sparse_data()
    a, curve = train_sae(x, SMALL, seed=3)
    b, _ = train_sae(x, SMALL, seed=3)
    assert curve[-1] < 0.6 * curve[0]  # 0.60 -> 0.33 here
    for f in ("w_enc", "b_enc", "w_dec", "b_dec"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_allclose(np.linalg.norm(a.w_dec, axis=1), 1.0, atol=1e-5)
    f = encode(a, x)
    assert int((f > 0).sum(-1).max()) <= SMALL.k
    fve = 1 - float((x - decode(a, f)).pow(2).sum() / (x - x.mean(0)).pow(2).sum())
    assert fve > 0.5
    c, _ = train_sae(x, SMALL, seed=4)
    assert not np.array_equal(a.w_dec, c.w_dec)


def test_train_sae_refuses_bad_input():
    with pytest.raises(ValueError, match="activations"):
        train_sae(torch.zeros(5), SMALL, seed=0)


def test_effect_hand_built():
    pre = np.ones((2, 2, 3))  # two questions, two layers, (RESID, ATTN, MLP)
    post = pre.copy()
    post[:, 0, 1] = 3.0  # layer-0 attention three times as important in the post model
    e = saeattr.effect(saeattr.importance(pre), saeattr.importance(post), eps=0.0)
    assert e[0, 1] == pytest.approx(5 / 13)  # (3/8 - 1/6) / (3/8 + 1/6)
    assert e[1, 2] == pytest.approx(-1 / 7)  # (1/8 - 1/6) / (1/8 + 1/6)
    assert saeattr.importance(post).sum() == pytest.approx(1.0)


def test_claim_reproduced_on_a_real_shift():
    rng = np.random.default_rng(0)
    pre = rng.gamma(5.0, 1.0, (40, 6, 3))
    post = rng.gamma(5.0, 1.0, (40, 6, 3))
    pre_null = rng.gamma(5.0, 1.0, (40, 6, 3))  # the base on 40 more questions
    post[:, 0, 1] *= 4
    rows = {r.claim: r for r in saeattr.claim_rows(pre, post, "base", "student", pre_null)}
    row = rows["SAE circuits: Layer-0 attention gains importance strongly in the distilled model"]
    assert row.verdict == "reproduced"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_claims_not_made_on_null_data(seed):
    rng = np.random.default_rng(seed)
    scale = rng.gamma(2.0, 1.0, (6, 3))  # one model's importance profile, questions drawn twice
    pre = rng.gamma(5.0, 1.0, (40, 6, 3)) * scale
    post = rng.gamma(5.0, 1.0, (40, 6, 3)) * scale
    pre_null = rng.gamma(5.0, 1.0, (40, 6, 3)) * scale
    for row in saeattr.claim_rows(pre, post, "base", "base", pre_null):
        assert row.verdict != "reproduced", row


def test_the_null_has_the_comparisons_size():
    """The base-vs-base null compares two samples as large as the comparison's (not halves), and without
    the base's second sample no row is decided."""
    rng = np.random.default_rng(0)
    pre, post = rng.gamma(5.0, 1.0, (2, 10, 4, 3))
    with pytest.raises(ValueError, match="needs 20 base questions"):
        saeattr.null_values(pre, 10, "attn0")
    assert len(saeattr.null_values(np.concatenate([pre, post]), 10, "attn0")) == PLAN.sae.null_splits
    rows = saeattr.claim_rows(pre, post, "base", "student", pre[:5])
    assert all(r.verdict == "inconclusive" and "as many more" in r.criterion for r in rows)


def _tiny_lm():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    return Qwen2ForCausalLM(cfg).eval()


def test_node_importance_components_on_a_tiny_model():
    from thinking_sparks.circuits.pairs import Pair

    hf = _tiny_lm()
    pairs = [Pair((1, 2, 3, 4, 5), (1, 2, 7, 4, 5)), Pair((3, 3, 9, 2), (3, 3, 9, 8))]
    acts = torch.randn(500, 16, generator=torch.Generator().manual_seed(1))
    sae, _ = train_sae(acts, SMALL, seed=0)
    dense, err0 = saeattr.node_importance(hf, pairs, [None, None], steps=3)
    sparse, err1 = saeattr.node_importance(hf, pairs, [sae, None], steps=3)
    assert dense.shape == (2, 2, 3) and (dense > 0).all()
    np.testing.assert_allclose(dense[:, :, 1:], sparse[:, :, 1:], rtol=1e-5)  # ATTN, MLP stay dense
    np.testing.assert_allclose(dense[:, 1, 0], sparse[:, 1, 0], rtol=1e-5)  # layer 1 has no SAE
    assert (err0 == 0).all() and (err1[:, 0] > 0).all() and (err1[:, 1] == 0).all()
    assert not np.allclose(dense[:, 0, 0], sparse[:, 0, 0])
