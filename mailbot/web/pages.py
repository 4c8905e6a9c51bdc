"""The staff site's pages and its one letter, rendered as the letters are: jinja2 with the
vocabulary's filters (mailbot.vn), HTML autoescaped, a missing variable an error."""
from __future__ import annotations

import functools
from typing import Any

import jinja2

from mailbot import vn
from mailbot.app import App
from mailbot.compose import DEFAULT_TEMPLATES

WEB_TEMPLATES = DEFAULT_TEMPLATES / "web"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(vn.FILTERS)
    env.filters.update(short_moment=vn.short_moment, lower_first=vn.lower_first)
    env.globals.update(vn=vn)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_letter(app: App, name: str, **context: Any) -> tuple[str, str]:
    """(text, html) of templates/web/<name>.txt and .html."""
    context.setdefault("office", app.config.office)
    context.setdefault("campaign", app.config.campaign)
    return render(f"{name}.txt", **context), render(f"{name}.html", **context)


def stylesheet() -> bytes:
    return (WEB_TEMPLATES / "site.css").read_bytes()
