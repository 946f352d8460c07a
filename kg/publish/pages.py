"""What the HTML pages of the report and the documentation share: their templates (``kg/templates``),
one Jinja2 environment (autoescaping on) and JSON that is safe inside a ``<script>`` element."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

__all__ = ["template_text", "environment", "script_json"]


def template_text(name: str) -> str:
    """The text of ``kg/templates/<name>`` (a page template, the stylesheet or a script)."""
    return (files("kg") / "templates" / name).read_text(encoding="utf-8")


def environment() -> Environment:
    """The Jinja2 environment of every page: autoescaping on, undefined names are errors."""
    return Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def script_json(value: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">`` (no ``<``, ``>`` or ``&``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
