"""Verdict tables: computed verdicts, one schema, sentences that never overclaim, the book's collection."""

from __future__ import annotations

import math

import nbformat
import pytest

from thinking_sparks.verdicts import COLUMNS, MIME, Verdict, collect, combine, decide, summary, verdict_table

nan = math.nan


@pytest.mark.parametrize(
    ("value", "lo", "hi", "above", "below", "expected"),
    [
        (0.1, 0.05, 0.2, 0.0, None, "reproduced"),
        (0.1, -0.05, 0.2, 0.0, None, "inconclusive"),  # straddles
        (-0.2, -0.3, -0.1, 0.0, None, "not reproduced"),
        (-0.1, -0.3, 0.0, 0.0, None, "not reproduced"),  # touching from below is not above
        (0.1, 0.0, 0.3, 0.0, None, "inconclusive"),
        (0.3, 0.2, 0.4, None, 0.5, "reproduced"),
        (0.5, 0.4, 0.6, None, 0.5, "inconclusive"),
        (0.55, 0.5, 0.6, None, 0.5, "not reproduced"),
        (0.6, 0.55, 0.7, 0.5, 5 / 6, "reproduced"),  # an interval criterion
        (0.9, 0.85, 0.95, 0.5, 5 / 6, "not reproduced"),
        (0.6, 0.4, 0.9, 0.5, 5 / 6, "inconclusive"),
        (0.6, 0.3, 0.95, 0.5, 5 / 6, "inconclusive"),  # an interval wider than the criterion's
        (1.0, nan, nan, 0.0, None, "inconclusive"),  # no CI, no point_decides
        (0.2, 0.1, 0.3, nan, None, "inconclusive"),  # a bound that could not be measured
    ],
)
def test_decide(value, lo, hi, above, below, expected):
    assert decide(value, lo, hi, above, below) == expected


def test_point_decides_without_an_interval():
    assert decide(3, nan, nan, above=0, point_decides=True) == "reproduced"
    assert decide(-1, nan, nan, below=0, point_decides=True) == "reproduced"
    assert decide(0, nan, nan, below=0, point_decides=True) == "not reproduced"  # strict
    assert decide(nan, nan, nan, above=0, point_decides=True) == "inconclusive"
    assert decide(5, 2, 6, above=3, point_decides=True) == "inconclusive"  # an interval still rules
    assert decide(1, nan, nan, above=nan, point_decides=True) == "inconclusive"
    v = Verdict("c", "§6", "heads", 2, nan, nan, above=0.0, point_decides=True)
    assert (v.verdict, v.criterion) == ("reproduced", "value above 0")


def test_partly_only_from_combine():
    # a single row is never "partly": an interval below the criterion is "not reproduced", whatever it clears
    for lo, hi in ((5, 9), (1, 3), (9.5, 10)):
        assert Verdict("heads emerge", "Table 3", "emergent", (lo + hi) / 2, lo, hi, above=10).verdict == "not reproduced"
    with pytest.raises(TypeError):
        Verdict("c", "§", "s", 7, 5, 9, above=10, partly_above=4)  # the two-part option is gone
    assert combine(["reproduced", "not reproduced"]) == "partly"


def test_bad_input_raises():
    with pytest.raises(ValueError, match="bound"):
        decide(0.5, 0, 1)
    with pytest.raises(ValueError, match="ci_low"):
        Verdict("c", "§1", "s", 0.5, 0.6, 0.4)


def test_table_schema_and_default_criterion():
    rows = [Verdict("SFT raises accuracy", "§5.1", "pass@1 sft - base", 0.1234567, 0.02, 0.18),
            Verdict("heads emerge", "Table 3", "emergent heads vs noise floor", 12, 3, 20, above=5,
                    criterion="CI above the noise floor (5)"),
            Verdict("fewer", "§4.2", "d", -1, -2, -0.5, below=0),
            Verdict("two-thirds", "§7", "share", 0.6, 0.55, 0.7, above=0.5, below=0.8)]
    t = verdict_table(rows)
    assert list(t.columns) == list(COLUMNS)
    assert t.verdict.tolist() == ["reproduced", "inconclusive", "reproduced", "reproduced"]
    assert t.criterion.tolist() == ["CI above 0", "CI above the noise floor (5)", "CI below 0", "CI within (0.5, 0.8)"]
    assert t.value.iloc[0] == 0.123 and verdict_table(rows, digits=None).value.iloc[0] == 0.1234567
    assert verdict_table([]).columns.tolist() == list(COLUMNS)


def test_combine_and_summary():
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "not reproduced"]) == "partly"
    assert combine(["not reproduced", "not reproduced"]) == "not reproduced"
    assert combine(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine([]) == "inconclusive"
    ok = verdict_table([Verdict("a", "p", "s", 1, 0.5, 1.5)])
    mixed = verdict_table([Verdict("a", "p", "s", 1, 0.5, 1.5), Verdict("b", "p", "s", 0.1, -0.2, 0.4)])
    assert summary(ok).startswith("All 1 checks hold")
    assert "All" not in summary(mixed) and "1 reproduced" in summary(mixed) and "1 inconclusive" in summary(mixed)
    assert "hold" not in summary(verdict_table([]))


def executed(path, *tables):
    """A hand-made executed notebook: a chart-like output, then each table as :func:`show` emits it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append(data)
    try:
        from thinking_sparks.verdicts import show

        for t in tables:
            show(t)
    finally:
        InteractiveShell.clear_instance()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("chart", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": "<div>chart</div>"})])]
    nb.cells += [nbformat.v4.new_code_cell("show(table)", outputs=[nbformat.v4.new_output("display_data", data=d)])
                 for d in published]
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


def test_show_marks_the_table_and_collect_reads_it_back(tmp_path):
    t = verdict_table([Verdict("a", "§1", "s", 1.0, 0.5, 1.5), Verdict("b", "§2", "n", 2, nan, nan)])
    got = collect(executed(tmp_path / "page.ipynb", t))
    assert got.columns.tolist() == list(COLUMNS)
    assert got.verdict.tolist() == ["reproduced", "inconclusive"] and got.claim.tolist() == ["a", "b"]
    assert math.isnan(got.ci_low.iloc[1])  # NaN survives the JSON copy (as null)
    two = collect(executed(tmp_path / "two.ipynb", t, t.iloc[:1]))
    assert len(two) == 3
    assert collect(executed(tmp_path / "none.ipynb")) is None
    with pytest.raises(ValueError, match="verdict"):
        from thinking_sparks.verdicts import show

        show(t.drop(columns="verdict"))
    nb = nbformat.read(str(tmp_path / "page.ipynb"), as_version=4)
    assert MIME in nb.cells[1].outputs[0].data and "<table" in nb.cells[1].outputs[0].data["text/html"]


def test_the_book_collects_every_pages_table(tmp_path):
    from thinking_sparks.pages import title
    from thinking_sparks.runs import VERDICTS_PAGE, write_verdicts_page

    pages = tmp_path / "book" / "pages"
    pages.mkdir(parents=True)
    organism = verdict_table([Verdict("SFT raises | accuracy", "§2", "pass@1", 0.2, 0.1, 0.3),
                              Verdict("hybrid thinks", "§6", "pass@1", -0.1, -0.2, 0.05)])
    emergence = verdict_table([Verdict("heads emerge", "Table 3", "emergent", 7, 5, 9, above=10),
                               Verdict("fewer heads", "§4.2", "d", -2, nan, nan, below=0, point_decides=True)])
    executed(pages / "02_organism.ipynb", organism)
    executed(pages / "04_emergence.ipynb", emergence)
    executed(pages / "03_circuits.ipynb")  # a page without a verdict table
    out = write_verdicts_page(tmp_path)
    assert out == tmp_path / VERDICTS_PAGE and not list(pages.glob(".*tmp"))
    text = out.read_text()
    assert text.startswith("# Verdicts")
    first, second = title("02_organism"), title("04_emergence")
    assert f"## {first}" in text and f"## {second}" in text and text.index(first) < text.index(second)
    assert "## " + title("03_circuits") not in text and "[03_circuits](03_circuits.ipynb)" in text
    assert "SFT raises \\| accuracy" in text  # a pipe in a cell does not break the table
    assert "| [02_organism](02_organism.ipynb) | 1 | 0 | 0 | 1 | 2 |" in text  # reproduced, partly, not, inconclusive
    assert "| [04_emergence](04_emergence.ipynb) | 1 | 0 | 1 | 0 | 2 |" in text
    assert "| **all pages** | **2** | **0** | **1** | **1** | **4** |" in text
    row = next(line for line in text.splitlines() if line.startswith("| fewer heads"))
    assert row == "| fewer heads | §4.2 | d | -2 | value below 0 | reproduced | - |"  # no interval: the value alone


def test_a_page_with_an_empty_table_says_so(tmp_path):
    from thinking_sparks.runs import write_verdicts_page

    pages = tmp_path / "book" / "pages"
    pages.mkdir(parents=True)
    executed(pages / "06_thinking_modes.ipynb", verdict_table([]))
    text = write_verdicts_page(tmp_path).read_text()
    assert "No claim could be checked on this run." in text and "| claim |" not in text
    assert "| **all pages** | **0** | **0** | **0** | **0** | **0** |" in text


def test_the_verdicts_page_shows_the_plan_and_the_n_to_decide(tmp_path):
    from thinking_sparks import plan
    from thinking_sparks.power import with_n_to_decide
    from thinking_sparks.runs import write_verdicts_page

    pages = tmp_path / "book" / "pages"
    pages.mkdir(parents=True)
    table = verdict_table([Verdict("SFT raises accuracy", "§2", "hard pass@1", 0.01, -0.01, 0.03),
                           Verdict("distillation raises accuracy", "§2", "hard pass@1", 0.05, 0.01, 0.09)])
    executed(pages / "02_organism.ipynb", with_n_to_decide(table, 100))
    text = write_verdicts_page(tmp_path).read_text()
    assert "| claim | paper | statistic | value [95% CI] | criterion | verdict | n to decide | figure |" in text
    rows = [line for line in text.splitlines() if line.startswith(("| SFT raises", "| distillation raises"))]
    assert rows[0].endswith("| inconclusive | 400 | - |") and rows[1].endswith("| reproduced | – | - |")
    assert "| 0.05 [0.01, 0.09] |" in rows[1]  # value and interval in one cell, as a paper prints them
    assert "## Analysis plan" in text and text.index("## Analysis plan") > text.index("| SFT raises")
    for entry, value, reason in plan.table().itertuples(index=False):
        shown = f"{value:.3g}" if isinstance(value, float) else value  # floats at 3 significant digits
        assert f"| {entry} | {shown} |" in text and reason.split(";")[0][:40].replace("|", "\\|") in text
    changed = plan.last_change()
    assert changed and f"Plan last changed by commit {changed}." in text
