"""Pages 03-06 take their models as parameters: run values resolve to the same specs as the organism's
runs, a user's base and TRL ``checkpoint-N`` folders work, and every page runs (papermill) on tiny
random models shaped like the paper's (Qwen2.5-Math / R1-Distill as Qwen2, Qwen3-8B with q/k norms
and a thinking switch, Llama-3.2 with llama3 RoPE scaling), saved as a base directory and
directories of checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import REPO
from thinking_sparks.tiny import PAPER_SHAPES, build_paper_like

N_LAYERS = 3  # not the tiny organism's 2: the pages must read the shape from the model
QUESTIONS = [("what is 3 + 4 ?", "7"), ("what is 2 * 3 ?", "6"), ("what is 9 - 5 ?", "4"),
             ("what is 1 + 8 ?", "9"), ("what is 6 - 4 ?", "2"), ("what is 2 + 2 ?", "4")]


def perturbed_checkpoint(base, out, seed: int, scale: float = 0.05):
    """A copy of the model dir ``base`` with seeded noise added to every weight (a "checkpoint")."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(base, out)
    weights = load_file(out / "model.safetensors")
    g = torch.Generator().manual_seed(seed)
    save_file({k: v + scale * torch.randn(v.shape, generator=g) for k, v in weights.items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def write_run(base, run_dir, steps, seed: int, rewards: list[float] | None = None):
    """A TRL-style output dir: ``checkpoint-N`` folders (perturbed ``base``), the last one with a
    ``trainer_state.json`` logging an accuracy reward per step when ``rewards`` are given."""
    run_dir.mkdir(parents=True)
    for i, step in enumerate(steps):
        perturbed_checkpoint(base, run_dir / f"checkpoint-{step}", seed + i, scale=0.05 * (i + 1))
    if rewards is not None:
        history = [{"step": s, "loss": 0.1, "rewards/accuracy_reward/mean": r} for s, r in zip(steps, rewards)]
        (run_dir / f"checkpoint-{steps[-1]}" / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    return run_dir


@pytest.fixture(scope="module", params=sorted(PAPER_SHAPES))
def paper_run(request, tmp_path_factory):
    """``(shape name, base dir, sft run dir, grpo run dir, eval set, n_layers, n_heads)``."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    base = build_paper_like(root / "base", name, seed=0, n_layers=N_LAYERS)
    sft = write_run(base, root / "sft", [10, 20], seed=1)
    grpo = write_run(base, root / "grpo", [5, 10], seed=7, rewards=[0.2, 0.5])
    data = root / "arith.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answer": a}) + "\n"
                            for i, (q, a) in enumerate(QUESTIONS)))
    return name, base, sft, grpo, data, N_LAYERS, PAPER_SHAPES[name]["n_heads"]


# ------------------------------------------------------------------ the resolver


def test_a_run_value_resolves_a_dir_of_trl_checkpoints(tmp_path):
    from thinking_sparks.emergence import modelruns

    base = build_paper_like(tmp_path / "base", "llama-3.2-1b")
    run = write_run(base, tmp_path / "run", [100, 20, 3], seed=1)
    (run / "runs").mkdir()  # TRL's tensorboard folder: not a checkpoint
    r = modelruns.resolve("mine", {"base": str(base), "checkpoints": str(run), "kind": "sft"}, "full")
    assert r.checkpoints == tuple(str(run / f"checkpoint-{s}") for s in (3, 20, 100))  # by step, not by name
    assert r.final == str(run / "checkpoint-100") and r.base == str(base) and r.kind == "sft"
    assert r.checkpoint(20) == str(run / "checkpoint-20") and r.checkpoint("final") == r.final
    with pytest.raises(ValueError, match="no checkpoint at step '7'"):
        r.checkpoint("7")
    one = modelruns.resolve("d", {"model": str(run)}, "full")  # one model: the last checkpoint
    assert one.checkpoints == (str(run / "checkpoint-100"),) and one.base is None
    mixed = modelruns.resolve("m", {"base": "Qwen/Qwen2.5-Math-1.5B", "checkpoints": [str(base), "org/hub-model"]},
                              "full")
    assert mixed.checkpoints == (str(base), "org/hub-model")  # a model dir and a hub name: one checkpoint each
    with pytest.raises(FileNotFoundError, match="no checkpoint-N folders"):
        modelruns.resolve("e", {"base": str(base), "checkpoints": str(tmp_path / "run" / "runs")}, "full")


def test_organism_runs_resolve_to_the_specs_the_pages_always_used(tiny_zoo):
    from thinking_sparks.emergence import modelruns
    from thinking_sparks.emergence.sweep import run_checkpoints

    runs = modelruns.resolve_runs(["sft", "grpo-hard"], "tiny")
    for name, r in runs.items():
        base, specs = run_checkpoints(name, "tiny")  # what 04 traced before run values existed
        assert (r.base, list(r.checkpoints)) == (base, specs)
        assert r.final == f"organism/tiny/{name}@final" and r.is_organism
    assert runs["grpo-hard"].kind == "grpo" and runs["sft"].checkpoint(2) == "organism/tiny/sft@2"
    roles = modelruns.resolve_roles("tiny", model="distill", base="base", sft=None)
    assert roles["base"].base is None and roles["sft"] is None and roles["model"].label == "distill"
    assert modelruns.claim_roles(runs) == {"sft": "sft", "distill": "", "grpo": "grpo-hard"}
    curve = modelruns.reward_curve(runs["grpo-hard"])  # the organism's own training log
    assert curve is not None and {"step", "accuracy"} <= set(curve.columns)


@pytest.mark.parametrize("value, message", [
    ({"base": "b"}, "give checkpoints: .* or model: .*, not neither"),
    ({"base": "b", "checkpoints": "c", "model": "m"}, "not both"),
    ({"checkpoints": "c"}, "needs a base"),
    ({"base": "b", "checkpoints": []}, "non-empty spec string or list"),
    ({"base": "b", "checkpoints": "c", "kind": "rlhf"}, "kind must be one of sft, grpo"),
    ({"base": "b", "checkpoints": "c", "step": 3}, r"unknown keys \['step'\]"),
    ("nope", r"\['nope'\] are not runs of profile 'tiny'"),
    ("base", r"\['base'\] are not post-trained from a base"),
    (3, r"run must be str \| dict\[str, Any\], got 3"),
])
def test_bad_run_values_are_one_line(value, message):
    from thinking_sparks.runs import make_params

    with pytest.raises(ValueError, match=message) as err:
        make_params("03_circuits", {"profile": "tiny", "run": value})
    assert "\n" not in str(err.value)


def test_params_take_run_values_without_touching_the_disk():
    from thinking_sparks.runs import make_params

    p = make_params("04_emergence", {"runs": {"sft": "sft", "mine": {"base": "/no/such/base", "checkpoints":
                                                                    ["/no/such/ckpt"], "kind": "grpo"}}})
    assert p.run_values() == [p.runs]
    p = make_params("05_interventions", {"model_run": {"base": "Q", "model": "D"}, "base_run": {"model": "Q"},
                                         "sft_run": "null", "grpo_run": None, "eval_sets": ["/data/aime24.jsonl"]})
    assert p.sft_run is None and p.eval_params().dataset == "/data/aime24.jsonl"
    with pytest.raises(ValueError, match="model_run: needs a base"):
        make_params("05_interventions", {"model_run": {"model": "D"}})
    t = make_params("06_thinking_modes", {"hybrid_run": {"model": "Qwen/Qwen3-8B"}, "top_k": 20})
    assert t.switch() == "template" and make_params("06_thinking_modes", {}).switch() == "flags"
    assert t.eval_params().sampling.top_k == 20
    with pytest.raises(ValueError, match="think_switch must be one of auto, flags, template"):
        make_params("06_thinking_modes", {"think_switch": "on"})


def test_trl_accuracy_reads_trainer_state_logs():
    from thinking_sparks.emergence.modelruns import trl_accuracy

    frame = trl_accuracy([{"step": 1, "loss": 2.0}, {"step": 2, "rewards/accuracy_reward/mean": 0.25},
                          {"step": 3, "rewards/accuracy_reward": 0.5, "rewards/format_reward": 1.0}])
    assert frame.to_dict("list") == {"step": [2, 3], "accuracy": [0.25, 0.5]}
    assert trl_accuracy([{"step": 1, "reward": 0.3}]) is None  # no accuracy term: nothing to draw


def test_think_switch_template_sides_differ_only_in_the_template(tmp_path):
    from thinking_sparks.emergence.pairs import PairParams, Side, sample_prefixes
    from thinking_sparks.evaluation.generation import SamplingConfig
    from thinking_sparks.interventions.experiments import think_conditions
    from thinking_sparks.models import load_model

    path = build_paper_like(tmp_path / "q3", "qwen3-8b")
    lm = load_model(str(path), device="cpu")
    data = tmp_path / "q.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS[:2]))
    params = PairParams(dataset=str(data), n_questions=2, answer_tokens=2, sampling=SamplingConfig(n=1, max_new_tokens=2))
    on, off = (sample_prefixes(Side(str(path), m), params, lm=lm, use_cache=False)
               for m in ("template_think", "template_no_think"))
    ids = lambda text: lm.tokenizer(text, add_special_tokens=False).input_ids
    for (q, _), a, b in zip(QUESTIONS, on.prompts, off.prompts):
        assert a == ids(lm.chat(q, enable_thinking=True)) and "think" not in lm.decode(a)  # no /think flag
        assert b == ids(lm.chat(q, enable_thinking=False)) and b[:len(a)] == a and len(b) > len(a)
    conds = {c.label: c for c in think_conditions(["L0H1"], switch="template")}
    assert (conds["think on"].enable_thinking, conds["think on"].think) == (True, None)
    assert (conds["think off + ablation"].enable_thinking, conds["think off + ablation"].think) == (False, None)


# ------------------------------------------------------------------ every page, every shape


def run_page(stem, parameters, tmp_path, cache):
    """Execute a page with papermill (cache in ``cache``) -> (text of its outputs, charts, verdicts)."""
    import nbformat

    from thinking_sparks.runs import execute
    from thinking_sparks.verdicts import collect

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        out = execute(REPO / "notebooks" / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb", parameters)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type in ("error", "stream")] == []  # no traceback, warning or bar
    bundles = [o.get("data", {}) for o in outputs]
    text = "\n".join(b.get("text/html", "") + b.get("text/markdown", "") + b.get("text/plain", "") for b in bundles)
    charts = [b for b in bundles if "sparks-chart" in b.get("text/html", "")]
    return text, charts, collect(out)


#: small circuits: 4 questions, 3 answer tokens, m = 2
CIRCUIT = {"n_questions": 4, "answer_tokens": 3, "steps": 2, "top_n": 12, "build": False, "device": "cpu"}
#: small evaluations: 3 problems x 2 samples of 6 tokens
SAMPLING = {"k": 2, "n": 2, "limit": 3, "max_new_tokens": 6, "n_boot": 50}


@pytest.mark.slow
def test_circuits_page_on_a_paper_shaped_checkpoint(paper_run, tmp_path):
    _, base, sft, _, data, n_layers, n_heads = paper_run
    text, charts, _ = run_page("03_circuits", {**CIRCUIT, "dataset": str(data), "ig_steps": [1, 2],
                                               "run": {"base": str(base), "checkpoints": str(sft)}, "step": "20"},
                               tmp_path, tmp_path / "cache")
    assert f"exact patching over {n_layers * n_heads} heads" in text  # every head of this model
    assert f"Clean = `{sft / 'checkpoint-20'}`, corrupted = `{base}`" in text
    assert len(charts) == 3


@pytest.mark.slow
def test_emergence_page_on_paper_shaped_runs(paper_run, tmp_path):
    _, base, sft, grpo, data, n_layers, n_heads = paper_run
    runs = {"sft": {"base": str(base), "checkpoints": str(sft), "kind": "sft"},
            "grpo": {"base": str(base), "checkpoints": str(grpo), "kind": "grpo"}}
    text, _, verdicts = run_page("04_emergence", {**CIRCUIT, "dataset": str(data), "runs": runs, "n_boot": 10,
                                                  "n_splits": 4, "n_questions": 6}, tmp_path, tmp_path / "cache")
    assert f"sft: {n_layers} layers × {n_heads} heads ({n_layers * n_heads})" in text
    assert "6 circuits (2 base circuits and 4 checkpoints)" in text
    assert "grpo: new heads and reward" in text  # Fig 3B from the checkpoint's trainer_state.json
    # the §4 claims found the runs by their kind: the SFT-vs-GRPO and reward rows are there (their
    # verdicts depend on the random weights)
    assert {"GRPO switches emergent heads on and off", "The number of new heads rises and falls with the accuracy "
            "reward"} <= set(verdicts.claim)


@pytest.mark.slow
def test_interventions_page_on_paper_shaped_models(paper_run, tmp_path):
    _, base, sft, grpo, data, n_layers, n_heads = paper_run
    params = {**CIRCUIT, **SAMPLING, "dataset": str(data), "eval_sets": [str(data)], "seeds": 2,
              "model_run": {"base": str(base), "checkpoints": str(sft)}, "base_run": {"model": str(base)},
              "sft_run": {"base": str(base), "checkpoints": str(sft)},
              "grpo_run": {"base": str(base), "checkpoints": str(grpo)}, "control_dataset": str(data)}
    text, charts, verdicts = run_page("05_interventions", params, tmp_path, tmp_path / "cache")
    assert f"ablated model's {n_layers} layers × {n_heads} heads" in text
    assert "no ablation" in text and "no intervention" in text and "arith" in text  # the JSONL set's column
    assert "does not apply to these sets" in text  # the organism's failure taxonomy, left out
    assert "Fig 4 is left out" not in text and len(charts) == 3  # Table 1, Table 5, Fig 4 along the checkpoints
    assert verdicts is not None


@pytest.mark.slow
def test_thinking_page_on_paper_shaped_models(paper_run, tmp_path):
    name, base, _, _, data, n_layers, n_heads = paper_run
    params = {**CIRCUIT, **SAMPLING, "dataset": str(data), "eval_sets": [str(data)], "k_dataset": str(data),
              "n_k": 4, "k_limit": 3, "hybrid_run": {"model": str(base)}, "top_k": 20, "distill_run": None}
    text, charts, verdicts = run_page("06_thinking_modes", params, tmp_path, tmp_path / "cache")
    assert f"of the model's {n_layers} layers × {n_heads} heads" in text
    assert "the chat template's `enable_thinking`" in text and "think off" in text
    if PAPER_SHAPES[name].get("thinking"):  # Qwen3's switch changes the prompt: the two modes have circuits
        assert "Neither circuit has signal" not in text and len(charts) == 3
    else:  # no switch in the template: both modes write alike, nothing to compare, said in a sentence
        assert "Neither circuit has signal" in text and len(charts) == 2
    assert verdicts is not None


def test_a_dtype_other_than_float32_enters_the_keys(monkeypatch, tmp_path):
    """CPU (float32) prefix and circuit keys stay as they were; a bf16 GPU analysis keys apart."""
    from thinking_sparks.emergence import device, pairs
    from thinking_sparks.emergence.pairs import Side, side_fingerprint

    path = str(build_paper_like(tmp_path / "m", "llama-3.2-1b"))
    cpu = side_fingerprint(Side(path))
    assert device.analysis_dtype() is None and set(cpu) == {"spec", "mode", "fingerprint"}
    monkeypatch.setattr(pairs, "analysis_dtype", lambda: "bfloat16")  # what use_device("cuda") gives
    assert side_fingerprint(Side(path)) == {**cpu, "dtype": "bfloat16"}
