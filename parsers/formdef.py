"""Form definitions are data: parsers/forms/<id>.toml, or a campaign's own folder.

Next year's form is a new TOML file, not new code. A campaign may keep its
own definitions in `extra_dir` (ParseContext.forms_dir); that folder is
searched first, so a local file overrides the shipped one.
"""
from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

FORMS_DIR = Path(__file__).resolve().parent / "forms"
_ID = re.compile(r"^[A-Za-z0-9_\-]+$")


class FormDefError(ValueError):
    """A form definition is missing or malformed (a configuration error)."""


def load_formdef(form_id: str, extra_dir: str | None = None) -> dict:
    """The definition of form `form_id`; raises FormDefError when none is found."""
    if not _ID.match(form_id or ""):
        raise FormDefError(f"invalid form id: {form_id!r}")
    dirs = [Path(extra_dir)] if extra_dir else []
    dirs.append(FORMS_DIR)
    for d in dirs:
        path = d / f"{form_id}.toml"
        if path.is_file():
            return load_path(str(path))
    raise FormDefError(f"no form definition {form_id}.toml in {', '.join(str(d) for d in dirs)}")


def definition_for(form_id: str, ctx) -> dict:
    """A form's definition for a ParseContext: its own file if the campaign names one, else by id."""
    for fid, path in getattr(ctx, "definitions", ()):
        if fid == form_id:
            return load_path(path)
    return load_formdef(form_id, ctx.forms_dir)


def load_path(path: str) -> dict:
    """Load one definition file; cached by path and mtime (shared: do not mutate)."""
    p = Path(path).resolve()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise FormDefError(f"cannot read form definition {path}: {exc}") from exc
    return _load_cached(str(p), mtime)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime: int) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FormDefError(f"cannot read form definition {path}: {exc}") from exc
    for key in ("id", "reader"):
        if not isinstance(data.get(key), str):
            raise FormDefError(f"{path}: missing key {key!r}")
    return data
