"""Altair charts that stay interactive offline.

:func:`use_offline_renderer` makes every altair chart in a notebook output a ``text/html`` bundle
that calls ``vegaEmbed`` from the *page's own* scripts (the book vendors vega, vega-lite and
vega-embed into its static files: no CDN, no 0.9 MB inlined per chart) and carries a PNG of the
chart rendered by ``vl-convert`` as a fallback, shown wherever those scripts are absent (JupyterLab,
GitHub, static exports).
"""

from __future__ import annotations

import base64
import html
import json
import uuid

import altair as alt
import pandas as pd

RENDERER = "sparks-offline"

_TEMPLATE = """<div class="sparks-chart" id="{id}"><img alt="{alt}" src="data:image/png;base64,{png}" style="max-width:100%"/></div>
<script type="text/javascript">
(function() {{
  var spec = {spec};
  function draw() {{
    var el = document.getElementById("{id}");
    if (!el) {{ return; }}
    if (typeof window.vegaEmbed !== "function") {{ return; }}  /* keep the PNG */
    window.vegaEmbed(el, spec, {{actions: {{export: true, source: false, compiled: false, editor: false}}}})
      .catch(function(err) {{ console.error("vega-embed failed:", err); }});
  }}
  if (document.readyState === "loading") {{ document.addEventListener("DOMContentLoaded", draw); }} else {{ draw(); }}
}})();
</script>"""


def _png_b64(spec: dict, scale: float = 1.5) -> str:
    import vl_convert as vlc  # deferred: vl_convert is heavy or optional, loaded only here

    return base64.b64encode(vlc.vegalite_to_png(spec, scale=scale)).decode()


def offline_bundle(spec: dict) -> dict[str, str]:
    """MIME bundle for one vega-lite spec: ``text/html`` (vegaEmbed + PNG fallback) and ``image/png``."""
    png = _png_b64(spec)
    title = spec.get("title", "chart")
    title = title.get("text", "chart") if isinstance(title, dict) else title
    body = _TEMPLATE.format(id=f"sparks-{uuid.uuid4().hex[:12]}", png=png,
                            alt=html.escape(str(title), quote=True),
                            spec=json.dumps(spec).replace("</", "<\\/"))
    return {"text/html": body, "image/png": png}


def use_offline_renderer() -> None:
    """Register and enable the offline renderer for this kernel."""
    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, offline_bundle)
    alt.renderers.enable(RENDERER)


def head_heatmap(df: pd.DataFrame, value: str, title: str, layer: str = "layer", head: str = "head",
                 scheme: str = "blues", extra_tooltip: list[str] | None = None) -> alt.Chart:
    """Layer x head heatmap (layers on y, top = layer 0; heads on x) with tooltips.

    Args:
        df: one row per head with integer ``layer`` and ``head`` columns and ``value``.
        value: the column coloured.
        title: chart title.
    """
    missing = {layer, head, value} - set(df.columns)
    if missing:
        raise ValueError(f"head_heatmap: missing columns {sorted(missing)}")
    n_layers = int(df[layer].max()) + 1
    n_heads = int(df[head].max()) + 1
    cell = max(8, min(24, 480 // max(n_heads, 1)))
    tooltip = [alt.Tooltip("name:N", title="head")] if "name" in df.columns else []
    tooltip += [alt.Tooltip(f"{layer}:O"), alt.Tooltip(f"{head}:O"), alt.Tooltip(f"{value}:Q", format=".4g")]
    tooltip += [alt.Tooltip(c) for c in (extra_tooltip or [])]
    return (
        alt.Chart(df, title=title)
        .mark_rect()
        .encode(
            x=alt.X(f"{head}:O", title="head"),
            y=alt.Y(f"{layer}:O", title="layer", sort="ascending"),
            color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme=scheme), title=value),
            tooltip=tooltip,
        )
        .properties(width=cell * n_heads, height=max(8, min(18, 540 // max(n_layers, 1))) * n_layers)
    )


def line_chart(df: pd.DataFrame, x: str, y: str, title: str, color: str | None = None,
               facet: str | None = None, columns: int = 3, width: int = 220, height: int = 150,
               independent: bool = True, points: bool = False, y_title: str | None = None) -> alt.Chart:
    """Lines of ``y`` over ``x`` (one per ``color`` value), optionally one small panel per ``facet``
    (with its own x and y scales when ``independent``)."""
    missing = {c for c in (x, y, color, facet) if c} - set(df.columns)
    if missing:
        raise ValueError(f"line_chart: missing columns {sorted(missing)}")
    tooltip = [alt.Tooltip(c) for c in (facet, color) if c]
    tooltip += [alt.Tooltip(f"{x}:Q"), alt.Tooltip(f"{y}:Q", format=".4g")]
    enc = {"x": alt.X(f"{x}:Q", title=x), "y": alt.Y(f"{y}:Q", title=y_title or y), "tooltip": tooltip}
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color)
    chart = alt.Chart(df).mark_line(point=points).encode(**enc).properties(width=width, height=height)
    if facet:
        chart = chart.facet(facet=alt.Facet(f"{facet}:N", title=None), columns=columns, title=title)
        return chart.resolve_scale(x="independent", y="independent") if independent else chart
    return chart.properties(title=title)


def grouped_bars(df: pd.DataFrame, group: str, bar: str, value: str, title: str,
                 domain: tuple[float, float] | None = (0.0, 1.0)) -> alt.Chart:
    """Bars of ``value`` per ``bar`` side by side within each ``group`` (e.g. eval set x run)."""
    missing = {group, bar, value} - set(df.columns)
    if missing:
        raise ValueError(f"grouped_bars: missing columns {sorted(missing)}")
    order = list(dict.fromkeys(df[bar]))
    y = alt.Y(f"{value}:Q", title=value, scale=alt.Scale(domain=list(domain)) if domain else alt.Undefined)
    return (
        alt.Chart(df, title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{bar}:N", title=None, sort=order, axis=alt.Axis(labels=False, ticks=False)),
            y=y,
            color=alt.Color(f"{bar}:N", title=bar, sort=order),
            column=alt.Column(f"{group}:N", title=None, sort=list(dict.fromkeys(df[group]))),
            tooltip=[alt.Tooltip(f"{group}:N"), alt.Tooltip(f"{bar}:N"), alt.Tooltip(f"{value}:Q", format=".3f")],
        )
        # the groups share a budget of 440 px (the legend beside them): the chart stays in the content column
        .properties(width=max(40, min(18 * len(order), 440 // max(1, df[group].nunique()))), height=180)
    )


# ---------------------------------------------------------------- emergence (paper Figs 2-3, 13-16)

def cohort_chart(bands: pd.DataFrame, counts: pd.DataFrame, title: str, width: int = 420, height: int = 200) -> alt.Chart:
    """Panel A of Figs 2/3: emergent heads stacked by cohort (the checkpoint where they first
    appeared), the new-head count (blue) and retained base heads (red dashed) per checkpoint."""
    missing = ({"step", "cohort", "n_active"} - set(bands.columns)) | ({"step", "emergent", "retained"} - set(counts.columns))
    if missing:
        raise ValueError(f"cohort_chart: missing columns {sorted(missing)}")
    area = alt.Chart(bands.assign(cohort=bands.cohort.astype(str))).mark_area(opacity=0.45).encode(
        x=alt.X("step:Q", title="checkpoint (step)"), y=alt.Y("n_active:Q", stack="zero", title="heads"),
        color=alt.Color("cohort:N", title="cohort (first step)", scale=alt.Scale(scheme="tableau20"),
                        sort=sorted(bands.cohort.astype(str).unique(), key=int)),
        order=alt.Order("cohort:Q"),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("cohort:N"), alt.Tooltip("n_active:Q", title="active")])
    long = counts.melt(id_vars="step", value_vars=["emergent", "retained"], var_name="curve", value_name="heads")
    lines = alt.Chart(long).mark_line(point=True, strokeWidth=2.5).encode(
        x="step:Q", y="heads:Q",
        stroke=alt.Stroke("curve:N", scale=alt.Scale(domain=["emergent", "retained"], range=["#1f5fbf", "#d62728"]),
                          title="curve"),
        strokeDash=alt.StrokeDash("curve:N", scale=alt.Scale(domain=["emergent", "retained"], range=[[1, 0], [6, 4]]),
                                  legend=None),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("curve:N"), alt.Tooltip("heads:Q")])
    return alt.layer(area, lines).resolve_scale(color="independent").properties(title=title, width=width, height=height)


def frequency_heatmap(freq: pd.DataFrame, title: str) -> alt.Chart:
    """Panel B/C: layer x head; base heads red (fading with how rarely they stay in the circuit),
    emergent heads blue by activation frequency, black outline = active at the final checkpoint."""
    df = freq.assign(signed=[(-f if b else f) for f, b in zip(freq.frequency, freq.in_base, strict=True)])
    n_layers, n_heads = int(df.layer.max()) + 1, int(df["index"].max()) + 1
    cell = max(10, min(26, 480 // n_heads))
    return alt.Chart(df, title=title).mark_rect(strokeWidth=2).encode(
        x=alt.X("index:O", title="head"), y=alt.Y("layer:O", title="layer"),
        color=alt.Color("signed:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1]),
                        title="base (red) / emergent (blue) frequency"),
        stroke=alt.condition("datum.active_final", alt.value("black"), alt.value(None)),
        tooltip=[alt.Tooltip("head:N"), alt.Tooltip("kind:N"), alt.Tooltip("frequency:Q", format=".2f"),
                 alt.Tooltip("active_final:N", title="active at final")],
    ).properties(width=cell * n_heads, height=cell * n_layers)


def layer_bars(df: pd.DataFrame, title: str, n_layers: int | None = None, width: int = 420,
               height: int = 160) -> alt.Chart:
    """Heads per layer, stacked by ``kind`` (e.g. emergent at the final checkpoint / ever emergent).

    Args:
        df: ``layer, kind, heads`` (one row per layer and kind; layers without heads may be absent).
        n_layers: the model's layer count (the x axis shows every layer; default: the largest + 1).
    """
    missing = {"layer", "kind", "heads"} - set(df.columns)
    if missing:
        raise ValueError(f"layer_bars: missing columns {sorted(missing)}")
    n = n_layers or (int(df.layer.max()) + 1 if len(df) else 1)
    return alt.Chart(df, title=title).mark_bar().encode(
        x=alt.X("layer:O", title="layer", scale=alt.Scale(domain=list(range(n)))),
        y=alt.Y("heads:Q", title="heads"), xOffset=alt.XOffset("kind:N"),
        color=alt.Color("kind:N", title=None),
        tooltip=[alt.Tooltip("layer:O"), alt.Tooltip("kind:N"), alt.Tooltip("heads:Q")],
    ).properties(width=width, height=height)


def reward_chart(per_checkpoint: pd.DataFrame, title: str, width: int = 420, height: int = 180) -> alt.Chart:
    """Fig 3B: new-head count (blue, left axis) beside the accuracy reward (orange, right axis)."""
    base = alt.Chart(per_checkpoint).encode(x=alt.X("step:Q", title="checkpoint (step)"))
    heads = base.mark_line(point=True, color="#1f5fbf").encode(
        y=alt.Y("new_heads:Q", title="new heads", axis=alt.Axis(titleColor="#1f5fbf")),
        tooltip=["step:Q", "new_heads:Q", alt.Tooltip("reward:Q", format=".3f")])
    reward = base.mark_line(point=True, color="#ff7f0e", strokeDash=[4, 2]).encode(
        y=alt.Y("reward:Q", title="accuracy reward", axis=alt.Axis(titleColor="#ff7f0e")),
        tooltip=["step:Q", "new_heads:Q", alt.Tooltip("reward:Q", format=".3f")])
    return alt.layer(heads, reward).resolve_scale(y="independent").properties(title=title, width=width, height=height)


def effect_maps(df: pd.DataFrame, title: str, facet: str = "run", columns: int = 4) -> alt.Chart:
    """Fig 13: one layer x head effect map per ``facet`` value; blue = gained importance, red = lost."""
    n_heads = int(df["index"].max()) + 1
    n_layers = int(df.layer.max()) + 1
    cell = max(9, min(20, 260 // n_heads))
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("index:O", title="head"), y=alt.Y("layer:O", title="layer"),
        color=alt.Color("effect:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1]), title="effect E"),
        tooltip=[alt.Tooltip(f"{facet}:N"), alt.Tooltip("head:N"), alt.Tooltip("effect:Q", format=".3f")],
    ).properties(width=cell * n_heads, height=cell * n_layers).facet(
        facet=alt.Facet(f"{facet}:N", title=None), columns=columns, title=title)


def component_effect(df: pd.DataFrame, title: str, width: int = 240) -> alt.Chart:
    """Fig 12: E per layer (rows) and component (``df``: saeattr.effect_frame); blue = gained importance."""
    names = {"MLP": "MLP", "ATTN": "Attention", "RESID": "Residual"}
    d, n_layers = df.assign(column=df.component.map(names)), int(df.layer.max()) + 1
    return alt.Chart(d, title=title).mark_rect().encode(
        x=alt.X("column:N", title=None, sort=list(names.values()), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("layer:O", title="layer"), color=alt.Color("E:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1])),
        tooltip=["layer:O", "column:N", *(alt.Tooltip(f"{c}:Q", format=".3f") for c in ("E", "ci_low", "ci_high",
                                                                                       "I_pre", "I_post"))],
    ).properties(width=width, height=max(14, min(28, 360 // max(n_layers, 1))) * n_layers)


def method_map(df: pd.DataFrame, title: str) -> alt.Chart:
    """Fig 14 (bottom): layer x head coloured by which methods' circuits hold the head as emergent."""
    one = df.drop_duplicates("head")
    n_heads, n_layers = int(one["index"].max()) + 1, int(one.layer.max()) + 1
    cell = max(10, min(26, 480 // n_heads))
    labels = sorted(one.methods.unique(), key=lambda s: (s == "none", s.count("+"), s))
    return alt.Chart(one, title=title).mark_rect(stroke="white").encode(
        x=alt.X("index:O", title="head"), y=alt.Y("layer:O", title="layer"),
        color=alt.Color("methods:N", sort=labels, title="emergent in",
                        scale=alt.Scale(domain=labels, range=_method_colours(labels))),
        tooltip=[alt.Tooltip("head:N"), alt.Tooltip("methods:N"), alt.Tooltip("n_methods:Q")],
    ).properties(width=cell * n_heads, height=cell * n_layers)


def _method_colours(labels: list[str]) -> list[str]:
    palette = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    shared = ["#ffd700", "#ff7f0e", "#7f3fbf", "#000000"]
    out, i, j = [], 0, 0
    for lab in labels:
        if lab == "none":
            out.append("#f2f2f2")
        elif "+" in lab:
            out.append(shared[min(j, len(shared) - 1)])
            j += 1
        else:
            out.append(palette[i % len(palette)])
            i += 1
    return out


def circuit_drawing(nodes: pd.DataFrame, edges: pd.DataFrame, title: str, width: int = 420,
                    height: int = 380) -> alt.Chart:
    """Figs 15-16 style: nodes placed by layer (input at the bottom left, logits at the top left,
    each layer's heads in a row and its MLP on the right), edges as lines whose width and opacity
    follow sqrt |score|; hover a node or an edge for its name and score.

    Args:
        nodes: ``node, x, y, kind, score``.
        edges: ``src, dst, x, y, x2, y2, score`` (``abs_score`` added here).
    """
    e = edges.assign(abs_score=edges.score.abs())
    lines = alt.Chart(e).mark_rule().encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), x2="x2:Q", y2="y2:Q",
        strokeWidth=alt.StrokeWidth("abs_score:Q", scale=alt.Scale(type="sqrt", range=[0.5, 4]), legend=None),
        opacity=alt.Opacity("abs_score:Q", scale=alt.Scale(type="sqrt", range=[0.25, 0.9]), legend=None),
        color=alt.condition("datum.score > 0", alt.value("#1f5fbf"), alt.value("#d62728")),
        tooltip=[alt.Tooltip("src:N"), alt.Tooltip("dst:N"), alt.Tooltip("score:Q", format=".4g")])
    points = alt.Chart(nodes).mark_circle(size=180, opacity=1, stroke="black", strokeWidth=0.5).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["input", "head", "mlp", "logits"],
                                                  range=["#7f7f7f", "#2ca02c", "#ff7f0e", "#000000"])),
        tooltip=[alt.Tooltip("node:N"), alt.Tooltip("score:Q", format=".4g", title="node score")])
    labels = alt.Chart(nodes).mark_text(dy=-11, fontSize=9).encode(x="x:Q", y="y:Q", text="node:N")
    return alt.layer(lines, points, labels).properties(title=title, width=width, height=height)


def scatter(df: pd.DataFrame, x: str, y: str, title: str, label: str | None = None, width: int = 320,
            height: int = 240, facet: str | None = None) -> alt.Chart:
    """Points of ``y`` against ``x`` (hover shows ``label``, x and y); one panel per ``facet`` value,
    whose header is cut to the panel's width (a long value, e.g. a model path, would widen the panel)."""
    missing = {c for c in (x, y, label) if c} - set(df.columns)
    if missing:
        raise ValueError(f"scatter: missing columns {sorted(missing)}")
    tooltip = ([alt.Tooltip(f"{label}:N")] if label else []) + [alt.Tooltip(f"{x}:Q", format=".4g"),
                                                               alt.Tooltip(f"{y}:Q", format=".4g")]
    chart = alt.Chart(df).mark_circle(size=60).encode(
        x=alt.X(f"{x}:Q", title=x), y=alt.Y(f"{y}:Q", title=y), tooltip=tooltip).properties(width=width, height=height)
    if facet is None:
        return chart.properties(title=title)
    return chart.facet(column=alt.Column(f"{facet}:N", header=alt.Header(labelLimit=width)), title=title)


def count_chart(counts: pd.DataFrame, title: str, columns: int = 3, width: int = 200, height: int = 140) -> alt.Chart:
    """One panel per ``run``: the count ``emergent`` at each ``step`` (point) with its interval
    (``ci_low`` to ``ci_high``, a bar) against its same-size null (``floor_q95`` dashed,
    ``floor_mean`` dotted)."""
    need = {"run", "step", "emergent", "ci_low", "ci_high", "floor_mean", "floor_q95"}
    if missing := need - set(counts.columns):
        raise ValueError(f"count_chart: missing columns {sorted(missing)}")
    x = alt.X("step:Q", title="checkpoint step")
    tip = [alt.Tooltip(c) for c in ("run", "step", "emergent", "ci_low", "ci_high")]
    tip += [alt.Tooltip(c, format=".2f") for c in ("floor_mean", "floor_q95")]
    q95 = alt.Chart().mark_line(strokeDash=[5, 3], color="grey").encode(x=x, y="floor_q95:Q")
    mean = alt.Chart().mark_line(strokeDash=[1, 2], color="grey").encode(x=x, y="floor_mean:Q")
    ci = alt.Chart().mark_rule(strokeWidth=2).encode(x=x, y=alt.Y("ci_low:Q", title="emergent heads"), y2="ci_high:Q")
    point = alt.Chart().mark_point(filled=True, size=40).encode(x=x, y="emergent:Q", tooltip=tip)
    layered = alt.layer(q95, mean, ci, point, data=counts[sorted(need)]).properties(width=width, height=height)
    return layered.facet(facet=alt.Facet("run:N", title=None), columns=columns, title=title)


def band_chart(df: pd.DataFrame, band: tuple[float, float], title: str, x: str = "level", y: str = "pass@1",
               color: str = "model", low: str = "ci_low", high: str = "ci_high", width: int = 420,
               height: int = 240) -> alt.Chart:
    """``y`` over ``x`` per ``color`` with error bars ``[low, high]`` over a shaded ``band`` of ``y``
    (e.g. pass@1 per difficulty level per model, the band where a difference can show)."""
    missing = {x, y, color, low, high} - set(df.columns)
    if missing:
        raise ValueError(f"band_chart: missing columns {sorted(missing)}")
    if not 0 <= band[0] < band[1] <= 1:
        raise ValueError(f"band_chart: band must satisfy 0 <= low < high <= 1, got {band}")
    order = list(dict.fromkeys(df[color]))
    shade = alt.Chart(pd.DataFrame({"lo": [band[0]], "hi": [band[1]]})).mark_rect(opacity=0.12, color="green") \
        .encode(y=alt.Y("lo:Q"), y2="hi:Q")
    base = alt.Chart(df).encode(x=alt.X(f"{x}:O", title=x),
                                color=alt.Color(f"{color}:N", title=color, sort=order))
    lines = base.mark_line(point=True).encode(
        y=alt.Y(f"{y}:Q", title=y, scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip(f"{color}:N"), alt.Tooltip(f"{x}:O"), alt.Tooltip(f"{y}:Q", format=".3f"),
                 alt.Tooltip(f"{low}:Q", format=".3f"), alt.Tooltip(f"{high}:Q", format=".3f")])
    bars = base.mark_errorbar().encode(y=alt.Y(f"{low}:Q"), y2=f"{high}:Q")
    return alt.layer(shade, lines, bars).properties(title=title, width=width, height=height)


def fig14_chart(top: pd.DataFrame, bottom: pd.DataFrame, title: str, width: int = 640) -> alt.Chart:
    """Fig 14 as the paper draws it: one layer x head map per method (white = no new head, darker =
    new in more of the method's circuits), then the cumulative map (columns = layers, cells placed by
    ``column`` / ``slot``, coloured by ``category`` with the frame's ``colour``; heads GRPO shares with
    another method outlined in black). Hover: head, methods, counts.

    Args:
        top: ``method, head, layer, index, count, circuits, share, in_base, colour`` (one row per method and head).
        bottom: ``head, layer, index, category, colour, n_methods, shared_grpo, counts, column, slot``.
    """
    missing = ({"method", "head", "layer", "index", "share", "colour"} - set(top.columns)) | (
        {"head", "category", "colour", "shared_grpo", "counts", "column", "slot"} - set(bottom.columns))
    if missing:
        raise ValueError(f"fig14_chart: missing columns {sorted(missing)}")
    n_layers, n_heads = int(bottom.layer.max()) + 1, int(bottom["index"].max()) + 1
    methods = list(dict.fromkeys(top.method))
    cell = max(8, min(22, (width - 60 * len(methods)) // (len(methods) * n_layers)))
    panels = []
    for m in methods:
        d = top[top.method == m]
        panels.append(alt.Chart(d, title=f"{m} ({d['runs'].iloc[0] if 'runs' in d else m})").mark_rect(
            stroke="#dddddd", strokeWidth=0.5).encode(
            x=alt.X("layer:O", title="layer"), y=alt.Y("index:O", title="head", sort="descending"),
            color=alt.condition("datum.share > 0", alt.Color(
                "share:Q", scale=alt.Scale(domain=[0, 1], range=["#ffffff", d.colour.iloc[0]], interpolate="rgb"),
                legend=alt.Legend(title="share of circuits", orient="bottom", gradientLength=80)),
                alt.value("#ffffff")),
            tooltip=[alt.Tooltip("head:N"), alt.Tooltip("method:N"), alt.Tooltip("count:Q", title="circuits new in"),
                     alt.Tooltip("circuits:Q", title="circuits"), alt.Tooltip("in_base:N", title="in base circuit")],
        ).properties(width=cell * n_layers, height=cell * n_heads))
    cats = sorted(set(bottom.category), key=lambda c: (c != "none", c.count("+"), c))
    colours = [bottom.loc[bottom.category == c, "colour"].iloc[0] for c in cats]
    big = max(10, min(28, width // max(n_layers, 1)))
    layer_of = bottom.drop_duplicates("column").sort_values("column")
    cumulative = alt.Chart(bottom, title="cumulative: new heads by method").mark_rect().encode(
        x=alt.X("column:O", title="layer (column)",
                axis=alt.Axis(labelExpr=_label_expr(layer_of.column.tolist(), layer_of.layer.tolist()))),
        y=alt.Y("slot:O", title="head slot", sort="descending"),
        color=alt.Color("category:N", title="new under", scale=alt.Scale(domain=cats, range=colours)),
        stroke=alt.condition("datum.shared_grpo", alt.value("black"), alt.value("#dddddd")),
        strokeWidth=alt.condition("datum.shared_grpo", alt.value(2), alt.value(0.5)),
        tooltip=[alt.Tooltip("head:N"), alt.Tooltip("category:N", title="methods"),
                 alt.Tooltip("counts:N", title="counts (new in / circuits)"),
                 alt.Tooltip("shared_grpo:N", title="GRPO shares it")],
    ).properties(width=big * n_layers, height=big * n_heads)
    return alt.vconcat(alt.hconcat(*panels).resolve_scale(color="independent"), cumulative,
                       title=title).resolve_scale(color="independent")


def _label_expr(columns: list[int], layers: list[int]) -> str:
    """A vega label expression naming column ``c``'s layer (columns may be reordered)."""
    pairs = ", ".join(f'"{c}": "{layer}"' for c, layer in zip(columns, layers, strict=True))
    return f"{{{pairs}}}[datum.value]"
