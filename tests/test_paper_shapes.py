"""Every page runs on tiny random models shaped like the paper's models (Qwen2.5-Math / R1-Distill
as Qwen2, Qwen3-8B with q/k norms, head_dim != d_model / heads and a thinking switch, Llama-3.2 with
llama3 RoPE scaling), so a user who brings the real weights meets no architecture surprise."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO
from thinking_sparks.tiny import PAPER_SHAPES, build_paper_like

#: pages that take any model (02_organism is about the organism's zoo and takes a profile)
MODEL_PAGES = ("01_models",)


@pytest.fixture(scope="module", params=sorted(PAPER_SHAPES))
def paper_like(request, tmp_path_factory):
    return request.param, build_paper_like(tmp_path_factory.mktemp(request.param), request.param, seed=0)


def test_shapes_are_the_paper_models_kind(paper_like):
    from thinking_sparks.models import load_model

    name, path = paper_like
    lm = load_model(str(path), device="cpu")
    cfg = lm.config
    assert lm.n_kv_heads < lm.n_heads  # GQA
    if name == "qwen3-8b":
        assert type(lm.hf_model).__name__ == "Qwen3ForCausalLM"
        assert lm.d_head * lm.n_heads != lm.d_model  # head_dim is its own number, as in Qwen3-8B
        assert hasattr(lm.hf_model.model.layers[0].self_attn, "q_norm")
    if name == "llama-3.2-1b":
        assert cfg.rope_parameters["rope_type"] == "llama3"
        assert cfg.tie_word_embeddings
    ids = torch.arange(2, 12).unsqueeze(0)
    with torch.no_grad():
        assert torch.allclose(lm.bridge(ids), lm.hf_model(ids).logits, atol=1e-4)


def test_thinking_switch_in_the_qwen3_shaped_template(tmp_path):
    from thinking_sparks.models import load_model

    lm = load_model(str(build_paper_like(tmp_path / "q3", "qwen3-8b")), device="cpu")
    on, default, off = (lm.chat("what is 3 + 4 ?", enable_thinking=v) for v in (True, None, False))
    assert on == default and on.endswith("<|im_start|>assistant\n")
    assert off == on + "<think>\n\n</think>\n\n"  # Qwen3's empty think block opens the reply
    other = load_model(str(build_paper_like(tmp_path / "l", "llama-3.2-1b")), device="cpu")
    assert other.chat("hi", enable_thinking=False) == other.chat("hi")  # no switch: ignored


def test_eval_with_thinking_off_differs_in_the_prompt(tmp_path):
    from thinking_sparks.evaluation.datasets import Problem
    from thinking_sparks.evaluation.harness import EvalParams, build_prompt
    from thinking_sparks.models import load_model

    lm = load_model(str(build_paper_like(tmp_path / "q3", "qwen3-8b")), device="cpu")
    p = Problem("a", "what is 3 + 4 ?", "7")
    off = build_prompt(lm, p, EvalParams(dataset="x.jsonl", enable_thinking=False))
    on = build_prompt(lm, p, EvalParams(dataset="x.jsonl", enable_thinking=True))
    assert off.endswith("</think>\n\n") and not on.endswith("</think>\n\n")


@pytest.mark.slow
@pytest.mark.parametrize("page", MODEL_PAGES)
def test_pages_run_on_paper_shaped_models(page, paper_like, tmp_path):
    import nbformat

    from thinking_sparks.runs import execute

    name, path = paper_like
    out = execute(REPO / "notebooks" / f"{page}.ipynb", tmp_path / f"{page}.ipynb",
                  {"model": str(path), "prompts": ["what is 3 + 4 ?"], "device": "cpu"})
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "sparks-chart" in html
    arch = {"qwen2.5-math-1.5b": "Qwen2ForCausalLM", "qwen3-8b": "Qwen3ForCausalLM",
            "llama-3.2-1b": "LlamaForCausalLM"}[name]
    assert arch in html
