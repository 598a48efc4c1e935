"""The "Paper and book" page: citations parsed, sections found, statuses from verdict rows."""

from pathlib import Path

import pandas as pd
import pytest

from thinking_sparks.pages import PAGES
from thinking_sparks.runs import papermap

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("paper, refs", [
    ("§4.1-4.2, Table 3, Figs 2A/14", {"Table 3", "Fig 2", "Fig 14"}),
    ("§6, Table 2 (added control)", {"Table 2"}),
    ("Figs 6–9", {"Fig 6", "Fig 7", "Fig 8", "Fig 9"}),
    ("Tables 4 and 5; Fig 5", {"Table 4", "Table 5", "Fig 5"}),
    ("§5.1", set()),
    ("§2 (R1 as teacher)", set()),
])
def test_citations_are_read_off_the_paper_column(paper, refs):
    assert papermap.cited(paper) == refs


def test_anchors_follow_sphinx_ids():
    make_id = pytest.importorskip("docutils.nodes", reason="docutils (the book extra) names Sphinx's ids").make_id
    for heading in ("Cohorts and activation frequency (Figs 2, 3, 6–9)", "Fig 5: pass@k and success@k",
                    "Does attribution find the causal heads?"):
        assert papermap.anchor(heading) == make_id(heading)
    assert papermap.anchor("Fig 5: pass@k and success@k") == "fig-5-pass-k-and-success-k"


def test_every_item_on_a_page_of_the_book_names_a_section_that_exists():
    for item in papermap.ITEMS:
        if item.page in PAGES and item.heading:
            found = [h for h in papermap.headings(REPO / "notebooks" / f"{item.page}.ipynb") if item.heading in h]
            assert found, f"{item.ref}: no heading containing {item.heading!r} in {item.page}"


def test_status_needs_every_row_for_a_clean_verdict():
    assert papermap.status([]) == "shown, no claim tested"
    assert papermap.status(["reproduced", "reproduced"]) == "reproduced"
    assert papermap.status(["reproduced", "inconclusive"]) == "partly"
    assert papermap.status(["not reproduced"]) == "not reproduced"
    assert papermap.status(["inconclusive", "inconclusive"]) == "inconclusive"
    assert papermap.status(["reproduced", "not reproduced"]) == "partly"


def test_table_reads_statuses_from_the_pages_verdicts(tmp_path):
    verdicts = {"05_interventions": pd.DataFrame({"paper": ["§4.2, Table 1", "Table 5", "Tables 4 and 5"],
                                                  "verdict": ["reproduced", "inconclusive", "not reproduced"]})}
    notebooks = {"05_interventions": REPO / "notebooks" / "05_interventions.ipynb"}
    t = papermap.table(verdicts, notebooks).set_index("ref")
    assert t.loc["Table 1", "status"] == "reproduced" and t.loc["Table 1", "rows"] == 1
    assert t.loc["Table 5", "status"] == "partly" and t.loc["Table 5", "rows"] == 2
    assert t.loc["Table 4", "status"] == "not reproduced"
    assert t.loc["Fig 4", "status"] == "shown, no claim tested" and t.loc["Fig 4", "section"].startswith("Fig 4")
    assert t.loc["Fig 2", "status"] == "not in this build"  # page 04 not executed here
    with_08 = papermap.table({}, {**notebooks, "08_generalisation": REPO / "notebooks" / "08_generalisation.ipynb"})
    assert with_08.set_index("ref").loc["Fig 12", "section"].startswith("Sparse-feature circuits")  # the SAE circuits
    assert with_08.set_index("ref").loc["Fig 18", "section"].startswith("Circuits after SFT and after GRPO")
    assert t.loc["Fig 1", "status"].startswith("not reproduced")
    assert len(t) == len(papermap.ITEMS)
    links = papermap.row_links("05_interventions", "Tables 4 and 5", notebooks["05_interventions"])
    assert links == "[Table 4, Table 5](05_interventions.ipynb#tables-4-and-5-scaling-heads-in-the-base-model)"


def test_the_page_links_sections_and_names_pages_not_built(tmp_path):
    pages = tmp_path / "book" / "pages"
    pages.mkdir(parents=True)
    (pages / "05_interventions.ipynb").write_text((REPO / "notebooks" / "05_interventions.ipynb").read_text())
    verdicts = {"05_interventions": pd.DataFrame({"paper": ["Table 1"], "verdict": ["reproduced"]})}
    text = papermap.write_page(tmp_path, verdicts).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| Table 1 |"))
    assert row.startswith("| Table 1 | Table 2 | head ablation") and row.endswith("| 1 | reproduced |")
    assert "(05_interventions.ipynb#table-1-ablation-in-the-distilled-model)" in row
    assert "| Fig 1 | Fig 1 | overview schematic (no data) | - | 0 |" in text
    assert "04_emergence (not in this build)" in text
