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
