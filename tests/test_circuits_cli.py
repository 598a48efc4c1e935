"""`sparks circuit`: outputs, caching, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _inproc(tmp_path, monkeypatch, *args):
    """In-process run (a subprocess costs ~10 s of imports on 2 shared cores)."""
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    return CliRunner().invoke(app, ["--quiet", "circuit", *args])


def _sparks(tmp_path, *args):
    env = {"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "PATH": "/usr/bin:/bin",
           "SPARKS_CACHE": str(tmp_path / "cache"), "HOME": os.environ.get("HOME", str(tmp_path)),
           "PYTHONPATH": os.pathsep.join(sys.path)}  # the code under test, also from a worktree
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", "circuit", *args],
                          check=False, capture_output=True, text=True, env=env)


@pytest.fixture
def id_pairs(tmp_path):
    f = tmp_path / "pairs.jsonl"
    rows = [{"clean_ids": [5, 6, 7, 8, 9], "corrupted_ids": [5, 10, 7, 8, 9], "correct_id": 11, "wrong_id": 12},
            {"clean_ids": [13, 14, 15, 16], "corrupted_ids": [13, 17, 15, 16], "correct_id": 18, "wrong_id": 19}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


@pytest.mark.parametrize("gqa", ["ungrouped", "grouped"])
def test_circuit_writes_edges_and_meta_and_caches(tmp_path, tiny_model_dir, id_pairs, gqa, monkeypatch):
    import pandas as pd

    out = tmp_path / "out"
    args = ["--model", str(tiny_model_dir), "--pairs", str(id_pairs), "--method", "eap-ig-inputs", "--steps", "3",
            "--metric", "logit-diff", "--gqa", gqa, "--top-n", "20", "--out", str(out)]
    if gqa == "ungrouped":  # the real console path once
        r = _sparks(tmp_path, *args)
        assert r.returncode == 0, r.stderr
    else:
        r = _inproc(tmp_path, monkeypatch, *args)
        assert r.exit_code == 0, r.output
    df = pd.read_parquet(out / "edges.parquet")
    assert {"src", "dst", "score", "abs_score", "mean_abs_score", "rank", "in_circuit"} <= set(df.columns)
    suffix = "L1G0.k" if gqa == "grouped" else "L1H3.k"
    assert suffix in set(df.dst) and "logits" in set(df.dst)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["params"]["gqa"] == gqa and meta["params"]["steps"] == 3
    assert "torch" in meta["versions"] and meta["timings"]["attribute_s"] > 0
    assert meta["circuit"]["n_edges"] <= 20 and not meta["cached"]
    out2 = tmp_path / "out2"
    r2 = _inproc(tmp_path, monkeypatch, *args[:-1], str(out2))
    assert r2.exit_code == 0 and "(from cache)" in r2.stdout
    assert pd.read_parquet(out2 / "edges.parquet").equals(df)


def test_text_pairs(tmp_path, tiny_model_dir, monkeypatch):
    f = tmp_path / "text.jsonl"
    f.write_text(json.dumps({"clean": "what is 2 plus 3 =", "corrupted": "what is 7 plus 3 =", "correct": "5",
                             "wrong": "0"}) + "\n")
    r = _inproc(tmp_path, monkeypatch, "--model", str(tiny_model_dir), "--pairs", str(f), "--method", "eap",
                "--metric", "kl", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("case", ["mismatch", "missing", "metric", "method"])
def test_bad_input_is_one_line(tmp_path, tiny_model_dir, id_pairs, case, monkeypatch):
    pairs = id_pairs
    extra = []
    if case == "mismatch":
        pairs = tmp_path / "bad.jsonl"
        pairs.write_text(json.dumps({"clean_ids": [1, 2, 3], "corrupted_ids": [1, 2]}) + "\n")
    elif case == "missing":
        pairs = tmp_path / "nope.jsonl"
    elif case == "metric":
        extra = ["--metric", "accuracy"]
    else:
        extra = ["--method", "magic"]
    r = _inproc(tmp_path, monkeypatch, "--model", str(tiny_model_dir), "--pairs", str(pairs),
                "--out", str(tmp_path / "o"), *extra)
    assert r.exit_code != 0
    assert r.stderr.startswith("error:") and r.stderr.strip().count("\n") == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    if case == "mismatch":
        assert "lengths differ" in r.stderr


def test_help_names_both_riemann_rules_and_the_renamed_method(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    r = CliRunner().invoke(app, ["circuit", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    text = " ".join(r.output.split())
    assert "k=0..m-1" in text and "k=1..m" in text and "paper" in text
    assert "eap-ig-joint-activations" in text and "mean over target positions" in text


def test_paper_rule_is_a_parameter_and_enters_the_key(tmp_path, tiny_model_dir, id_pairs, monkeypatch):
    args = ["--model", str(tiny_model_dir), "--pairs", str(id_pairs), "--steps", "2", "--metric", "logit-diff"]
    left = _inproc(tmp_path, monkeypatch, *args, "--out", str(tmp_path / "left"))
    right = _inproc(tmp_path, monkeypatch, *args, "--rule", "right", "--out", str(tmp_path / "right"))
    assert left.exit_code == 0 and right.exit_code == 0, (left.output, right.output)
    assert "(from cache)" not in right.stdout
    ml = json.loads((tmp_path / "left" / "meta.json").read_text())
    mr = json.loads((tmp_path / "right" / "meta.json").read_text())
    assert (ml["params"]["rule"], mr["params"]["rule"]) == ("left", "right")
    import pandas as pd

    sl = pd.read_parquet(tmp_path / "left" / "edges.parquet").score
    sr = pd.read_parquet(tmp_path / "right" / "edges.parquet").score
    assert not sl.equals(sr)


def test_old_method_name_is_one_line(tmp_path, tiny_model_dir, id_pairs, monkeypatch):
    r = _inproc(tmp_path, monkeypatch, "--model", str(tiny_model_dir), "--pairs", str(id_pairs),
                "--out", str(tmp_path / "o"), "--method", "eap-ig-activations")
    assert r.exit_code == 2 and "eap-ig-joint-activations" in r.stderr and r.stderr.strip().count("\n") == 0
