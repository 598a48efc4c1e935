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
    import vl_convert as vlc

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
        .properties(width=max(60, 18 * len(order)), height=180)
    )
