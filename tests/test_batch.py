"""``sparks batch``: a grid of ``01_models`` pages on tiny local models, run on a one-worker Dask
LocalCluster; failures, reruns, --retry-failed, a SIGKILLed run resumed, bad grids refused."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import REPO
from thinking_sparks.cli import app

NOTEBOOK = str(REPO / "notebooks" / "01_models.ipynb")
FIXED = {"prompts": ["what is 3 + 4 ?"], "device": "cpu"}


def write_grid(path, **spec):
    path.write_text(yaml.safe_dump({"notebook": NOTEBOOK, "fixed": FIXED, **spec}))
    return path


def sparks(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def status(out):
    with (out / "status.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in out.rglob("*.ipynb")}


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    from thinking_sparks.tiny import build_tiny

    root = tmp_path_factory.mktemp("batch-models")
    return [str(build_tiny(root / arch, arch=arch, seed=0)) for arch in ("qwen2", "llama")]


@pytest.fixture(scope="module")
def failed_grid(tmp_path_factory, two_models):
    """Three jobs, one naming a model that does not exist, run once."""
    tmp = tmp_path_factory.mktemp("batch-grid")
    bad = str(tmp / "no-such-model")
    grid = write_grid(tmp / "grid.yaml", parameters={"model": [*two_models, bad]})
    out = tmp / "out"
    result = sparks("batch", grid, "--out", out, "--workers", 1)
    return grid, out, bad, result


def test_a_failing_job_leaves_the_others_done(failed_grid, two_models):
    import nbformat

    _, out, bad, result = failed_grid
    assert result.exit_code == 1, result.output
    rows = status(out)
    assert [json.loads(r["parameters"])["model"] for r in rows] == [*two_models, bad]
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    assert bad in rows[2]["error"] and "\n" not in rows[2]["error"]
    assert "3 jobs: 2 done, 1 failed" in result.output
    for row in rows[:2]:
        nb = nbformat.read(out / row["output"], as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert outputs and not [o for o in outputs if o.output_type == "error"]
        assert any(json.loads(row["parameters"])["model"] in json.dumps(o) for o in outputs)  # the spec in the table
        assert float(row["seconds"]) > 0
    assert not (out / rows[2]["output"]).exists()
    assert (out / "failed" / rows[2]["output"]).exists()  # the partial notebook, traceback inside
    assert sorted(p.name for p in out.glob("*.ipynb")) == sorted(r["output"] for r in rows[:2])
    assert not list(out.glob(".*.tmp.ipynb"))
    index = (out / "index.md").read_text()  # the chapter page for the book: links to finished pages only
    assert f"]({rows[0]['output']})" in index and f"]({rows[1]['output']})" in index
    assert f"]({rows[2]['output']})" not in index and f"| {rows[2]['job']} | {bad} | failed |" in index


def test_rerun_skips_finished_jobs_and_retry_reruns_only_the_failed(failed_grid):
    grid, out, bad, _ = failed_grid
    before = mtimes(out)
    again = sparks("batch", grid, "--out", out, "--workers", 1)
    assert again.exit_code == 1
    assert [r["status"] for r in status(out)] == ["skipped", "skipped", "failed"]
    assert bad in status(out)[2]["error"]  # kept from the first run, not rerun
    assert mtimes(out) == before

    retry = sparks("batch", grid, "--out", out, "--workers", 1, "--retry-failed")
    assert retry.exit_code == 1
    rows = status(out)
    assert [r["status"] for r in rows] == ["skipped", "skipped", "failed"] and bad in rows[2]["error"]
    after = mtimes(out)
    assert {k: after[k] for k in (rows[0]["output"], rows[1]["output"])} == \
        {k: before[k] for k in (rows[0]["output"], rows[1]["output"])}
    assert after[rows[2]["output"]] != before[rows[2]["output"]]  # failed/<job>.ipynb written anew


def test_killed_batch_resumes_without_redoing_finished_jobs(tmp_path, two_models):
    grid = write_grid(tmp_path / "grid.yaml", jobs=[{"model": m} for m in two_models])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "thinking_sparks.cli", "--quiet", "batch", str(grid),
                             "--out", str(out), "--workers", "1"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while not ((out / "status.csv").exists() and any(r["status"] == "done" for r in status(out))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its Dask worker, mid-way through job 2
        proc.wait()
    first, second = status(out)
    assert (first["status"], second["status"]) == ("done", "pending")
    finished = (out / first["output"]).stat().st_mtime_ns
    assert not (out / second["output"]).exists()

    result = sparks("batch", grid, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in status(out)] == ["skipped", "done"]
    assert (out / first["output"]).stat().st_mtime_ns == finished
    assert (out / second["output"]).exists() and not list(out.glob(".*.tmp.ipynb"))


@pytest.mark.parametrize(("spec", "message"), [
    ({"parameters": {"modle": ["a", "b"]}}, "unknown parameters ['modle']"),
    ({"parameters": {"model": ["a"], "threads": ["two"]}}, "threads must be int, got 'two'"),
    ({"jobs": [{"model": "a"}, {"model": ""}]}, "job 2"),
    ({"parameters": {"model": "a"}}, "parameters.model must be a non-empty list"),
    ({"parameters": {"model": ["a"]}, "jobs": [{"model": "a"}]}, "not both"),
    ({"parameters": {"model": ["a", "a"]}}, "jobs 1 and 2 have the same parameters"),
    ({"parameters": {"model": ["a"]}, "resources": {"GPU": 0}}, "resources: must map names"),
    ({"parameters": {"model": ["a"]}, "notebook": "notebooks/99_none.ipynb"}, "notebook notebooks/99_none.ipynb not found"),
])
def test_bad_grid_fails_before_any_job_starts(tmp_path, spec, message):
    grid = write_grid(tmp_path / "grid.yaml", **spec)
    result = sparks("batch", grid, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.output and result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_grid_is_a_cartesian_product_with_stable_names(tmp_path):
    from thinking_sparks.batch import load_grid

    grid = load_grid(write_grid(tmp_path / "grid.yaml", parameters={"model": ["organism/tiny/sft@1", "m2"],
                                                                    "threads": [1, 2, 3]}))
    assert len(grid.jobs) == 6 and grid.section == "01_models"
    assert [j.parameters["threads"] for j in grid.jobs[:3]] == [1, 2, 3]
    assert all(j.parameters["prompts"] == FIXED["prompts"] for j in grid.jobs)
    assert grid.jobs[0].name.startswith("01_models__model=organism_tiny_sft_1__threads=1__")
    assert [j.name for j in load_grid(tmp_path / "grid.yaml").jobs] == [j.name for j in grid.jobs]
    fixed = {**FIXED, "device": "cuda"}  # a changed fixed value names new outputs
    other = load_grid(write_grid(tmp_path / "other.yaml", fixed=fixed,
                                 parameters={"model": ["organism/tiny/sft@1", "m2"], "threads": [1, 2, 3]}))
    assert not {j.name for j in other.jobs} & {j.name for j in grid.jobs}


@pytest.mark.parametrize("name", ["organism_checkpoints", "organism_tiny_checkpoints", "paper_gpu"])
def test_example_grids_are_valid(name, monkeypatch):
    from thinking_sparks.batch import load_grid

    monkeypatch.chdir(REPO)
    grid = load_grid(REPO / "examples" / "grids" / f"{name}.yaml")
    assert grid.section == "01_models" and len(grid.jobs) > 3 and grid.varying == ["model"]
    assert grid.resources == ({"GPU": 1} if name == "paper_gpu" else {})


def test_unreachable_scheduler_is_one_error_line(tmp_path, monkeypatch):
    import socket

    from thinking_sparks.batch import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "2s")
    with socket.socket() as s:  # a free port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    grid = write_grid(tmp_path / "grid.yaml", parameters={"model": ["a", "b"]})
    result = sparks("batch", grid, "--out", tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert [r["status"] for r in status(tmp_path / "out")] == ["pending", "pending"]  # nothing ran
    missing = sparks("batch", tmp_path / "nope.yaml", "--out", tmp_path / "out2")
    assert missing.exit_code == 2 and "no grid file" in missing.output


def test_scheduler_without_the_grids_resources_is_refused(tmp_path):
    from distributed import LocalCluster

    grid = write_grid(tmp_path / "grid.yaml", parameters={"model": ["a", "b"]}, resources={"GPU": 1})
    with LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as running:
        result = sparks("batch", grid, "--out", tmp_path / "out", "--scheduler", running.scheduler_address)
    assert result.exit_code == 2
    assert "no worker of the scheduler offers resources {'GPU': 1}" in result.output


def test_gpu_grid_without_gpus_is_refused(tmp_path, monkeypatch):
    from thinking_sparks.batch import cluster, load_grid

    monkeypatch.setattr(cluster, "_cuda_devices", lambda: 0)
    grid = load_grid(write_grid(tmp_path / "grid.yaml", parameters={"model": ["a"]}, resources={"GPU": 1}))
    with pytest.raises(ValueError, match="no CUDA device; pass --scheduler"), cluster.dask_client(grid, 1):
        pass


def test_local_cluster_is_sized_to_the_machine(monkeypatch):
    import psutil

    from thinking_sparks.batch.cluster import GIB_PER_JOB, local_slots

    cpus = len(os.sched_getaffinity(0))
    workers, threads = local_slots(None, n_jobs=1000)
    assert 1 <= workers <= cpus and workers * threads <= cpus
    assert local_slots(None, n_jobs=1) == (1, cpus)  # never more workers than jobs
    assert local_slots(None, n_jobs=1000, gpus=3)[0] == 3
    assert local_slots(2, n_jobs=1000) == (2, max(1, cpus // 2))
    small = type("Memory", (), {"total": int(1.5 * GIB_PER_JOB * 2**30)})()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: small)
    assert local_slots(None, n_jobs=1000) == (1, cpus)  # memory for one job slot only


def test_every_example_grid_passes_its_notebooks_params_class(monkeypatch):
    """Each grid in ``examples/grids`` goes through ``load_grid`` (every job checked by the notebook's
    params class), so a renamed or retyped page parameter breaks this test, not a user's run."""
    from thinking_sparks.batch import load_grid

    monkeypatch.chdir(REPO)
    grids = sorted((REPO / "examples" / "grids").glob("*.yaml"))
    sections = {load_grid(path).section for path in grids}
    assert {"01_models", "03_circuits", "04_emergence", "05_interventions", "06_thinking_modes"} <= sections


def test_paper_grids_carry_the_papers_settings(monkeypatch):
    from thinking_sparks.batch import load_grid
    from thinking_sparks.runs import make_params

    monkeypatch.chdir(REPO)
    seen = set()
    for name in ("paper_circuits", "paper_emergence", "paper_interventions", "paper_thinking"):
        grid = load_grid(REPO / "examples" / "grids" / f"{name}.yaml")
        assert grid.resources == {"GPU": 1}
        for job in grid.jobs:
            p = make_params(grid.section, job.parameters)
            assert (p.device, p.steps, p.top_n, p.build) == ("cuda", 100, 5000, False)  # paper §A.5
            if hasattr(p, "temperature"):
                assert (p.temperature, p.top_p, p.limit) == (0.6, 0.95, None)  # paper §A.9, every problem
            values = [v for r in p.run_values() for v in (r.values() if "runs" in job.parameters else [r])]
            seen |= {s for v in values if isinstance(v, dict) for s in (v.get("base"), v.get("model"))}
            if grid.section == "06_thinking_modes":  # Qwen3's own template switches the modes
                assert (p.switch(), p.top_k, p.n_k) == ("template", 20, 64)
    assert {"Qwen/Qwen2.5-Math-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "Qwen/Qwen3-8B",
            "meta-llama/Llama-3.2-1B-Instruct"} <= seen
