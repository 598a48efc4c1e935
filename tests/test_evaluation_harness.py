"""The harness end to end: evaluate, cache, `sparks eval` on a tiny model dir and a small JSON-lines file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from thinking_sparks.evaluation.datasets import Problem
from thinking_sparks.evaluation.generation import SamplingConfig
from thinking_sparks.evaluation.harness import SAMPLE_COLUMNS, EvalParams, evaluate, run_eval

QUESTIONS = ["what is 3 plus 4 ?", "let's solve 1 + 2 * ( 3 - 4 )", "sum of 9 and 8", "7 times 6",
             "the answer of 5 minus 2"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny seeded Qwen2 dir whose greedy outputs vary (init range 0.4) and contain digits."""
    from thinking_sparks.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("eval-qwen2"), arch="qwen2", seed=1, init_range=0.4)


@pytest.fixture(scope="module")
def lm(model_dir):
    from thinking_sparks.models import load_model

    return load_model(str(model_dir), device="cpu")


@pytest.fixture()
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_evaluate_grades_every_sample(lm):
    problems = [Problem(f"p{i}", q, str(i), "easy" if i < 3 else "hard") for i, q in enumerate(QUESTIONS)]
    params = EvalParams(dataset="inline", sampling=SamplingConfig(n=4, temperature=1.0, top_p=0.9, max_new_tokens=10, stop=()), n_boot=50)
    result = evaluate(lm, problems, params, progress=False)
    s = result.samples
    assert list(s.columns) == SAMPLE_COLUMNS and len(s) == 5 * 4
    # literal values of this seeded model (sampling seed 0): 4 samples per problem, problem by problem
    assert s["problem_id"].tolist() == [f"p{i}" for i in range(5) for _ in range(4)]
    assert [None if pd.isna(x) else x for x in s["extracted"]] == [
        "8", "<think> \n <unk> let's what", "5", None, "2", "3", None, "2", "5", "2", "by by -", "9",
        "2", "9", "7", "2", "4", "3", "5", None]
    assert s["correct"].tolist() == [False] * 9 + [True] + [False] * 6 + [True] + [False] * 3  # gold is p<i>'s i
    assert result.pass_at_1 == pytest.approx(2 / 20)
    assert set(result.summary.to_frame()["difficulty"]) == {"all", "easy", "hard"}
    assert result.info["timing"]["new_tokens"] == int(s["n_tokens"].sum())

    # gold = what greedy decoding answers -> every problem with an extracted number is correct
    greedy = EvalParams(dataset="inline", sampling=SamplingConfig(n=1, temperature=0.0, max_new_tokens=10, stop=()), n_boot=50)
    first = evaluate(lm, problems, greedy, progress=False).samples
    assert first["completion"].tolist() == [
        "<unk> . times minus by by think 9 5 of", "result <unk> by 2 - result = answer - result",
        "9 product 9 product + * a assistant 5 result", "<think> step a by minus </answer> product what what what",
        "an 4 product 9 ? by </answer>"]
    # untagged text: the grader falls back to the last number; the fourth holds no number
    assert [None if pd.isna(x) else x for x in first["extracted"]] == ["5", "2", "5", None, "9"]
    gold = [a if not pd.isna(a) else "no-answer" for a in first["extracted"]]
    again = evaluate(lm, [Problem(p.id, p.question, g, p.difficulty) for p, g in zip(problems, gold)], greedy,
                     progress=False)
    assert again.samples["correct"].tolist() == first["extracted"].notna().tolist()
    assert again.pass_at_1 == pytest.approx(first["extracted"].notna().mean())


def test_interventions_reach_the_harness(lm):
    from thinking_sparks.interventions import parse_edits

    problems = [Problem(f"p{i}", q, "1") for i, q in enumerate(QUESTIONS)]
    params = EvalParams(dataset="inline", sampling=SamplingConfig(n=1, temperature=0.0, max_new_tokens=8, stop=()), n_boot=10)
    every = ",".join(f"L{layer}H{h}" for layer in range(lm.n_layers) for h in range(lm.n_heads))
    base = evaluate(lm, problems, params, progress=False).samples["completion"].tolist()
    ablated = evaluate(lm, problems, params, intervention=parse_edits(every), progress=False)
    assert ablated.samples["completion"].tolist() != base


def test_run_eval_caches_and_writes(lm, tmp_path, cache_root):
    rows = [{"question": q, "answer": f"x\n#### {i}"} for i, q in enumerate(QUESTIONS)]
    data = write_jsonl(tmp_path / "set.jsonl", rows)
    params = EvalParams(dataset=str(data), sampling=SamplingConfig(n=2, temperature=0.8, max_new_tokens=6), n_boot=20)
    first = run_eval(lm, params, out_dir=tmp_path / "out1", progress=False)
    assert first.info["cached"] is False
    second = run_eval(lm, params, out_dir=tmp_path / "out2", progress=False)
    assert second.info["cached"] is True
    pd.testing.assert_frame_equal(first.samples, second.samples)
    assert (tmp_path / "out2" / "summary.json").read_text() == (tmp_path / "out1" / "summary.json").read_text()
    # other params -> a new entry; an intervention is cached under a key naming heads and factors
    reseeded = dataclasses.replace(params, sampling=dataclasses.replace(params.sampling, seed=1))
    third = run_eval(lm, reseeded, progress=False)
    assert third.info["cached"] is False
    from thinking_sparks.interventions import parse_edits

    keyed = [run_eval(lm, params, intervention=parse_edits(scale=["L0H0=1.0"]), progress=False) for _ in range(2)]
    assert [r.info["cached"] for r in keyed] == [False, True]
    other = run_eval(lm, params, intervention=parse_edits(scale=["L0H0=0.5"]), progress=False)
    assert other.info["cached"] is False
    assert run_eval(lm, params, use_cache=False, progress=False).info["cached"] is False


def run_cli(args: list[str]):
    from thinking_sparks.cli import app

    return CliRunner().invoke(app, args)


def test_cli_end_to_end(model_dir, tmp_path, cache_root):
    data = write_jsonl(tmp_path / "mini.jsonl", [
        {"question": q, "answer": str(i), "difficulty": "easy" if i % 2 else "hard"} for i, q in enumerate(QUESTIONS)
    ])
    out = tmp_path / "out"
    args = ["eval", "--model", str(model_dir), "--dataset", str(data), "--n", "4", "--temperature", "0.6",
            "--top-p", "0.95", "--top-k", "20", "--min-p", "0.05", "--max-new-tokens", "8", "--seed", "3",
            "--limit", "4", "--out", str(out)]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 4 * 4
    assert {"problem_id", "difficulty", "sample_index", "completion", "extracted", "correct"} <= set(samples.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ks"] == [1, 2, 4]
    for key in ("pass@1", "metrics", "params", "versions", "timing", "model", "fingerprint"):
        assert key in summary
    assert set(summary["metrics"]) == {"all", "easy", "hard"}
    assert {"pass@4", "success@2"} <= set(summary["metrics"]["all"])
    assert summary["params"]["sampling"]["top_k"] == 20 and summary["params"]["limit"] == 4
    res2 = run_cli(args)
    assert res2.exit_code == 0 and "from cache" in res2.output
    pd.testing.assert_frame_equal(samples, pd.read_parquet(out / "samples.parquet"))


@pytest.mark.parametrize(
    ("extra", "content", "message"),
    [
        (["--n", "0"], None, "--n must be >= 1"),
        (["--n", "2", "--k", "4"], None, "k=4 must lie in [1, n=2]"),
        (["--temperature", "-1"], None, "temperature must be >= 0"),
        ([], '{"question": "q", "answer": "1"}\n{oops\n', "invalid JSON"),
        ([], None, "eval set not found"),
    ],
)
def test_cli_bad_input(model_dir, tmp_path, cache_root, extra, content, message):
    data = tmp_path / "d.jsonl"
    if content is not None:
        data.write_text(content)
    elif message != "eval set not found":
        write_jsonl(data, [{"question": "q", "answer": "1"}])
    res = run_cli(["eval", "--model", str(model_dir), "--dataset", str(data), "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_subprocess_reports_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "eval", "--model", "nope",
                          "--dataset", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: eval set not found")
