"""The organism zoo end to end on the tiny profile: build, resolve, load, determinism, rewards."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from safetensors.torch import load_file

from thinking_sparks.organism import config, grpo, zoo

ALL_RUNS = list(config.profile("tiny"))
#: the Qwen organism's runs (pages 02-07; the Llama family is page 08's: tests/test_llama_organism.py)
QWEN_RUNS = list(config.family_table("tiny"))


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


def _n_params(shape) -> int:
    from thinking_sparks.organism.tokenizer import build_tokenizer

    cfg = shape.hf_config(build_tokenizer())
    import torch
    from transformers import Qwen2ForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in Qwen2ForCausalLM(cfg).parameters())


def test_full_profile_students_are_big_enough_and_the_teacher_bigger():
    full, tiny = config.profile("full"), config.profile("tiny")
    student, teacher = full["base"].config.shape, full["teacher"].config.shape
    assert student.n_layers >= 8 and student.n_layers * student.n_heads >= 64
    assert student.n_kv_heads < student.n_heads  # GQA, as Qwen2
    assert _n_params(teacher) > _n_params(student)
    assert all(full[r].parent == "base" for r in config.family_table("full") if r not in ("base", "teacher"))
    tiny_shape = tiny["base"].config.shape
    assert tiny_shape.n_layers * tiny_shape.n_heads <= 8 and _n_params(tiny_shape) < _n_params(student) / 4


def test_head_dim_sets_the_attention_width():
    from thinking_sparks.organism.tokenizer import build_tokenizer

    shape = config.ModelShape(d_model=64, n_heads=8, n_kv_heads=2, head_dim=16)
    assert shape.hf_config(build_tokenizer()).head_dim == 16
    with pytest.raises(ValueError, match="bad shape"):
        config.ModelShape(d_model=60, n_heads=8, head_dim=None).hf_config(build_tokenizer())


def test_override_parses_to_field_types_and_rejects_unknown_fields():
    base = config.DistillRecipe()
    cfg = config.override(base, ["n_traces=12", "levels=4,5", "student.learning_rate=1e-6", "student.bf16=true",
                                 "student.model=Qwen/Qwen2.5-Math-1.5B", "teacher.shape.n_heads=16"])
    assert (cfg.n_traces, cfg.levels) == (12, (4, 5))
    assert (cfg.student.learning_rate, cfg.student.bf16, cfg.student.model) == (1e-6, True, "Qwen/Qwen2.5-Math-1.5B")
    assert cfg.teacher.shape.n_heads == 16
    assert (base.n_traces, base.student.learning_rate, base.teacher.shape.n_heads) == (4000, 1e-3, 8)  # untouched
    with pytest.raises(ValueError, match="no field 'lr'"):
        config.override(base, ["student.lr=1"])
    with pytest.raises(ValueError, match="expected a int"):
        config.override(base, ["n_traces=many"])
    with pytest.raises(ValueError, match="field=value"):
        config.override(base, ["n_traces"])


def _sparks(args):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    return CliRunner().invoke(app, args)


@pytest.mark.slow
def test_sparks_train_runs_a_recipe_on_any_model_dir(tiny_zoo, tmp_path):
    _, finals = tiny_zoo
    out = tmp_path / "my-grpo"
    res = _sparks(["train", "grpo", "--model", str(finals["base"]), "--out", str(out), "--like", "grpo-easy",
                   "--set", "max_steps=2", "--set", "n_checkpoints=2", "--set", "n_prompts=8",
                   "--set", "prompts_per_step=2", "--set", "num_generations=2", "--set", "max_completion_length=8",
                   "--set", "progress=false"])
    assert res.exit_code == 0, res.output
    assert zoo.checkpoint_steps(out) == [1, 2]
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["levels"] == [1, 2] and meta["config"]["max_steps"] == 2
    assert meta["config"]["model"] == str(finals["base"])
    assert len(pd.read_csv(out / "reward.csv")) == 2
    again = _sparks(["train", "grpo", "--model", str(finals["base"]), "--out", str(out)])
    assert again.exit_code == 2 and "not empty" in again.stderr
    bad = _sparks(["train", "grpo", "--model", str(finals["base"]), "--out", str(tmp_path / "x"), "--set", "lr=1"])
    assert bad.exit_code == 2 and "no field 'lr'" in bad.stderr and not (tmp_path / "x").exists()
    shown = _sparks(["train", "sft", "--model", "m", "--out", str(tmp_path / "y"), "--show",
                     "--set", "learning_rate=4e-5"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["learning_rate"] == 4e-5
    nodistill = _sparks(["train", "distill", "--model", str(finals["base"]), "--out", str(tmp_path / "z")])
    assert nodistill.exit_code == 2 and "--teacher" in nodistill.stderr


@pytest.mark.slow
def test_zoo_report_table(tiny_zoo, tmp_path):
    out = tmp_path / "acc.csv"
    res = _sparks(["zoo", "report", "--profile", "tiny", "--n", "2", "--hard-n", "3", "--limit", "3",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    runs = QWEN_RUNS
    assert set(table["run"]) == set(runs)
    assert len(table) == 4 * (len(runs) + 1)  # four sets per run (calibrated too); hybrid twice (think, no_think)
    assert set(table[table.run == "hybrid"]["mode"]) == {"think", "no_think"}
    hard = table.difficulty == "hard"
    assert table["pass@1"].between(0, 1).all() and (table[hard].n == 3).all() and (table[~hard].n == 2).all()
    assert (table[hard].n_samples == 9).all() and (table[~hard].n_samples == 6).all()
    assert "no_think" in res.stdout and "hard" in res.stdout
    assert "SFT raises calibrated-set pass@1 over base" in res.stdout  # the plan's premise set and "GRPO accuracy reward rises" in res.stdout


@pytest.mark.slow
def test_report_curves_rewards_and_checkpoint_accuracy(tiny_zoo):
    from thinking_sparks.organism import curves as zoo_curves
    from thinking_sparks.organism import scores

    logs = zoo_curves.training_log("tiny")
    assert list(dict.fromkeys(logs.run)) == QWEN_RUNS
    assert set(logs[logs.kind != "grpo"].metric) >= {"loss"}
    full = logs[(logs.run == "base") & (logs.metric == "loss")]
    binned = zoo_curves.loss_curves("tiny", points=2)
    base = binned[binned.run == "base"]
    assert len(base) == min(2, len(full)) and base.step.iloc[-1] == full.step.max()
    first_half = full.sort_values("step").value.iloc[:(len(full) + 1) // 2]
    assert base.value.iloc[0] == pytest.approx(first_half.mean())
    curves = zoo_curves.grpo_curves("tiny", window=2)
    assert set(curves.run) == {"grpo-easy", "grpo-hard", "grpo-hard-lr", "grpo-hard-lr20"}
    one = curves[(curves.run == "grpo-hard") & (curves.term == "accuracy")].sort_values("step")
    assert len(one) == 3 and one.smoothed.iloc[1] == pytest.approx(one.value.iloc[:2].mean())
    rewards = zoo_curves.reward_summary("tiny", window=25)
    row = rewards[(rewards.run == "grpo-hard") & (rewards.term == "accuracy")].iloc[0]
    assert row.window == 1  # at most half of the 3 logged steps
    assert row.first == pytest.approx(one.value.iloc[0], abs=1e-4) and row.last == pytest.approx(one.value.iloc[-1], abs=1e-4)
    along = scores.checkpoint_accuracy(["sft"], "tiny", difficulty="easy", n=1, limit=2)
    assert list(along.step) == [0, 1, 2, 3] and along["pass@1"].between(0, 1).all()
    again = scores.checkpoint_accuracy(["sft"], "tiny", difficulty="easy", n=1, limit=2)
    pd.testing.assert_frame_equal(along, again)  # cached cells, same numbers
    with pytest.raises(FileNotFoundError, match="sparks zoo build --profile full"):
        zoo_curves.training_log("full", runs=["sft"])


def test_reward_summary_interval_of_the_change(monkeypatch):
    import statistics

    from thinking_sparks.organism import curves

    acc = [0.0, 0.2, 0.1, 0.1, 0.3, 0.5, 0.4, 0.6, 0.5, 0.7]
    curve = pd.DataFrame({"step": range(10), "accuracy": acc})
    monkeypatch.setattr(curves, "grpo_runs", lambda profile: [("grpo-x", curve), ("grpo-one", curve.head(2))])
    out = curves.reward_summary("tiny", window=5).set_index(["run", "term"])
    row = out.loc[("grpo-x", "accuracy")]
    first, last = acc[:5], acc[5:]
    change = statistics.mean(last) - statistics.mean(first)
    assert row.change == pytest.approx(change, abs=1e-4)
    # scipy's BCa bootstrap of the two windows (before: a normal approximation, change +- 1.96 se)
    from thinking_sparks.evaluation.intervals import difference_ci

    assert (row.ci_low, row.ci_high) == pytest.approx(difference_ci(last, first), abs=1e-4)
    assert 0 < row.ci_low < change < row.ci_high < 0.7
    one = out.loc[("grpo-one", "accuracy")]
    assert one.window == 1 and pd.isna(one.ci_low) and pd.isna(one.ci_high)  # no spread, no interval


@pytest.mark.slow
def test_quiet_build_sends_console_output_to_log_files(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    finals = zoo.build("tiny", runs=["base"], quiet=True)
    assert (finals["base"] / "model.safetensors").exists()
    out, err = capfd.readouterr()
    assert "built organism/tiny/base" not in out + err
    assert "built organism/tiny/base" in zoo.build_log("tiny", "base").read_text()


@pytest.mark.slow
def test_runs_table_gives_shape_and_cpu_seconds(tiny_zoo):
    from thinking_sparks.organism import shapes

    runs = shapes.runs_table("tiny").set_index("run")
    assert list(runs.index) == QWEN_RUNS
    shape = config.profile("tiny")["base"].config.shape
    assert runs.loc["sft", "shape"] == runs.loc["base", "shape"] == (
        f"{shape.n_layers} x {shape.n_heads} heads ({shape.n_kv_heads} KV), d_model {shape.d_model}")
    assert runs.loc["teacher", "shape"] != runs.loc["base", "shape"]
    assert runs["checkpoints"].tolist() == [3] * len(QWEN_RUNS)  # the tiny profile saves 3 per run
    assert (runs["cpu seconds"] > 0).all()  # measured, so only its sign is known
