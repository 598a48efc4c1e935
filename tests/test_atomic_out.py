"""Every verb that writes ``--out`` writes it atomically: a kill mid-way leaves no partial ``--out``
(at most a dot-named ``.<name>.*.tmp`` sibling), and an earlier complete output stays as it was."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"  # this checkout's code, also in the subprocess
PAIRS = "".join(f'{{"clean_ids": [1, 2, 3, {t}, 5, 6], "corrupted_ids": [1, 2, 3, {t + 1}, 5, 7]}}\n'
                for t in range(10, 26))


def _kill_mid_write(args: list[str], out: Path, cwd: Path, limit_s: float = 180.0) -> list[Path]:
    """Start ``sparks ARGS`` and SIGKILL it as soon as ``out``'s temporary sibling appears.

    Returns the dot-named siblings left behind. Fails when the command ends before its
    temporary sibling appears (it would not have been killed mid-write).
    """
    env = {"HF_HUB_OFFLINE": "1", "SPARKS_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC),
           "SPARKS_CACHE": str(cwd / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "thinking_sparks.cli", "--quiet", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + limit_s
    try:
        while not list(out.parent.glob(f".{out.name}.*.tmp")):
            if proc.poll() is not None:
                pytest.fail(f"sparks {args[0]} ended (rc {proc.returncode}) before writing: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no temporary sibling of {out} within {limit_s} s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL  # killed mid-way, not finished on its own
    return sorted(p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _assert_only_tmp(left: list[Path]) -> None:
    assert left and all(p.name.endswith(".tmp") for p in left), left


@pytest.fixture()
def pairs(tmp_path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text(PAIRS)
    return path


def test_circuit_killed_keeps_the_previous_output(tiny_model_dir, tmp_path, pairs):
    out = tmp_path / "circuit"
    out.mkdir()
    (out / "edges.parquet").write_bytes(b"previous edges\n")
    (out / "meta.json").write_text('{"previous": true}\n')
    left = _kill_mid_write(["circuit", "--model", str(tiny_model_dir), "--pairs", str(pairs), "--out", str(out),
                            "--steps", "50", "--no-cache"], out, tmp_path)
    _assert_only_tmp(left)
    assert sorted(p.name for p in out.iterdir()) == ["edges.parquet", "meta.json"]
    assert (out / "edges.parquet").read_bytes() == b"previous edges\n"
    assert (out / "meta.json").read_text() == '{"previous": true}\n'


def test_eval_killed_leaves_no_out(tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    left = _kill_mid_write(["eval", "--model", str(tiny_model_dir), "--dataset", "organism/easy", "--out", str(out),
                            "--n", "4", "--limit", "8", "--max-new-tokens", "64", "--no-cache"], out, tmp_path)
    _assert_only_tmp(left)
    assert not out.exists()


def test_heads_killed_leaves_no_out(tiny_model_dir, tmp_path, pairs):
    out = tmp_path / "heads"
    left = _kill_mid_write(["heads", "--model", str(tiny_model_dir), "--base", str(tiny_model_dir), "--pairs",
                            str(pairs), "--out", str(out), "--steps", "20", "--n-boot", "50", "--no-cache"],
                           out, tmp_path)
    _assert_only_tmp(left)
    assert not out.exists()


def test_trace_killed_leaves_no_out(tiny_model_dir, tmp_path):
    out = tmp_path / "trace"
    left = _kill_mid_write(["trace", "--base", str(tiny_model_dir), "--checkpoints", str(tiny_model_dir),
                            "--out", str(out), "--dataset", "organism/hard", "--n-questions", "4", "--steps", "2", "--n-boot", "5",
                            "--no-cache"], out, tmp_path)
    _assert_only_tmp(left)
    assert not out.exists()


def test_train_killed_leaves_no_run_dir(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    left = _kill_mid_write(["train", "sft", "--model", str(tiny_model_dir), "--out", str(out),
                            "--set", "max_steps=2"], out, tmp_path)
    _assert_only_tmp(left)
    assert not out.exists()


def test_atomic_dir_on_error_removes_the_temporary_and_keeps_the_target(tmp_path):
    from thinking_sparks.atomic import atomic_dir

    out = tmp_path / "o"
    out.mkdir()
    (out / "a.txt").write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("new\n")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert (out / "a.txt").read_text() == "old\n"
    with atomic_dir(out) as tmp:
        (tmp / "b.txt").write_text("new\n")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
