"""Sphinx extension: drop duplicate <script> entries from each page.

With Jupyter Book 1.0.4 / Sphinx 7.4, sphinx-thebe's and sphinx-togglebutton's inline scripts are
registered twice, and the second ``const THEBE_JS_URL`` is a SyntaxError in the browser console.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        filename = str(getattr(script, "filename", script) or "")  # inline scripts: None or ""
        key = (filename, tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
