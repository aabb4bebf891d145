"""Jinja2 templates per event type and locale, with the gym's branding.

``templates/<locale>/<event type>.jinja`` defines the blocks ``title`` (email subject,
push title), ``short`` (push body, SMS, in-app body), ``action`` (the button's label),
``text`` (plain-text email) and ``content`` (HTML email); the layouts
``_layout.html.jinja`` and ``_layout.txt.jinja`` wrap the last two with the gym's name,
colours and logo. A locale without a template falls back to English.

HTML is autoescaped: what users wrote (a message preview, a class title) is shown as
text. In tests the renderer is strict (an unknown variable raises); in production an
unknown variable renders empty and is logged, so a template slip never stops a send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChainableUndefined,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    make_logging_undefined,
    pass_context,
)
from jinja2.runtime import Context

log = logging.getLogger("fitsync.notifications")

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "en"


@dataclass(frozen=True)
class Rendered:
    title: str
    short: str
    text: str
    html: str


@pass_context
def _when(ctx: Context, value: Any) -> str:
    """An ISO 8601 time, shown in the gym's time zone: 'Tue 25 Nov 2026, 18:30'."""
    if value in (None, ""):
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    zone = ZoneInfo(str(ctx.get("gym", {}).get("timezone") or "UTC"))
    return moment.astimezone(zone).strftime("%a %d %b %Y, %H:%M")


class Renderer:
    def __init__(self, *, strict: bool = False, root: Path = TEMPLATES) -> None:
        undefined = (
            StrictUndefined if strict else make_logging_undefined(log, base=ChainableUndefined)
        )
        loader = FileSystemLoader(root)
        self.root = root
        self.html = Environment(loader=loader, autoescape=True, undefined=undefined)
        self.text = Environment(loader=loader, autoescape=False, undefined=undefined)  # noqa: S701 - plain text, never HTML
        for env in (self.html, self.text):
            env.filters["when"] = _when

    def locales(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _name(self, locale: str, event_type: str) -> tuple[str, str]:
        for candidate in (locale, DEFAULT_LOCALE):
            if (self.root / candidate / f"{event_type}.jinja").is_file():
                return candidate, f"{candidate}/{event_type}.jinja"
        raise TemplateNotFound(f"{locale}/{event_type}.jinja")

    @staticmethod
    def _block(template: Template, name: str, context: dict[str, Any]) -> str:
        render = template.blocks.get(name)
        if render is None:
            return ""
        return "".join(render(template.new_context(context))).strip()

    def render(self, event_type: str, locale: str, context: dict[str, Any]) -> Rendered:
        found, name = self._name(locale, event_type)
        text_template = self.text.get_template(name)
        text_ctx = {**context, "layout": f"{found}/_layout.txt.jinja"}
        html_ctx = {**context, "layout": f"{found}/_layout.html.jinja"}
        return Rendered(
            title=" ".join(self._block(text_template, "title", text_ctx).split()),
            short=" ".join(self._block(text_template, "short", text_ctx).split()),
            text=text_template.render(text_ctx).strip() + "\n",
            html=self.html.get_template(name).render(html_ctx),
        )
