"""`sparks heads` and `sparks trace` on tiny models and the organism's tiny profile."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest


def _invoke(tmp_path, monkeypatch, *args):
    """In-process (a subprocess costs ~10 s of imports on 2 shared cores)."""
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    return CliRunner().invoke(app, ["--quiet", *args])


def _pairs_file(path, seed: int, n: int = 6):
    import torch

    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        clean = torch.randint(10, 55, (9,), generator=g).tolist()
        corr = clean[:4] + torch.randint(10, 55, (5,), generator=g).tolist()
        rows.append({"clean_ids": clean, "corrupted_ids": corr, "target_pos": [3, 4, 5, 6, 7]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def pairs_file(tmp_path):
    return _pairs_file(tmp_path / "pairs.jsonl", 0)


def _zeroed_copy(src, dst, layer, head):
    """A copy of a model dir with head (layer, head)'s o_proj input columns set to zero."""
    from transformers import AutoModelForCausalLM

    shutil.copytree(src, dst)
    m = AutoModelForCausalLM.from_pretrained(dst)
    d_head = m.config.hidden_size // m.config.num_attention_heads
    w = m.model.layers[layer].self_attn.o_proj.weight  # [d_model, n_heads * d_head]
    with __import__("torch").no_grad():
        w[:, head * d_head:(head + 1) * d_head] = 0
    m.save_pretrained(dst)
    return dst


def test_heads_model_against_itself_has_zero_effect(tmp_path, monkeypatch, tiny_model_dir, pairs_file):
    out = tmp_path / "self"
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(tiny_model_dir), "--base", str(tiny_model_dir),
                "--pairs", str(pairs_file), "--base-pairs", str(pairs_file), "--steps", "2", "--top-n", "40",
                "--n-boot", "5", "--out", str(out))
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "heads.csv")
    assert list(df.columns[:7]) == ["head", "layer", "index", "status", "importance_model", "importance_base", "effect"]
    assert len(df) == 2 * 4 and df["head"].tolist()[:2] == ["L0H0", "L0H1"]
    assert (df.effect == 0).all() and set(df.status) <= {"retained", "inactive"}
    assert (df.status == "retained").any()
    assert df.importance_model.sum() == pytest.approx(1.0)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["steps"] == 2 and meta["counts"]["emergent"] == 0
    # the same circuit twice: equal inclusion probabilities, no rule-emergent head in any resample
    assert (df.p_model == df.p_base).all() and meta["emergent"] == 0 and meta["emergent_ci"] == [0, 0]
    assert meta["null"] == "halves of the pairs" and meta["verdict"] == "not reproduced"


def test_heads_rule_against_a_same_size_null(tmp_path, monkeypatch, tiny_model_dir, pairs_file):
    """``--null-pairs``: the model's circuit on independent questions of the same size is the null;
    a base with head L0H1 silenced never holds it (p_base 0) while the model does."""
    zeroed = _zeroed_copy(tiny_model_dir, tmp_path / "zeroed", layer=0, head=1)
    null = _pairs_file(tmp_path / "null.jsonl", 1)
    out = tmp_path / "rule"
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(tiny_model_dir), "--base", str(zeroed),
                "--pairs", str(pairs_file), "--base-pairs", str(pairs_file), "--null-pairs", str(null),
                "--steps", "2", "--top-n", "40", "--n-boot", "20", "--out", str(out))
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "heads.csv").set_index("head")
    assert df.loc["L0H1", "p_base"] == 0 and df.loc["L0H1", "p_model"] > 0
    assert ((df.p_model >= 0) & (df.p_model <= 1)).all()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["null"] == "null pairs" and meta["emergent"] == len(meta["emergent_heads"])
    assert set(meta["emergent_heads"]) == set(df.index[(df.p_model >= 0.8) & (df.p_base <= 0.2)])
    lo, hi = meta["emergent_ci"]
    assert lo <= hi and meta["floor_mean"] <= meta["floor_p95"]
    assert meta["verdict"] == ("reproduced" if lo > meta["floor_p95"] else
                               "not reproduced" if hi <= meta["floor_p95"] else "inconclusive")
    short = _pairs_file(tmp_path / "short.jsonl", 2, n=4)
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(tiny_model_dir), "--base", str(zeroed),
                "--pairs", str(pairs_file), "--null-pairs", str(short), "--steps", "2", "--top-n", "40",
                "--n-boot", "5", "--out", str(tmp_path / "bad"))
    assert r.exit_code != 0 and "the null needs the same size" in r.output


def test_heads_zeroed_head_loses_all_importance(tmp_path, monkeypatch, tiny_model_dir, pairs_file):
    zeroed = _zeroed_copy(tiny_model_dir, tmp_path / "zeroed", layer=0, head=1)
    out = tmp_path / "z"
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(zeroed), "--base", str(tiny_model_dir),
                "--pairs", str(pairs_file), "--steps", "2", "--top-n", "40", "--n-boot", "5", "--out", str(out))
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "heads.csv").set_index("head")
    assert df.loc["L0H1", "importance_model"] == 0 and df.loc["L0H1", "score_model"] == 0
    assert df.loc["L0H1", "importance_base"] > 0
    assert df.loc["L0H1", "effect"] == pytest.approx(-1, abs=1e-4)
    assert df.loc["L0H1", "status"] in ("base", "inactive") and df.loc["L0H1", "inclusion_model"] == 0
    assert (df.drop(index="L0H1").importance_model > 0).any()


def test_heads_bad_input_is_one_line(tmp_path, monkeypatch, tiny_model_dir, pairs_file):
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(tiny_model_dir), "--base", str(tiny_model_dir),
                "--pairs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "pairs file not found" in r.output
    r = _invoke(tmp_path, monkeypatch, "heads", "--model", str(tiny_model_dir), "--base", str(tiny_model_dir),
                "--pairs", str(pairs_file), "--method", "exact", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "unknown --method" in r.output
    assert not (tmp_path / "o").exists()


def test_trace_run_and_trl_folders_warm_rebuild_computes_nothing(tmp_path, monkeypatch, tiny_zoo_cache):
    cache, _ = tiny_zoo_cache
    monkeypatch.setenv("SPARKS_ORGANISM_PROFILE", "tiny")
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    monkeypatch.setenv("SPARKS_CACHE", str(cache))
    args = ["--n-questions", "6", "--top-n", "20", "--n-boot", "5", "--steps", "2", "--reasoning-side", "final"]
    out = tmp_path / "trace"
    r = CliRunner().invoke(app, ["--quiet", "trace", "--run", "organism/sft", "--out", str(out), *args])
    assert r.exit_code == 0, r.output
    heads = pd.read_parquet(out / "heads.parquet")
    steps = sorted(heads.step.unique())
    assert len(steps) == 3 and len(heads) == 3 * 2 * 4
    assert {"run", "step", "head", "active", "status", "effect", "inclusion"} <= set(heads.columns)
    summary = pd.read_csv(out / "summary.csv")
    assert summary.faithfulness.notna().all() and (summary.pairs >= 2).all()
    counts = pd.read_csv(out / "counts.csv")
    assert counts.emergent.tolist() == summary.emergent.tolist()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["circuits_computed"] == 4 and meta["base"].endswith("base@final")
    # the same checkpoints as a directory of TRL checkpoint-N folders: everything from the cache
    run_dir = cache / "organism" / "tiny" / "sft"
    out2 = tmp_path / "trace2"
    r = CliRunner().invoke(app, ["--quiet", "trace", "--base", "organism/tiny/base@final", "--checkpoints",
                                 str(run_dir), "--out", str(out2), *args])
    assert r.exit_code == 0, r.output
    s2 = pd.read_csv(out2 / "summary.csv")
    assert s2.step.tolist() == summary.step.tolist()
    assert s2.emergent.tolist() == summary.emergent.tolist()
    # base circuit cached (same spec); checkpoints are new specs (paths), so computed once
    again = CliRunner().invoke(app, ["--quiet", "trace", "--run", "organism/sft", "--out", str(out), *args])
    assert again.exit_code == 0 and json.loads((out / "meta.json").read_text())["circuits_computed"] == 0


def test_hybrid_think_circuits_and_compare_api(monkeypatch, tiny_zoo_cache):
    from thinking_sparks.circuits.config import CircuitConfig
    from thinking_sparks.emergence import PairParams, compare, think_circuits

    monkeypatch.setenv("SPARKS_CACHE", str(tiny_zoo_cache[0]))
    params, settings = PairParams(n_questions=6), CircuitConfig(top_n=20, n_boot=5, steps=2)
    c = think_circuits("organism/tiny/hybrid@final", params, settings)
    assert c.model.clean.endswith("(no_think)") and c.base.clean.endswith("(think)")
    assert set(c.sets.emergent) == set(c.model.heads) - set(c.base.heads)  # think-off only
    assert set(c.sets.base_only) == set(c.base.heads) - set(c.model.heads)
    cmp = compare("organism/tiny/sft@final", "organism/tiny/base@final", params, settings)
    assert cmp.sets.model == set(cmp.model.heads) and cmp.sets.base == set(cmp.base.heads)
    assert cmp.model.importance.shape == (2, 4) and cmp.model.clean == "organism/tiny/sft@final"
    scores = [cmp.model.score[int(h[1]), int(h[3])] for h in cmp.sets.emergent]
    assert scores == sorted(scores, reverse=True)  # emergent heads listed by score
