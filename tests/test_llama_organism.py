"""The Llama organism family (paper v2 Figs 10, 11, 18) and page 08's claims.

The family is added to the zoo without touching the Qwen runs: their fingerprints are pinned here
(the values the zoo had before the family was added, so a built zoo stays built).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from thinking_sparks.organism import config, zoo
from thinking_sparks.plan import PLAN

#: every run's fingerprint before the Llama family was added (commit eb60fca)
QWEN_FINGERPRINTS = {
    "full": {"base": "260fb7968242", "teacher": "a58401640c22", "sft": "2ab2aa42f945", "grpo-easy": "c6dc1e2ba267",
             "grpo-hard": "f2502eddc266", "grpo-hard-lr": "496b7939b7e8", "grpo-hard-lr20": "52ca22f9db89",
             "distill": "78b35b7d83d5",
             "hybrid": "90801619a009"},
    "tiny": {"base": "664fc33c5e04", "teacher": "f51a2c886c85", "sft": "ff748f6b976d", "grpo-easy": "7d6c2e070473",
             "grpo-hard": "e20417a706d6", "grpo-hard-lr": "ee5b4f803783", "grpo-hard-lr20": "3265c3ff9fe1",
             "distill": "e87f44c9a10f",
             "hybrid": "1c975a3e23c2"},
}
LLAMA = ["llama-base", "llama-sft", "llama-grpo"]


@pytest.mark.parametrize("name", config.PROFILES)
def test_adding_the_llama_family_leaves_every_qwen_fingerprint(name):
    table = config.profile(name)
    assert {run: zoo.fingerprint(table, run) for run in QWEN_FINGERPRINTS[name]} == QWEN_FINGERPRINTS[name]
    assert list(table)[-3:] == LLAMA
    assert list(config.family_table(name, "llama")) == LLAMA
    assert list(config.family_table(name)) == list(QWEN_FINGERPRINTS[name])  # pages 02-07 see the Qwen runs only
    # the Llama runs share the Qwen runs' recipes and corpus, not their fingerprints
    assert table["llama-sft"].config == table["sft"].config and table["llama-grpo"].config == table["grpo-hard"].config
    assert dataclasses.replace(table["llama-base"].config, shape=table["base"].config.shape) == table["base"].config
    assert len({zoo.fingerprint(table, r) for r in table}) == len(table)


def test_llama_shape_is_llamas_with_the_students_grid_of_heads():
    from thinking_sparks.organism.tokenizer import build_tokenizer

    table = config.profile("full")
    qwen, llama = table["base"].config.shape, table["llama-base"].config.shape
    cfg = llama.hf_config(build_tokenizer())
    assert type(cfg).__name__ == "LlamaConfig" and cfg.model_type == "llama"
    assert (cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim) == \
        (qwen.n_layers, qwen.n_heads, qwen.n_kv_heads, qwen.head_dim) == (8, 8, 2, 16)
    assert (cfg.hidden_size, cfg.intermediate_size) == (64, 256)  # Llama's MLP: 4 x d_model (Qwen students: 2 x)
    assert cfg.attention_bias is False and cfg.mlp_bias is False
    assert cfg.rope_parameters["rope_theta"] == 500000.0 and cfg.rms_norm_eps == 1e-5
    assert (qwen.family, llama.family) == ("qwen2", "llama")
    assert [config.family(table, r) for r in ("sft", "llama-sft", "llama-grpo")] == ["qwen2", "llama", "llama"]


def test_zoo_list_shows_the_family(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    rows = {r.name: r.family for r in zoo.list_runs("tiny")}
    assert [rows[r] for r in LLAMA] == ["llama"] * 3 and rows["grpo-hard"] == "qwen2"


# ------------------------------------------------------------------ page 08's statistics on constructed data


def test_early_index_is_the_last_checkpoint_at_a_fifth_of_the_run():
    from thinking_sparks.emergence.generalise import early_index

    assert early_index([15, 30, 45, 60, 75, 90, 105, 120, 135, 150]) == 1  # step 30 = 0.2 x 150
    assert early_index([1, 2, 3]) == 0  # none that early: the first
    assert early_index([100, 200, 300, 400, 500], share=0.5) == 1


def _row(run, step, emergent, heads):
    return pd.Series({"run": run, "step": step, "emergent": emergent, "ci_low": emergent - 1.0,
                      "ci_high": emergent + 1.0, "floor_mean": 1.0, "floor_q95": 2.0, "null": "sample 1",
                      "emergent_heads": heads})


def test_layer_row_against_the_whole_grid():
    from thinking_sparks.emergence.generalise import layer_row

    early = layer_row("llama-sft", "SFT", _row("llama-sft", 500, 4, "L0H1 L1H2 L1H3 L2H0"), 8, 8, "Fig 10")
    # mean relative layer (0 + 1 + 1 + 2) / 4 / 7 = 1/7 against the grid's 1/2
    assert early.value == pytest.approx(1 / 7 - 0.5) and early.ci_high < 0 and early.verdict == "reproduced"
    assert "layers 0, 1, 2 of 0-7" in early.statistic
    late = layer_row("llama-sft", "SFT", _row("llama-sft", 500, 3, "L6H1 L7H2 L7H3"), 8, 8, "Fig 10")
    assert late.value == pytest.approx(20 / 21 - 0.5) and late.verdict == "not reproduced"
    one = layer_row("llama-sft", "SFT", _row("llama-sft", 500, 1, "L0H0"), 8, 8, "Fig 10")
    assert one.verdict == "inconclusive" and "needs 2 heads, 1 here" in one.criterion


def test_after_first_and_family_rows():
    from thinking_sparks.emergence.generalise import after_first_row, family_row

    draws = {"g@150": pd.DataFrame({"emergent": [9, 10, 11, 12]}), "g@30": pd.DataFrame({"emergent": [1, 2, 3]})}
    row = after_first_row("g", _row("g", 150, 10, ""), _row("g", 30, 2, ""), draws)
    assert (row.value, row.ci_low > 0, row.verdict) == (8.0, True, "reproduced")
    assert "step 30 (2, the last checkpoint at or before 20% of training)" in row.statistic
    assert after_first_row("g", _row("g", 150, 10, ""), None, draws).verdict == "inconclusive"

    def family(sft, grpo, sft_draws, grpo_draws):
        table = pd.DataFrame({"method": ["s", "g"], "emergent": [sft, grpo]})
        return table, {"s": pd.DataFrame({"emergent": sft_draws}), "g": pd.DataFrame({"emergent": grpo_draws})}, "s", "g"

    sft_more = family(10, 2, [9, 10, 11], [1, 2, 3])
    grpo_more = family(2, 10, [1, 2, 3], [9, 10, 11])
    tied = family(5, 5, [3, 5, 7], [3, 5, 7])
    assert family_row(sft_more, sft_more).verdict == "reproduced"  # both: SFT adds more
    assert family_row(grpo_more, sft_more).verdict == "not reproduced"  # Llama: GRPO more; Qwen: SFT more
    agree = family_row(grpo_more, grpo_more)
    assert agree.verdict == "reproduced" and agree.value == 8.0 and "GRPO adds more" in agree.criterion
    undecided = family_row(sft_more, tied)
    assert undecided.verdict == "inconclusive" and "no side to agree with" in undecided.criterion
    no_draws = family_row(sft_more, family(1, 1, [], []))
    assert no_draws.verdict == "inconclusive" and "has no interval" in no_draws.criterion
    assert math.isnan(family_row(family(1, 1, [], []), sft_more).ci_low)


# ------------------------------------------------------------------ the tiny profile


@pytest.mark.slow
def test_tiny_llama_organism_loads_into_the_bridge_and_its_graph_has_every_head(tiny_zoo):
    import torch

    from thinking_sparks.circuits.attribute import attribute
    from thinking_sparks.circuits.pairs import Pair
    from thinking_sparks.models import load_model

    lm = load_model("organism/tiny/llama-sft@final", device="cpu")
    assert type(lm.hf_model).__name__ == "LlamaForCausalLM"
    assert lm.hf_model.model.layers[0].self_attn.q_proj.bias is None  # Llama: no q/k/v biases
    shape = config.profile("tiny")["llama-base"].config.shape
    assert (lm.n_layers, lm.n_heads, lm.n_kv_heads, lm.hf_model.config.intermediate_size) == (2, 4, 2, 128)
    ids = lm.encode(lm.chat("What is 2 + 3 ?"))
    assert lm.bridge(ids).shape[-1] == lm.hf_model.config.vocab_size
    with torch.no_grad():  # the bridge computes what the HF model computes
        assert torch.allclose(lm.bridge(ids), lm.hf_model(ids).logits, atol=1e-4)
    a = lm.encode("( 12 + 7 ) * 3 =")[0].tolist()
    b = lm.encode("( 15 + 2 ) * 3 =")[0].tolist()
    att = attribute(lm, [Pair(tuple(a), tuple(b))], steps=2, progress=False)
    heads = [s for s in att.graph.src_names if s.startswith("L") and "H" in s]
    assert len(heads) == shape.n_layers * shape.n_heads == 8
    assert att.scores.shape == (len(att.graph.src_names), len(att.graph.dst_names))
    assert float(att.abs_scores.sum()) > 0


@pytest.mark.slow
def test_page_08_runs_on_the_tiny_profile(tiny_zoo):
    from tests.page_expect import tiny_page_params
    from thinking_sparks.pages import generalisation

    params = tiny_page_params(generalisation)
    result = generalisation.run(params)
    assert list(result.zoo.run) == LLAMA and result.zoo["shape"].str.contains("Llama").all()
    assert [tr.run for tr in result.runs] == ["llama-sft", "llama-grpo"]
    assert result.roles == {"sft": "llama-sft", "distill": "", "grpo": "llama-grpo"}
    assert list(result.counts.run) == ["llama-sft", "llama-grpo"] and "emergent_heads" in result.counts
    assert list(result.compare_table.method)[1:] == ["sft", "grpo-hard"]
    assert {"llama-sft", "llama-grpo"} == set(result.layers.run) and len(result.layers) % 2 == 0
    assert "llama-grpo" in result.rewards
    assert list(result.accuracy.run) == ["base of llama-sft", "llama-sft", "llama-grpo"]
    assert set(result.accuracy.difficulty) == {"calibrated"} and result.accuracy["pass@1"].between(0, 1).all()
    table = generalisation.verdicts(result)
    assert list(table.claim) == [
        "Llama: emergent heads accumulate under SFT",
        "Llama: SFT's emergent heads sit in early-mid layers",
        "Llama: GRPO's emergent heads sit in early-mid layers",
        "Llama: GRPO adds emergent heads after its first checkpoints",
        "Qwen and Llama organisms agree on which training adds more emergent heads",
        "SAE circuits: Layer-0 attention gains importance strongly in the distilled model",
        "SAE circuits: Residual features strengthen in mid-late layers",
        "SAE circuits: MLPs gain importance in late layers",
        "SAE circuits: MLPs gain less than the residual stream",
    ]
    sae = result.sae  # Fig 12: one SAE per layer of the tiny base, both models attributed on the same pairs
    assert list(sae.quality.layer) == [0, 1] and sae.quality.fve.between(0, 1).all()
    assert sae.pre_importance.shape == sae.post_importance.shape and sae.pre_importance.shape[1:] == (2, 3)
    effects = generalisation.sae_effects(result)
    assert len(effects) == 6 and effects.E.between(-1, 1).all()
    assert set(table.verdict) <= {"reproduced", "not reproduced", "inconclusive", "partly"}
    again = generalisation.run(params)  # the results cache
    assert again.seconds == result.seconds and generalisation.verdicts(again).equals(table)
    np.testing.assert_array_equal(again.table.emergent.to_numpy(), result.table.emergent.to_numpy())


@pytest.mark.slow
def test_early_count_of_a_tiny_llama_run_with_two_live_checkpoints(tiny_zoo):
    """The early checkpoint's count on real traces (cached circuits): llama-sft's first checkpoint has
    no pairs, so its early checkpoint is the first live one, step 2 (step 3 is the final)."""
    from tests.page_expect import tiny_page_params
    from thinking_sparks.emergence import generalise, modelruns
    from thinking_sparks.emergence.trace import trace_models
    from thinking_sparks.pages import generalisation
    from thinking_sparks.pages.params import emergence_settings

    params = tiny_page_params(generalisation)
    pairs, settings = emergence_settings(params)
    traces = trace_models(modelruns.resolve_runs(["llama-sft"], "tiny"), pairs, settings)
    assert [r.has_signal for r in traces["llama-sft"].results] == [False, True, True]
    early, boots = generalise.early_counts(traces, ["llama-sft"], settings)
    row = early.iloc[0]
    assert (row.run, row.step, row.emergent, row.retained, row.null) == ("llama-sft", 2, 0, 2, "sample 1")
    assert list(boots) == ["llama-sft@2"] and len(boots["llama-sft@2"]) == PLAN.circuits.n_outer == 100
