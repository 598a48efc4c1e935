"""``sparks doctor``: passes on a healthy install, fails when cached decoding is broken."""

from __future__ import annotations

from typer.testing import CliRunner

from thinking_sparks import doctor


def test_doctor_passes_here_and_lists_versions():
    result = CliRunner().invoke(__import__("thinking_sparks.cli", fromlist=["app"]).app, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in ("transformers", "torch threads", "kv-cache", "bridge", "chart", "all checks passed"):
        assert name in result.output


def test_doctor_catches_a_cache_that_does_not_grow(monkeypatch):
    """The transformers-5.24 failure mode: every decode step attends to the newest token only."""
    from transformers import DynamicCache

    def forgetful_update(self, key_states, value_states, layer_idx, *args, **kwargs):
        return key_states, value_states

    monkeypatch.setattr(DynamicCache, "update", forgetful_update)
    checks = {c.name: c for c in doctor.run_checks()}
    assert not checks["kv-cache"].ok
    assert "cache-free" in checks["kv-cache"].detail
    assert checks["chart"].ok


def test_locked_versions_parse(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\ntorch==2.13.0\n    # via x\nTransformer_Lens==4.3.0\nfoo @ file:///x\n")
    assert doctor.locked_versions(lock) == {"torch": "2.13.0", "transformer-lens": "4.3.0"}


def test_doctor_names_the_installed_torch_build():
    import torch

    info = doctor.torch_build()
    assert info["torch build"].startswith(torch.__version__)
    if torch.version.cuda is None:
        assert "CPU build" in info["torch build"] and info["lock"].startswith("requirements.lock (CPU")
    pins = {"nvidia-cublas": "13.1.1.3", "triton": "3.7.1"}
    assert doctor.which_lock(None, {}, pins) == "requirements.lock (CPU; no nvidia-* packages)"
    assert doctor.which_lock("13.0", {"nvidia-cublas": "13.1.1.3", "triton": "3.7.1"}, pins) == \
        "requirements-gpu.lock (2 CUDA pins match)"
    assert doctor.which_lock("13.0", {"nvidia-cublas": "13.0.0.1", "triton": "3.7.1"}, pins) == \
        "neither: 1 differ from requirements-gpu.lock: nvidia-cublas 13.0.0.1 (lock 13.1.1.3)"
    assert doctor.which_lock(None, {"nvidia-nccl-cu13": "2.29.7"}, pins).startswith("neither: a CPU build")


def test_gpu_lock_pins_the_cuda_packages_of_torch():
    from tests.conftest import REPO

    gpu = doctor.locked_versions(REPO / doctor.GPU_LOCK_FILE)
    assert gpu["nvidia-cudnn-cu13"] == "9.20.0.48" and gpu["nvidia-nccl-cu13"] == "2.29.7"
    assert gpu["cuda-toolkit"] == "13.0.3.0" and gpu["triton"] == "3.7.1"
    assert not set(gpu) & set(doctor.locked_versions(REPO / doctor.LOCK_FILE))  # only what the CPU lock lacks
