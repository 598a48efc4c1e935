"""Page ``07_real_model`` computes the numbers it computed before the ``pages`` module (tiny profile:
the tiny Qwen2 dir post-trained for two steps), its Result round-trips through the results cache, and
a warm run reads both cached parts and loads no model."""

from __future__ import annotations

import dataclasses
import math
import sys

import pytest

from tests.page_expect import assert_same_frame, before, tiny_params

STEM = "07_real_model"


@pytest.fixture(scope="module")
def page(tmp_path_factory, tiny_model_dir):
    """``(params, result, cache dir)``: the page run once on the stored tiny parameters, its own cache.
    The model dir is called ``tiny-dir`` as when the stored results were computed (Table 3 names the
    base row after it)."""
    import shutil

    from thinking_sparks.pages.real_model import Params, run

    model = shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("real-model") / "tiny-dir")
    names = {f.name for f in dataclasses.fields(Params)}
    params = Params(**{k: v for k, v in tiny_params(model=str(model)).items() if k in names})
    cache = tmp_path_factory.mktemp("real-page-results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARKS_CACHE", str(cache))
        yield params, run(params), cache


@pytest.mark.parametrize("field, name", [
    ("accuracy.table", "acc.table"), ("accuracy.samples.before", "acc.samples[before]"),
    ("accuracy.samples.after", "acc.samples[after]"),
    ("trace.summary", "summary"), ("trace.summary", "tr.summary"), ("trace.bands", "tr.bands"),
    ("trace.counts", "tr.counts"), ("trace.frequency", "tr.frequency"), ("trace.heads", "tr.heads"),
    ("table3", "table"), ("ablations.table", "rows"),
    ("ablations.think.table", "styles[think].table"), ("ablations.think.samples", "styles[think].samples"),
    ("ablations.direct.table", "styles[direct].table"), ("ablations.direct.samples", "styles[direct].samples"),
    ("ablations.curves.table", "styles[curves].table"), ("ablations.curves.table", "curves"),
    ("ablations.curves.samples", "styles[curves].samples"),
])
def test_tables_are_unchanged(page, field, name):
    obj = page[1]
    for part in field.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    # Table 3's counts and floors are the analysis plan's head-set rule now (emergence.headstats)
    columns = ["method", "circuit_heads", "faithfulness"] if name == "table" else None
    assert_same_frame(obj, STEM, name, columns=columns)


#: the verdicts after issue 21's rules (the stored ones: before). On the tiny model every accuracy difference is 0
#: on every problem: no interval, so undecided (before: "not reproduced" on [0, 0]). "No think-only heads": the
#: count's interval [0, 1] lies below the same-style null's 95% quantile (2.0, on a second question sample) (before: "below 0.5", which only a
#: zero-width [0, 0] could meet). Zeroing the direct-only heads follows Table 2: it should *raise* direct accuracy
#: (before: "hurts more than random heads"), against the unmodified model and against random sets.
VERDICTS = [
    ("Post-training on worked solutions raises accuracy", 0.0, "inconclusive"),
    ("SFT adds many emergent heads", 0.0, "not reproduced"),
    ("SFT heads persist to the end of training", None, "inconclusive"),
    ("SFT's emergent heads sit in mid-late layers", None, "inconclusive"),
    ("Think-off (direct) circuits recruit more heads than think-on (step-by-step) ones", 2.0, "inconclusive"),
    ("Think-on heads are (almost) all in the think-off circuit: no think-only heads", 0.0, "reproduced"),
    ("Zeroing the heads only the think-off (direct) circuit recruits raises direct-style accuracy", 0.0, "inconclusive"),
    ("Zeroing the direct-only heads raises direct-style accuracy more than zeroing as many random heads", 0.0,
     "inconclusive"),
    ("Scaling the think-off-only heads down (x0.5) lowers think-off accuracy", 0.0, "inconclusive"),
    ("Ablating think-off-only heads raises success@1 in think-off mode", 0.0, "inconclusive"),
    ("... but lowers pass@8", 0.0, "inconclusive"),
]


def test_numbers_and_verdicts_are_unchanged(page):
    from thinking_sparks.pages.real_model import verdicts

    _, result, _ = page
    values = before(STEM)["values"]
    ov = result.styles.overlap
    # the same-style null's 95% quantile: the step-by-step circuit on sample 0 against sample 1, an independent
    # question sample of the same size (before: 2.5, from half-splits of sample 0)
    assert ov["on_only_null"] == 2.0
    for key in ("jaccard", "jaccard_low", "jaccard_high", "n_on", "n_off", "on_only", "on_only_low", "on_only_high",
                "off_only", "off_only_low", "off_only_high", "diff_low", "diff_high"):
        assert ov[key] == pytest.approx(values[f"ov[{key}]"], abs=1e-9), key
    assert result.styles.n_off_only == values["th[n_off_only]"]
    base = result.trace.base
    assert (base.n_layers, base.n_heads, base.n_pairs, base.n_edges) == (2, 4, 8, 19)
    assert math.isclose(base.faithfulness, values["tr.base.faithfulness"], rel_tol=1e-9)
    assert result.trained.cfg.max_steps == values["trained.cfg.max_steps"] and result.trained.steps == [1, 2]
    got = verdicts(result)
    premise = got.claim.str.startswith("EAP-IG approximates")  # rows added after the stored tables (issue 22)
    rest = got[~premise]
    assert [(r.claim, None if math.isnan(r.value) else round(r.value, 6), r.verdict) for r in rest.itertuples()] == VERDICTS
    assert list(rest.paper.iloc[6:9]) == ["§6, Table 2 (think off 30.0 -> 36.6 AIME'24)", "§6, Table 2 (added control)",
                                          "§6, Fig 5 (scale-down underperforms throughout), Table 2"]
    assert premise.sum() == 4 and got[premise].statistic.str.endswith(("think circuit", "direct circuit")).all()
    assert got[premise].value.tolist()[::2] == pytest.approx([round(19 / 21, 3), round(20 / 21, 3)])


def test_result_round_trips(page, tmp_path):
    import numpy as np
    import pandas as pd

    from thinking_sparks.cache import load_result, save_result
    from thinking_sparks.pages.real_model import closing_note, verdicts

    _, result, _ = page
    save_result(result, tmp_path / "r")
    back = load_result(tmp_path / "r")
    pd.testing.assert_frame_equal(verdicts(back), verdicts(result))
    pd.testing.assert_frame_equal(back.trace.heads, result.trace.heads)
    assert np.array_equal(back.trace.results[-1].score, result.trace.results[-1].score)
    assert back.styles == result.styles and closing_note(back) == closing_note(result)
    assert back.trained.specs == result.trained.specs and back.trained.final == result.trained.final


def test_warm_run_loads_no_model(page, monkeypatch):
    """The second run finds the trained run and reads both parts: no model is loaded, nothing computed."""
    from thinking_sparks import models
    from thinking_sparks.pages import real_model
    from thinking_sparks.realmodel import runs

    params, result, cache = page
    monkeypatch.setenv("SPARKS_CACHE", str(cache))

    def boom(*a, **k):
        raise AssertionError("a warm run loaded a model or recomputed a part")

    for mod in [m for n, m in sys.modules.items() if n.startswith("thinking_sparks") and m is not None]:
        for name in ("load_model", "load_hf"):
            if getattr(mod, name, None) is getattr(models, name):
                monkeypatch.setattr(mod, name, boom)
    monkeypatch.setattr(runs, "train", boom)
    again = real_model.run(params)
    assert again.trained.cached and again.trained.specs == result.trained.specs
    assert again.style_seconds == result.style_seconds and again.sweep_seconds == result.sweep_seconds
    assert real_model.verdicts(again).equals(real_model.verdicts(result))


def test_style_circuits_against_exact_patching(page):
    """Both style circuits' head attributions against patching every head of the 2 x 4 model, both
    directions (``realmodel.agreement``; the page shows the denoise rows)."""
    from thinking_sparks.realmodel.agreement import style_agreement

    params, result, _ = page
    _, settings, style = params.circuit_settings()
    agreement = style_agreement(params.model, style, settings, directions=("denoise", "noise"))
    t = agreement.table
    assert t.circuit.tolist() == ["think", "think", "direct", "direct"]
    assert t.direction.tolist() == ["denoise", "noise", "denoise", "noise"]
    # the tiny model shows the finding: denoising patches agree with EAP-IG, noising ones much less
    assert t.spearman.tolist() == pytest.approx([19 / 21, 5 / 21, 20 / 21, 0.5], abs=1e-9)
    assert t.recall.tolist() == pytest.approx([0.8, 1.0, 6 / 7, 1.0], abs=1e-9)
    assert t.k.tolist() == [5, 5, 7, 7] and t.k_tenth.tolist() == [1, 1, 1, 1]
    for name in ("think", "direct"):
        c = getattr(agreement, name)
        assert c.n_heads == 8 and c.heads["head"].tolist() == [f"L{l}H{h}" for l in range(2) for h in range(4)]
        assert c.heads.in_circuit.sum() == len(getattr(result.styles, "on" if name == "think" else "off"))
        assert c.heads.denoise.sum() == pytest.approx(c.row("denoise")["effect_sum"], rel=1e-6)
        row = c.row("denoise")  # read from the circuit's own patching: no new forward, its seconds
        assert row["spearman_low"] <= row["spearman_high"] and row["patch_s"] > 0
        assert row["recall_low"] <= row["recall_high"]
    # the page shows the denoise rows only
    assert result.agreement.table.direction.tolist() == ["denoise", "denoise"]
    assert result.agreement.table.spearman.tolist() == pytest.approx([19 / 21, 20 / 21], abs=1e-9)
