"""The head explorer: one altair view whose layer x head grid drives every other panel.

A click on a cell of the grid selects a head (the point selection :data:`SELECTION`, on the field
``head``); every detail panel reads its rows from a long-form table with a ``head`` column, filtered
by that selection (``transform_filter``), so the whole view is one vega-lite spec that works offline
(:func:`thinking_sparks.plots.use_offline_renderer`):

* the importance and inclusion probability of the head at every checkpoint of every run (lines; the
  base circuit's value dashed) and its class in each run's final circuit beside the run's count of
  emergent heads and its noise floor;
* its single-head ablation effect on pass@1 among every head's (the selected one highlighted);
* its attention pattern on a few circuit questions, base beside post-trained (tokens on both axes,
  answer tokens marked ``▸``; a dropdown picks the question);
* its strongest edges into and out of the circuit.

Every panel is sized to fit a 700-pixel content column.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

#: the name of the grid's click selection in the spec (tests look it up)
SELECTION = "head_pick"
#: the name of the attention panel's question dropdown
QUESTION = "question_pick"
CLASSES = ["emergent", "retained", "base-only", "inactive"]
CLASS_COLOURS = ["#d62728", "#9467bd", "#1f77b4", "#e0e0e0"]
CELL = 10_000  # a packed attention cell is query * CELL + key
WIDTH = 600  # the content column (about 700 px) less the axes' margins; legends go below the views


def _grid(grid: pd.DataFrame, pick: alt.Parameter, title: str) -> alt.Chart:
    n_layers, n_heads = int(grid["layer"].max()) + 1, int(grid["index"].max()) + 1
    cell = max(12, min(26, 260 // n_heads))
    return (alt.Chart(grid, title=title).mark_rect(stroke="black")
            .encode(x=alt.X("index:O", title="head"), y=alt.Y("layer:O", title="layer"),
                    color=alt.Color("class:N", scale=alt.Scale(domain=CLASSES, range=CLASS_COLOURS), title="class"),
                    strokeWidth=alt.condition(pick, alt.value(3), alt.value(0)),
                    tooltip=["head:N", "class:N", alt.Tooltip("importance:Q", format=".3g"),
                             alt.Tooltip("inclusion:Q", format=".2f"), alt.Tooltip("effect:Q", format=".3f",
                                                                                   title="ablation effect")])
            .add_params(pick).properties(width=cell * n_heads, height=cell * n_layers))


def _ablation(effects: pd.DataFrame, pick: alt.Parameter, width: int) -> alt.Chart:
    base = alt.Chart(effects, title="pass@1 drop when the head alone is zeroed (95% paired CI)").encode(
        x=alt.X("head:N", sort=list(effects["head"]), title=None, axis=alt.Axis(labels=len(effects) <= 16)))
    bars = base.mark_bar().encode(
        y=alt.Y("effect:Q", title="drop in pass@1"),
        color=alt.condition(pick, alt.value("#d62728"), alt.value("#9e9e9e")),
        tooltip=["head:N", alt.Tooltip("effect:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                 alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("pass@1:Q", format=".3f"), "n_problems:Q"])
    rules = base.mark_rule().encode(y="ci_low:Q", y2="ci_high:Q")
    return (bars + rules).properties(width=width, height=120)


def _pack_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (head, run, measure, circuit), its steps and values as arrays (flattened in the spec)."""
    return (lines.groupby(["head", "run", "measure", "circuit"], sort=False)
            .agg(steps=("step", list), values=("value", lambda v: [float(f"{x:.3g}") for x in v])).reset_index())


def _lines(packed: pd.DataFrame, pick: alt.Parameter, measure: str, width: int) -> alt.Chart:
    return (alt.Chart(packed, title=f"{measure} at every checkpoint (base dashed)").mark_line(point=True)
            .transform_filter(pick).transform_filter(alt.datum.measure == measure)
            .transform_flatten(["steps", "values"], as_=["step", "value"])
            .encode(x=alt.X("step:O", title="checkpoint step", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("value:Q", title=measure),
                    color=alt.Color("run:N", title="run"),
                    strokeDash=alt.StrokeDash("circuit:N", title="circuit",
                                              scale=alt.Scale(domain=["checkpoint", "base"], range=[[1, 0], [4, 3]])),
                    detail="circuit:N",
                    tooltip=["run:N", "circuit:N", "step:O", alt.Tooltip("value:Q", format=".3g")])
            .properties(width=width, height=150))


def _classes(classes: pd.DataFrame, pick: alt.Parameter, width: int) -> alt.Chart:
    cols = ["class", "emergent heads [95% CI]", "noise floor (q95)"]
    long = classes.melt(id_vars=["head", "run"], value_vars=cols, var_name="column", value_name="text")
    return (alt.Chart(long, title="class in each run's final circuit; the run's emergent count against its null")
            .mark_text(align="left").encode(x=alt.X("column:N", sort=cols, title=None, axis=alt.Axis(orient="top",
                                                                                                     labelAngle=0)),
                                             y=alt.Y("run:N", title=None), text="text:N")
            .transform_filter(pick).properties(width=width - 80, height=18 * classes["run"].nunique()))


def _tokens(attention: pd.DataFrame) -> pd.DataFrame:
    """``at, label``: one row per (model, sequence, position): ``"07 ▸'+'"`` (▸: an answer token)."""
    q = attention[["model", "sequence", "query", "query_token", "query_answer"]].set_axis(
        ["model", "sequence", "pos", "token", "answer"], axis=1)
    k = attention[["model", "sequence", "key", "key_token", "key_answer"]].set_axis(q.columns, axis=1)
    t = pd.concat([q, k]).drop_duplicates(["model", "sequence", "pos"])
    return pd.DataFrame({"at": t["model"] + "|" + t["sequence"].astype(str) + "|" + t["pos"].astype(str),
                         "label": [f"{p:02d} {'▸' if a else ''}{w!r}"[:24] for p, a, w in
                                   zip(t["pos"], t["answer"], t["token"], strict=True)]})


def _attention(attention: pd.DataFrame, ask: alt.Parameter, pick: alt.Parameter, width: int) -> alt.Chart:
    """Stored compactly (one row per model, question and head; its cells as two arrays, ``query *
    CELL + key`` and the weight in thousandths, flattened once the selection has kept the head's rows;
    token labels looked up), so that every head's pattern fits in the page."""
    if len(attention) and int(attention[["query", "key"]].to_numpy().max()) >= CELL:
        raise ValueError(f"sequences of {CELL} tokens or more do not fit the packed attention cells")
    packed = (attention.assign(cell=attention["query"] * CELL + attention["key"]).groupby(["model", "sequence", "head"], sort=False)
              .agg(cs=("cell", list), ws=("weight", lambda w: [round(1000 * float(x)) for x in w]))
              .reset_index())
    labels = alt.LookupData(_tokens(attention), key="at", fields=["label"])
    at = "datum.model + '|' + datum.sequence + '|' + "
    panel = (alt.Chart(packed, name="attention").mark_rect()
             .transform_filter(pick).transform_filter(alt.datum.sequence == ask)
             .transform_flatten(["cs", "ws"], as_=["cell", "w"])
             .transform_calculate(weight="datum.w / 1000", query=f"floor(datum.cell / {CELL})",
                                  key=f"datum.cell % {CELL}")
             .transform_calculate(q_at=at + "datum.query", k_at=at + "datum.key")
             .transform_lookup(lookup="q_at", from_=labels, as_=["q"])
             .transform_lookup(lookup="k_at", from_=labels, as_=["k"])
             .encode(x=alt.X("k:O", title="key token (▸ answer)", axis=alt.Axis(labelFontSize=7, labelLimit=60)),
                     y=alt.Y("q:O", title="query token (▸ answer)", axis=alt.Axis(labelFontSize=7, labelLimit=60)),
                     color=alt.Color("weight:Q", scale=alt.Scale(scheme="greys", domain=[0, 1]), title="weight"),
                     tooltip=["model:N", alt.Tooltip("q:N", title="query"), alt.Tooltip("k:N", title="key"),
                              alt.Tooltip("weight:Q", format=".3f")])
             .properties(width=width // 2 - 90, height=width // 2 - 90))
    return (panel.facet(column=alt.Column("model:N", title=None, sort=["base", "post-trained"]),
                        title="attention pattern (weights below the page's min_weight left blank)")
            .resolve_scale(x="independent", y="independent"))


def _edges(edges: pd.DataFrame, pick: alt.Parameter, width: int) -> alt.Chart:
    return (alt.Chart(edges, title="strongest edges into and out of the head in the circuit")
            .mark_bar().encode(y=alt.Y("edge:N", sort="-x", title=None), x=alt.X("score:Q", title="edge score"),
                               color=alt.Color("direction:N", scale=alt.Scale(domain=["in", "out"])),
                               tooltip=["edge:N", "direction:N", alt.Tooltip("score:Q", format=".3g")])
            .transform_filter(pick).properties(width=width - 160, height=alt.Step(14)))


def head_explorer(grid: pd.DataFrame, lines: pd.DataFrame, classes: pd.DataFrame, effects: pd.DataFrame,
                  attention: pd.DataFrame, questions: list[str], edges: pd.DataFrame, head: str,
                  title: str) -> alt.VConcatChart:
    """The whole explorer (see the module docstring), ``head`` selected first.

    Args:
        grid: one row per head: ``head, layer, index, class, importance, inclusion, effect``.
        lines: ``run, step, head, measure (importance|inclusion), circuit (checkpoint|base), value``.
        classes: ``head, run, class, emergent heads [95% CI], noise floor (q95)`` (text cells).
        effects: ``head, effect, ci_low, ci_high, pass@1, n_problems`` (every head, in grid order).
        attention: :data:`~thinking_sparks.heads.attention.ATTENTION_COLUMNS` plus ``model``
            (``base`` / ``post-trained``); ``sequence`` indexes ``questions``.
        edges: ``head, edge, direction (in|out), score``.
    """
    if head not in set(grid["head"]):
        raise ValueError(f"head {head!r} is not in the grid")
    pick = alt.selection_point(name=SELECTION, fields=["head"], on="click", value=[{"head": head}],
                               empty=False, clear=False)
    top = alt.hconcat(_grid(grid, pick, "click a head"), _ablation(effects, pick, WIDTH - 300))
    half = WIDTH // 2 - 40
    ask = alt.param(name=QUESTION, value=0, bind=alt.binding_select(options=list(range(len(questions))),
                                                                     labels=questions, name="question "))
    packed = _pack_lines(lines)
    return alt.vconcat(top, alt.hconcat(_lines(packed, pick, "importance", half), _lines(packed, pick, "inclusion", half)),
                       _classes(classes, pick, WIDTH), _attention(attention, ask, pick, WIDTH),
                       _edges(edges, pick, WIDTH), title=title).resolve_scale(color="independent").add_params(ask).configure_legend(orient="bottom")


__all__ = ["CLASSES", "QUESTION", "SELECTION", "head_explorer"]
