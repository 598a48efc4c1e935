"""The organism zoo end to end on the tiny profile: build, resolve, load, determinism, rewards."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from safetensors.torch import load_file

from thinking_sparks.organism import config, grpo, zoo

ALL_RUNS = list(config.profile("tiny"))


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sparks-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("SPARKS_CACHE", str(cache))
    mp.setenv(zoo.PROFILE_ENV, "tiny")
    finals = zoo.build("tiny")
    yield cache, finals
    mp.undo()


@pytest.mark.slow
def test_tiny_profile_builds_every_run(tiny_zoo):
    _, finals = tiny_zoo
    assert list(finals) == ALL_RUNS
    table = config.profile("tiny")
    for name, final in finals.items():
        run = final.parent
        steps = zoo.checkpoint_steps(run)
        expected = table[name].config.n_checkpoints if table[name].kind == "pretrain" else 3
        assert len(steps) >= min(expected, 2), name
        for step in steps:
            ckpt = run / f"checkpoint-{step}"
            for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
                assert (ckpt / f).exists(), (name, step, f)
            assert not (ckpt / "optimizer.pt").exists()
            assert json.loads((ckpt / "tokenizer_config.json").read_text())["tokenizer_class"] == \
                "PreTrainedTokenizerFast"
        log = pd.read_csv(run / "log.csv")
        assert list(log.columns) == ["run", "step", "metric", "value"]
        assert {"loss", "lr"} <= set(log["metric"]), name
        meta = json.loads((run / "run.json").read_text())
        assert meta["fingerprint"] == zoo.fingerprint(table, name)
    curve = pd.read_csv(finals["grpo-hard"].parent / "reward.csv")
    assert {"step", "reward", "accuracy", "format"} <= set(curve.columns) and len(curve) == 3
    assert (finals["distill"].parent / "teacher_traces.parquet").exists()


@pytest.mark.slow
def test_qwen2_with_gqa(tiny_zoo):
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(tiny_zoo[1]["base"])
    assert cfg.model_type == "qwen2"
    assert cfg.num_key_value_heads < cfg.num_attention_heads


@pytest.mark.slow
def test_resolve_checkpoint_and_load_model(tiny_zoo):
    from thinking_sparks.models import load_model

    _, finals = tiny_zoo
    assert zoo.resolve_checkpoint("organism/sft@final") == finals["sft"]
    assert zoo.resolve_checkpoint("organism/tiny/sft@2") == finals["sft"].parent / "checkpoint-2"
    assert zoo.resolve_checkpoint("organism/grpo-hard") == finals["grpo-hard"]
    with pytest.raises(FileNotFoundError, match="no checkpoint at step 999"):
        zoo.resolve_checkpoint("organism/sft@999")
    with pytest.raises(FileNotFoundError, match="unknown organism run"):
        zoo.resolve_checkpoint("organism/nope@final")
    with pytest.raises(FileNotFoundError, match="bad organism spec"):
        zoo.resolve_checkpoint("organism/sft@abc")
    lm = load_model("organism/hybrid@final", device="cpu")
    assert lm.n_kv_heads < lm.n_heads
    ids = lm.encode(lm.chat("What is 2 + 3 ?", enable_thinking=False))
    assert lm.bridge(ids).shape[-1] == lm.hf_model.config.vocab_size
    assert lm.chat("q", enable_thinking=False).endswith("<think> </think> ")


@pytest.mark.slow
def test_build_is_cached_and_deterministic(tiny_zoo, tmp_path, monkeypatch):
    _, finals = tiny_zoo
    before = {n: (p / "model.safetensors").stat().st_mtime_ns for n, p in finals.items()}
    zoo.build("tiny")  # cached: nothing retrained
    assert {n: (p / "model.safetensors").stat().st_mtime_ns for n, p in finals.items()} == before
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    again = zoo.build("tiny", runs=["sft", "grpo-hard"])
    for name in ("base", "sft", "grpo-hard"):
        a, b = load_file(finals[name] / "model.safetensors"), load_file(again[name] / "model.safetensors")
        assert a.keys() == b.keys()
        assert all((a[k] == b[k]).all() for k in a), name


def test_unbuilt_checkpoint_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="sparks zoo build"):
        zoo.resolve_checkpoint("organism/tiny/sft@final")
    with pytest.raises(ValueError, match="unknown organism profile"):
        zoo.build("huge")
    with pytest.raises(ValueError, match="unknown organism run"):
        zoo.build("tiny", runs=["nope"])


def test_rewards():
    gold = ["12", "-3"]
    good = [[{"role": "assistant", "content": "<think> 5 + 7 = 12 </think> <answer> 12 </answer>"}],
            [{"role": "assistant", "content": "<think> </think> <answer> -3 </answer>"}]]
    bad = ["<think> 5 + 7 = 13 </think> <answer> 13 </answer>", "the answer is -3"]
    assert grpo.accuracy_reward(good, answer=gold) == [1.0, 1.0]
    assert grpo.accuracy_reward(bad, answer=gold) == [0.0, 1.0]
    assert grpo.format_reward(good) == [1.0, 1.0]
    assert grpo.format_reward(bad) == [1.0, 0.0]


def test_recipes_map_onto_trl_configs(tmp_path):
    sft = config.SFTRecipe(max_steps=100, n_checkpoints=10).trl_config(str(tmp_path))
    assert sft.save_steps == 10 and sft.completion_only_loss and sft.report_to in ([], "none", ["none"])
    g = config.GRPORecipe(prompts_per_step=4, num_generations=8).trl_config(str(tmp_path))
    assert g.per_device_train_batch_size == 32 and g.generation_batch_size % g.num_generations == 0
    assert g.use_vllm is False and g.bf16 is False
