"""Bad input on the command line: one line on stderr naming the problem, no traceback, exit != 0."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"  # this checkout's code, also in the subprocess
IDS = '{"clean_ids": [1, 2, 3], "corrupted_ids": [1, 4, 3]}\n'


def _sparks(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real entry point (``python -m thinking_sparks.cli``) in a subprocess."""
    env = {"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC),
           "SPARKS_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "thinking_sparks.cli", "--quiet", *args], capture_output=True,
                          text=True, env=env, cwd=cwd)


def _inproc(*args: str):
    from typer.testing import CliRunner

    from thinking_sparks.cli import app

    return CliRunner().invoke(app, ["--quiet", *args])


def _one_line(stderr: str) -> str:
    """The single stderr line (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize(("line", "kind"), [("[1, 2]", "array"), ('"x"', "string"), ("7", "number"),
                                            ("null", "null")])
def test_pairs_line_that_is_json_but_not_an_object(tmp_path, line, kind):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(IDS + line + "\n")
    r = _inproc("circuit", "--model", "unused", "--pairs", str(pairs), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    msg = _one_line(r.stderr)
    assert msg == (f"error: {pairs}:2: expected a JSON object with clean_ids/corrupted_ids or clean/corrupted, "
                   f"got a JSON {kind}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("verb", ["circuit", "heads"])
def test_directory_as_pairs(tmp_path, verb):
    extra = ["--base", "unused"] if verb == "heads" else []
    r = _inproc(verb, "--model", "unused", *extra, "--pairs", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert _one_line(r.stderr) == f"error: pairs file {tmp_path} is a directory; pass a JSONL file"


def test_directory_as_eval_set(tmp_path):
    r = _inproc("eval", "--model", "unused", "--dataset", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert _one_line(r.stderr) == f"error: eval set {tmp_path} is a directory; pass a JSONL file"


def _broken_copy(src: Path, dst: Path, how: str) -> Path:
    shutil.copytree(src, dst)
    weights = dst / "model.safetensors"
    if how == "missing":
        weights.unlink()
    elif how == "truncated":
        with open(weights, "r+b") as fh:
            fh.truncate(weights.stat().st_size // 2)
    else:  # garbage
        weights.write_bytes(b"not a safetensors file\n")
    return dst


@pytest.mark.parametrize(("how", "expect"), [
    ("missing", "has a config.json but no weights (no *.safetensors or *.bin file)"),
    ("truncated", "model.safetensors is truncated ("),
    ("garbage", "model.safetensors is truncated or corrupt ("),
])
def test_model_dir_with_config_but_bad_weights(tiny_model_dir, tmp_path, how, expect):
    model = _broken_copy(tiny_model_dir, tmp_path / "model", how)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(IDS)
    r = _inproc("circuit", "--model", str(model), "--pairs", str(pairs), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    msg = _one_line(r.stderr)
    assert str(model) in msg and expect in msg
    assert not (tmp_path / "o").exists()


def test_truncated_weights_through_the_entry_point(tiny_model_dir, tmp_path):
    model = _broken_copy(tiny_model_dir, tmp_path / "model", "truncated")
    r = _sparks("generate", "--model", str(model), "--prompt", "hi", cwd=tmp_path)
    assert r.returncode == 2
    assert f"error: {model / 'model.safetensors'} is truncated (" in _one_line(r.stderr)


def test_mistyped_integer_through_the_entry_point(tmp_path):
    r = _sparks("eval", "--model", "m", "--dataset", "organism/easy", "--out", "o", "--n", "abc", cwd=tmp_path)
    assert r.returncode == 2
    msg = _one_line(r.stderr)
    assert msg.startswith("error: sparks eval: Invalid value for '--n': ") and "integer" in msg
    assert "╭" not in r.stderr and "Usage:" not in r.stderr


@pytest.mark.parametrize(("args", "expect"), [
    (["circuit", "--model", "m", "--pairs", "p", "--out", "o", "--steps", "two"],
     "error: sparks circuit: Invalid value for '--steps': "),
    (["eval", "--model", "m", "--dataset", "d", "--out", "o", "--temperature", "hot"],
     "error: sparks eval: Invalid value for '--temperature' / '-t': "),
    (["circuit", "--pairs", "p", "--out", "o"], "error: sparks circuit: Missing option '--model' / '-m'."),
    (["evl"], "error: sparks: No such command 'evl'. Did you mean 'eval'?"),
    (["circuit", "--model", "m", "--pairs", "p", "--out", "o", "--bogus"],
     "error: sparks circuit: No such option: --bogus"),
])
def test_usage_errors_are_one_line(args, expect):
    r = _inproc(*args)
    assert r.exit_code == 2
    assert _one_line(r.stderr).startswith(expect)
    assert "╭" not in r.stderr


def test_out_with_foreign_files_is_refused_and_kept(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(IDS)
    r = _inproc("circuit", "--model", "unused", "--pairs", str(pairs), "--out", str(out))
    assert r.exit_code == 2
    assert _one_line(r.stderr).startswith(f"error: --out {out} holds other files (notes.txt)")
    assert (out / "notes.txt").read_text() == "mine\n"
