"""Page 01 (``pages.models``): the same numbers as the notebook computed before the move, a
round trip through the results cache, and a warm rerun that loads no model."""

from __future__ import annotations

import dataclasses

import pytest

from tests.page_expect import assert_same_frame, frame_before, tiny_params
from thinking_sparks.pages import models as page
from thinking_sparks.verdicts import COLUMNS


def _params(tiny_model_dir) -> page.Params:
    values = tiny_params(model=str(tiny_model_dir))
    names = {f.name for f in dataclasses.fields(page.Params)}
    return page.Params(**{k: v for k, v in values.items() if k in names})


def test_models_page_matches_before_and_rereads_its_cache(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKS_CACHE", str(tmp_path))
    params = _params(tiny_model_dir)
    assert params.prompts == ["what is 3 + 4 ?"]
    result = page.run(params)
    assert_same_frame(result.norms, "01_models", "norms")
    assert_same_frame(result.top, "01_models", "top")
    # the architecture as shown (one row per property); the spec row names the model dir of each session,
    # and the fingerprint hashes the tokenizer files, which gained what stock transformers needs (hfcompat)
    shown = result.architecture_table()
    want = frame_before("01_models", "arch").set_index("index")[""]
    assert list(shown.index) == list(want.index)
    volatile = ["spec", "weights fingerprint"]
    assert ({k: str(v) for k, v in shown[""].drop(volatile).items()}
            == {k: str(v) for k, v in want.drop(volatile).items()})
    assert shown.loc["spec", ""] == str(tiny_model_dir)
    assert result.architecture["layers"][0] == 2 and result.architecture["query heads per KV head"][0] == 2
    assert result.loudest_layer == 1 and result.top["name"][0] == "L1H3"
    assert result.strongest_vs_median == pytest.approx(0.081099 / result.norms.write_norm.median(), abs=1e-5)
    v = page.verdicts(result)
    assert list(v.columns) == list(COLUMNS) and v.empty  # the page tests no claim of the paper

    def no_model(*args, **kwargs):
        raise AssertionError("a warm rerun must not load a model")

    monkeypatch.setattr(page, "load_model", no_model)
    again = page.run(params)
    assert type(again) is page.Result and again.loudest_layer == result.loudest_layer
    assert again.norms.equals(result.norms) and again.top.equals(result.top)
    assert again.architecture.equals(result.architecture)
    other = dataclasses.replace(params, prompts=["what is 2 * 3 ?"])
    with pytest.raises(AssertionError, match="must not load a model"):
        page.run(other)  # other prompts, other key
