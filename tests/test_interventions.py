"""Head interventions: hooks equal weight edits, undo themselves, compose; mean ablation by position;
head sets; the CLI's --ablate / --scale."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from thinking_sparks.evaluation.generation import SamplingConfig, generate, stop_token_ids
from thinking_sparks.interventions import (
    HeadEdit,
    Intervention,
    apply,
    edit_weights,
    layer_counts,
    mean_ablation,
    output_projections,
    parse_edits,
    parse_heads,
    random_matched,
    random_matched_sets,
    reference_means,
)

SRC = Path(__file__).resolve().parents[1] / "src"  # this checkout's code, also in subprocesses
PROMPTS = ["what is 3 plus 4 ?", "let's solve 1 + 2 * ( 3 - 4 ) step by step", "sum of 9 and 8", "7"]
GREEDY = SamplingConfig(n=1, temperature=0.0, max_new_tokens=10, stop=(), batch_size=4)


def _lively_dir(path, arch: str):
    """A tiny seeded model with a large init (long, varied greedy continuations), saved to ``path``."""
    from thinking_sparks.tiny import build_tiny

    return build_tiny(path, arch=arch, seed=1, init_range=0.4, n_layers=3)


@pytest.fixture(scope="module", params=["qwen2", "qwen3", "llama"])
def lm(request, tmp_path_factory):
    from thinking_sparks.models import load_model

    return load_model(str(_lively_dir(tmp_path_factory.mktemp(f"iv-{request.param}"), request.param)), device="cpu")


@pytest.fixture(scope="module")
def lively_dir(tmp_path_factory):
    return _lively_dir(tmp_path_factory.mktemp("iv-cli"), "qwen2")


@contextlib.contextmanager
def edited_columns(lm, edits):
    """The slow reference: o_proj columns of each head zeroed / scaled in the weights, restored after."""
    projs = output_projections(lm)
    saved = [p.weight.detach().clone() for p in projs]
    try:
        with torch.no_grad():
            for e in edits:
                cols = slice(e.head * lm.d_head, (e.head + 1) * lm.d_head)
                projs[e.layer].weight[:, cols] *= 0.0 if e.mode == "zero" else e.factor
        yield
    finally:
        with torch.no_grad():
            for p, w in zip(projs, saved):
                p.weight.copy_(w)


def _logits(lm, text=PROMPTS[1]):
    with torch.no_grad():
        return lm.hf_model(lm.encode(lm.chat(text))).logits[0]


def _hooks(lm) -> int:
    mods = output_projections(lm) + [lm.hf_model.model]
    return sum(len(m._forward_pre_hooks) for m in mods)


@pytest.mark.parametrize("spec", [dict(ablate="L0H1,L2H3"), dict(scale=["L1H0=0.5", "L2H2=0.5"]),
                                  dict(scale=["L0H3=2.0", "L1H1=2.0"]), dict(ablate="L1H2", scale=["L0H0=2.0"])])
def test_hooks_equal_weight_edits(lm, spec):
    iv = parse_edits(**spec)
    base = _logits(lm)
    with apply(lm, iv):
        hooked = _logits(lm)
    with edited_columns(lm, iv.edits):
        edited = _logits(lm)
    assert not torch.allclose(hooked, base, atol=1e-3)
    torch.testing.assert_close(hooked, edited, rtol=1e-5, atol=1e-5)
    prompts = [lm.chat(p) for p in PROMPTS]
    gen = [g.text for g in generate(lm, prompts, GREEDY, intervention=iv, progress=False)]
    with edited_columns(lm, iv.edits):
        ref = [g.text for g in generate(lm, prompts, GREEDY, progress=False)]
    assert gen == ref


def test_scale_one_is_identity_and_hooks_are_removed(lm):
    base = _logits(lm)
    with apply(lm, parse_edits(scale=["L0H0=1.0", "L2H3=1"])):
        assert _hooks(lm) == 2
        same = _logits(lm)
    assert torch.equal(same, base)
    assert _hooks(lm) == 0
    with pytest.raises(RuntimeError, match="boom"):
        with apply(lm, parse_edits("L0H0,L1H1")):
            assert _hooks(lm) == 2
            raise RuntimeError("boom")
    assert _hooks(lm) == 0
    assert torch.equal(_logits(lm), base)


def test_nested_contexts_compose(lm):
    with apply(lm, parse_edits(scale=["L1H1=0.5"])), apply(lm, parse_edits("L0H2")):
        nested = _logits(lm)
    with apply(lm, parse_edits("L0H2", scale=["L1H1=0.5"])):
        joint = _logits(lm)
    torch.testing.assert_close(nested, joint, rtol=0, atol=0)
    with apply(lm, parse_edits(scale=["L1H1=0.5"])), apply(lm, parse_edits(scale=["L1H1=2.0"])):
        undone = _logits(lm)  # the inner hook scales the outer-scaled output back
    torch.testing.assert_close(undone, _logits(lm), rtol=1e-5, atol=1e-5)
    assert _hooks(lm) == 0


def test_weight_edits_reach_the_bridge_and_are_restored(lm):
    iv = parse_edits("L0H1", scale=["L2H2=0.5"])
    with apply(lm, iv):
        hooked = _logits(lm)
    before = [p.weight.detach().clone() for p in output_projections(lm)]
    ids = lm.encode(lm.chat(PROMPTS[1]))
    with torch.no_grad():
        bridge_plain = lm.bridge(ids)
    with pytest.raises(RuntimeError, match="boom"), edit_weights(lm, iv):
        torch.testing.assert_close(_logits(lm), hooked, rtol=1e-5, atol=1e-5)
        with torch.no_grad():  # the bridge's twin shares the edited tensors
            torch.testing.assert_close(lm.bridge(ids)[0], hooked, rtol=1e-4, atol=1e-4)
        raise RuntimeError("boom")
    assert all(torch.equal(p.weight, w) for p, w in zip(output_projections(lm), before))
    with torch.no_grad():
        assert torch.equal(lm.bridge(ids), bridge_plain)
    with pytest.raises(ValueError, match="cannot be written into weights"):
        with edit_weights(lm, mean_ablation(lm, ["L0H0"], [lm.chat("7")])):
            pass


def test_out_of_range_heads_are_rejected(lm):
    for bad in ("L3H0", "L0H4"):
        with pytest.raises(ValueError, match=f"{bad} not in this model"):
            with apply(lm, parse_edits(bad)):
                pass
    assert _hooks(lm) == 0


# ---- mean ablation ----------------------------------------------------------------------------


def test_reference_means_by_position(lm):
    texts = [lm.chat(p) for p in PROMPTS]
    seqs = [lm.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    means = reference_means(lm, texts, ["L1H2"], batch_size=3, min_support=2)
    acts = []

    def grab(module, args):
        acts.append(args[0][0, :, 2 * lm.d_head:3 * lm.d_head].detach().double())

    handle = output_projections(lm)[1].register_forward_pre_hook(grab)
    try:
        with torch.no_grad():
            for s in seqs:  # one sequence at a time, no padding
                lm.hf_model(torch.tensor([s]))
    finally:
        handle.remove()
    lengths = sorted(len(s) for s in seqs)
    n_pos = lengths[-2]  # the last position that two sequences reach
    assert means["L1H2"].shape == (n_pos, lm.d_head)
    for p in (0, 5, n_pos - 2):
        expect = torch.stack([a[p] for a in acts if a.shape[0] > p]).mean(0)
        torch.testing.assert_close(means["L1H2"][p].double(), expect, rtol=1e-5, atol=1e-5)
    tail = torch.cat([a[n_pos - 1:] for a in acts if a.shape[0] >= n_pos]).mean(0)  # pooled last row
    torch.testing.assert_close(means["L1H2"][-1].double(), tail, rtol=1e-5, atol=1e-5)


def test_mean_ablation_with_its_own_output_as_reference_changes_nothing(lm):
    prompt = lm.tokenizer(lm.chat(PROMPTS[1]), add_special_tokens=False).input_ids
    cfg = dataclasses.replace(GREEDY, max_new_tokens=12)
    (base,) = generate(lm, [prompt], cfg, progress=False)
    full = list(prompt)  # the reference is the very sequence being generated (token ids, no round trip)
    with torch.no_grad():
        for _ in range(base.n_tokens):
            full.append(int(lm.hf_model(torch.tensor([full])).logits[0, -1].argmax()))
    heads = ["L0H1", "L1H3", "L2H0"]
    iv = mean_ablation(lm, heads, [full], min_support=1)
    (same,) = generate(lm, [prompt], cfg, intervention=iv, progress=False)
    assert same.text == base.text
    ids = torch.tensor([full])
    with torch.no_grad():
        plain = lm.hf_model(ids).logits
        with apply(lm, iv):
            torch.testing.assert_close(lm.hf_model(ids).logits, plain, rtol=1e-5, atol=1e-5)
    other = mean_ablation(lm, heads, [lm.chat(p) for p in PROMPTS])
    assert other.key() != iv.key()
    (changed,) = generate(lm, [prompt], cfg, intervention=other, progress=False)
    assert changed.text != base.text


def test_mean_ablation_uses_the_mean_at_each_real_position(lm):
    """Hooked, batched, left-padded, KV-cached generation equals a slow reference that writes
    ``means[head][position]`` into the head's slice during full forwards of one sequence."""
    texts = [lm.chat(p) for p in PROMPTS]
    heads = ["L0H2", "L2H1"]
    iv = mean_ablation(lm, heads, texts[:2], min_support=1)
    assert iv.means["L0H2"].shape[0] == max(len(lm.tokenizer(t, add_special_tokens=False).input_ids)
                                            for t in texts[:2])
    cfg = dataclasses.replace(GREEDY, max_new_tokens=8)
    by_batch = {b: [g.text for g in generate(lm, texts, dataclasses.replace(cfg, batch_size=b),
                                             intervention=iv, progress=False)] for b in (1, 4)}
    assert by_batch[1] == by_batch[4]

    stops = stop_token_ids(lm.tokenizer, lm.hf_model)

    def slow(text):
        ids = lm.tokenizer(text, add_special_tokens=False).input_ids
        projs = output_projections(lm)

        def make(layer):
            mine = [int(h.split("H")[1]) for h in heads if int(h[1:h.index("H")]) == layer]

            def hook(module, args):
                x = args[0].clone()
                pos = torch.arange(x.shape[1]).clamp(max=iv.means[heads[0]].shape[0] - 1)
                for h in mine:
                    x[0, :, h * lm.d_head:(h + 1) * lm.d_head] = iv.means[f"L{layer}H{h}"][pos]
                return (x,)
            return hook

        handles = [projs[layer].register_forward_pre_hook(make(layer)) for layer in (0, 2)]
        try:
            out = []
            with torch.no_grad():
                for _ in range(cfg.max_new_tokens):
                    nxt = int(lm.hf_model(torch.tensor([ids + out])).logits[0, -1].argmax())
                    out.append(nxt)
                    if nxt in stops:
                        out = out[:-1]
                        break
        finally:
            for h in handles:
                h.remove()
        return lm.tokenizer.decode(out, skip_special_tokens=False)

    assert by_batch[4] == [slow(t) for t in texts]


def test_mean_ablation_needs_means():
    with pytest.raises(ValueError, match="reference means"):
        Intervention((HeadEdit(0, 1, "mean"),))


# ---- head sets --------------------------------------------------------------------------------


def test_parse_heads():
    assert parse_heads("L5H0, L3H1 L10H2") == ["L3H1", "L5H0", "L10H2"]
    assert parse_heads(["L1H0", "L0H3"]) == ["L0H3", "L1H0"]
    for bad, msg in [("L3H1,L3H1", "named twice"), ("L3h1", "not a head name"), ("3,1", "not a head name")]:
        with pytest.raises(ValueError, match=msg) as err:
            parse_heads(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="expected HEAD=FACTOR"):
        parse_edits(scale=["L0H1"])
    with pytest.raises(ValueError, match="not a number"):
        parse_edits(scale=["L0H1=big"])


def test_random_matched_sets():
    heads = ["L0H1", "L0H2", "L2H0", "L3H3"]
    sets = random_matched_sets(heads, n_layers=4, n_heads=6, seeds=range(6))
    for s in sets.values():
        assert layer_counts(s) == layer_counts(heads) and len(set(s)) == len(heads)
        assert not set(s) & set(heads)  # enough other heads in every layer: no overlap
    assert len({tuple(s) for s in sets.values()}) > 1
    assert random_matched(heads, 4, 6, seed=3) == sets[3]
    full = ["L1H0", "L1H1", "L1H2"]  # a layer with too few other heads is filled from the set itself
    assert layer_counts(random_matched(full, 2, 3, seed=0)) == {1: 3}
    with pytest.raises(ValueError, match="not in this model"):
        random_matched(["L4H0"], 4, 6, seed=0)


# ---- CLI --------------------------------------------------------------------------------------


def _sparks(*args, env=None):
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", *args], capture_output=True,
                          text=True, env={"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "PATH": "/usr/bin:/bin",
                                          "PYTHONPATH": str(SRC), **(env or {})})


def test_cli_generate_equals_weight_edits(lively_dir):
    from thinking_sparks.models import load_model

    lm = load_model(str(lively_dir), device="cpu")
    prompt = PROMPTS[1]
    cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=12, stop=(), batch_size=1)
    outs = {}
    for name, flags, edits in [("zero", ["--ablate", "L0H1,L2H3"], parse_edits("L0H1,L2H3").edits),
                               ("half", ["--scale", "L1H0=0.5", "--scale", "L2H2=0.5"],
                                parse_edits(scale=["L1H0=0.5,L2H2=0.5"]).edits),
                               ("none", [], ())]:
        result = _sparks("generate", "--model", str(lively_dir), "--prompt", prompt, "--max-new-tokens", "12",
                         *flags)
        assert result.returncode == 0, result.stderr
        with edited_columns(lm, edits):
            (ref,) = generate(lm, [lm.chat(prompt)], cfg, progress=False)
        assert result.stdout.strip() == ref.text.strip()
        outs[name] = result.stdout
    assert len(set(outs.values())) == 3


def _invoke(*args):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    return CliRunner().invoke(app, ["--quiet", *args])


@pytest.mark.parametrize("flags, message", [
    (["--ablate", "L0X1"], "not a head name"),
    (["--scale", "L0H1=lots"], "not a number"),
    (["--ablate", "L0H1", "--scale", "L0H1=2"], "named twice"),
    (["--ablate", "L0H1", "--ablate-mode", "median"], "'zero' or 'mean'"),
    (["--ablate", "L7H0"], "not in this model"),
])
def test_cli_bad_heads_are_one_line(lively_dir, flags, message):
    for verb in (["generate", "--prompt", "7"], ["eval", "--dataset", "organism/easy", "--out", "unused"]):
        result = _invoke(*verb, "--model", str(lively_dir), *flags)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error:") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_cli_bad_head_in_a_fresh_process_is_one_line(lively_dir):
    result = _sparks("generate", "--model", str(lively_dir), "--prompt", "7", "--ablate", "L0H1,L3H9")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "L3H9 not in this model" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_cli_generate_without_tokenizer(tmp_path, lively_dir):
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for f in lively_dir.iterdir():
        if f.name.startswith(("config", "model", "generation")):
            shutil.copy(f, bare / f.name)
    result = _sparks("generate", "--model", str(bare), "--prompt", "7", "--dtype", "float32")
    assert result.returncode == 2
    assert "has no tokenizer" in result.stderr and result.stderr.strip().count("\n") == 0


def test_cli_eval_mean_ablation_is_cached_by_intervention(lively_dir, tmp_path, monkeypatch):
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": "1"}) + "\n" for q in PROMPTS))
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    common = ["eval", "--model", str(lively_dir), "--dataset", str(data), "--n", "1", "--temperature", "0",
              "--max-new-tokens", "6", "--stop", "</answer>"]
    runs = {}
    for name, flags in [("plain", []), ("mean", ["--ablate", "L1H1,L2H0", "--ablate-mode", "mean"]),
                        ("zero", ["--ablate", "L1H1,L2H0"]), ("mean-again", ["--ablate", "L1H1,L2H0",
                                                                             "--ablate-mode", "mean"])]:
        out = tmp_path / name
        result = _invoke(*common, "--out", str(out), *flags)
        assert result.exit_code == 0, result.output
        runs[name] = (result.stdout, json.loads((out / "summary.json").read_text()))
    assert "(from cache)" not in runs["mean"][0] and "(from cache)" not in runs["zero"][0]
    assert "(from cache)" in runs["mean-again"][0]
    keys = {name: s["intervention"] for name, (_, s) in runs.items()}
    assert keys["plain"] is None and keys["zero"]["means"] is None and keys["mean"]["means"]
    assert [e[1] for e in keys["mean"]["edits"]] == ["mean", "mean"]
