"""Form definitions are data: parsers/forms/<id>/form.toml (a flat <id>.toml is read too), or a campaign's own folder.

Next year's form is a new TOML file, not new code. A campaign may keep its
own definitions in `extra_dir` (ParseContext.forms_dir); that folder is
searched first, so a local file overrides the shipped one. A definition may
also live in a folder of its own, parsers/forms/<id>/form.toml, beside the
blank form units are sent (`blank = "blank.docx"`, relative to the file).

Every form is read by the one table reader (parsers.table): the definition
declares its columns (key, header words, type, required) and its record
shape — one record per row (`records = "rows"`) or labelled indicator rows
(`records = "indicators"`). `check()` lists what is wrong with a definition
in Vietnamese, so a bad file stops the program at start, never at the
first email.
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
        raise FormDefError(f"id mẫu không hợp lệ: {form_id!r} (chỉ gồm chữ, số, - và _)")
    dirs = [Path(extra_dir)] if extra_dir else []
    dirs.append(FORMS_DIR)
    for d in dirs:
        for path in (d / f"{form_id}.toml", d / form_id / "form.toml"):
            if path.is_file():
                return load_path(str(path))
    raise FormDefError(f"không có định nghĩa mẫu {form_id}.toml (hay {form_id}/form.toml) trong "
                      f"{', '.join(str(d) for d in dirs)}")


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
        raise FormDefError(f"không đọc được định nghĩa mẫu {path}: {exc.strerror or exc}") from exc
    return _load_cached(str(p), mtime)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime: int) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise FormDefError(f"không đọc được định nghĩa mẫu {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FormDefError(f"{path}: không đúng cú pháp TOML: {exc}") from exc
    for key in ("id", "reader"):
        if not isinstance(data.get(key), str):
            raise FormDefError(f"{path}: `{key}`: thiếu khoá bắt buộc")
    data["_path"] = path  # where it came from: a blank form beside it is found from there
    return data


# ---------------------------------------------------------------- the reader's vocabulary

# reader names → the record shape they stand for. "table" is the general reader; the
# others are the names definitions used before it, kept working.
READERS = {"table": None, "list": "rows", "schedule": "rows", "indicators": "indicators"}
RECORDS = ("rows", "indicators")
# column types: what a cell holds and how it is read (parsers.table)
COLUMN_TYPES = ("text", "integer", "date", "time", "person", "yesno")
# what a row-per-record form's records are: plain rows, or Mẫu 1's activities (contract shape)
ROW_SHAPES = ("row", "activity")


def records(formdef: dict) -> str:
    """The record shape: "rows" (one record per table row) or "indicators" (labelled rows)."""
    return formdef.get("records") or READERS.get(formdef.get("reader", ""), None) or "rows"


def row_shape(formdef: dict) -> str:
    """A row form's records: "activity" (a schedule: Mẫu 1's shape) or "row" (a list)."""
    if records(formdef) != "rows":
        return ""
    default = "activity" if formdef.get("reader") == "schedule" else "row"
    rows = formdef.get("rows")
    return rows.get("shape", default) if isinstance(rows, dict) else default


# [rows] options a row form may declare, with their defaults per shape (activity, row).
ROW_OPTIONS = {
    # A row across the whole table ("Thứ Hai, 02/10/2017", "Thôn Vân Dương") heads the rows below it:
    # "date" dates a schedule's activities; a column's key fills that column where a row leaves it
    # blank; "skip" ignores it.
    "group_rows": ("date", "skip"),
    # A schedule's dates outside the campaign week are told to the unit.
    "within_week": (True, False),
}


def row_option(formdef: dict, name: str):
    """A row form's declared option, else its shape's default."""
    rows = formdef.get("rows") if isinstance(formdef.get("rows"), dict) else {}
    if name in rows:
        return rows[name]
    return ROW_OPTIONS[name][0 if row_shape(formdef) == "activity" else 1]


def kind(formdef: dict) -> str:
    """What the reader makes of it, as Document.kind says: "schedule", "list" or "indicators"."""
    if records(formdef) == "indicators":
        return "indicators"
    return "schedule" if row_shape(formdef) == "activity" else "list"


def columns(formdef: dict) -> list[dict]:
    """The declared columns as dicts {key, header, type, required, name}, whichever way written.

    `[columns]` maps a key to its header words (all text, none required);
    `[[columns]]` declares each column with its type and whether it is required.
    """
    raw = formdef.get("columns", [])
    if isinstance(raw, dict):
        raw = [{"key": k, "header": v} for k, v in raw.items()]
    schedule = row_shape(formdef) == "activity"  # a schedule's rows need their content, declared or not
    out = []
    for c in raw:
        header = c.get("header", [])
        header = [header] if isinstance(header, str) else list(header)
        out.append({"key": c.get("key"), "header": header, "type": c.get("type", "text"),
                    "required": bool(c.get("required", schedule and c.get("key") == "content")),
                    "name": c.get("name") or (header[0] if header else c.get("key"))})
    return out


def form_name(formdef: dict) -> str:
    """How letters name the form: its `name`, else its title."""
    return formdef.get("name") or formdef.get("title") or formdef.get("id", "")


def report_option(formdef: dict, name: str):
    """An option of the consolidated Word report (`[report]`), if the definition sets it."""
    report = formdef.get("report")
    return report.get(name) if isinstance(report, dict) else None


def report_sections(formdef: dict) -> list[tuple[str, str]]:
    """(key, heading) of the text sections the consolidated report gathers from the units:
    `[report] sections` in that order, else every section of the definition."""
    sections = [s for s in formdef.get("sections", []) if isinstance(s, dict) and isinstance(s.get("key"), str)]
    chosen = report_option(formdef, "sections")
    if isinstance(chosen, list):
        by_key = {s["key"]: s for s in sections}
        sections = [by_key[k] for k in chosen if k in by_key]
    return [(s["key"], s.get("heading") or s.get("name") or s["key"]) for s in sections]


def needs_photos(formdef: dict) -> bool:
    """Whether receipts ask for photos of the activities: the definition's `photos`, else whether its
    records are counted indicators (a results report, which the office illustrates with photos)."""
    photos = formdef.get("photos")
    return photos if isinstance(photos, bool) else records(formdef) == "indicators"


def indicator_keys(formdef: dict) -> list[str]:
    return [i.get("key") for i in formdef.get("indicators", []) if isinstance(i, dict)]


def blank_path(formdef: dict) -> Path | None:
    """The blank form the definition names (`blank`, relative to its file), if it names one."""
    blank = formdef.get("blank")
    if not isinstance(blank, str) or not blank:
        return None
    base = Path(formdef.get("_path", FORMS_DIR / "x")).parent
    return (base / blank).resolve()


_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def check(formdef: dict) -> list[str]:
    """What is wrong with a definition, one Vietnamese sentence per problem (`key`: what)."""
    out: list[str] = []
    say = lambda key, text: out.append(f"`{key}`: {text}")  # noqa: E731
    reader = formdef.get("reader")
    if reader not in READERS:
        say("reader", f"không có bộ đọc {reader!r}; các bộ đọc: {', '.join(READERS)}")
    rec = formdef.get("records")
    if rec is not None and rec not in RECORDS:
        say("records", f"phải là {' hoặc '.join(repr(r) for r in RECORDS)}, không phải {rec!r}")
    for key in ("title", "name", "short", "blank"):
        if key in formdef and not isinstance(formdef[key], str):
            say(key, "phải là chuỗi trong ngoặc kép")
    if "photos" in formdef and not isinstance(formdef["photos"], bool):
        say("photos", "phải là true hoặc false")
    _check_report(formdef, say)
    shape = formdef.get("rows", {}).get("shape") if isinstance(formdef.get("rows"), dict) else None
    if shape is not None and shape not in ROW_SHAPES:
        say("rows.shape", f"phải là {' hoặc '.join(repr(r) for r in ROW_SHAPES)}, không phải {shape!r}")
    if reader in READERS and rec in (None, *RECORDS):
        if records(formdef) == "rows":
            _check_columns(formdef, say)
        else:
            _check_indicators(formdef, say)
    conf = formdef.get("classify")
    if not isinstance(conf, dict) or not (conf.get("title") or conf.get("headers")):
        say("classify", "cần `title` (chữ tiêu đề của mẫu) hoặc `headers` (chữ ở đầu bảng) để nhận ra mẫu")
    blank = blank_path(formdef)
    if blank is not None and not blank.is_file():
        say("blank", f"không có tệp mẫu trống {blank}")
    return out


def _check_report(formdef: dict, say) -> None:
    report = formdef.get("report")
    if report is None:
        return
    if not isinstance(report, dict):
        say("report", "phải là một bảng [report]")
        return
    if "table_heading" in report and not isinstance(report["table_heading"], str):
        say("report.table_heading", "phải là chuỗi trong ngoặc kép")
    chosen = report.get("sections")
    if chosen is not None:
        keys = {s.get("key") for s in formdef.get("sections", []) if isinstance(s, dict)}
        if not isinstance(chosen, list):
            say("report.sections", "phải là danh sách khóa của các phần [[sections]]")
        else:
            for k in chosen:
                if k not in keys:
                    say("report.sections", f"không có phần {k!r} trong [[sections]]")


def _check_columns(formdef: dict, say) -> None:
    raw = formdef.get("columns")
    if not raw or not isinstance(raw, (dict, list)):
        say("columns", "cần khai báo các cột của bảng ([[columns]]: key, header, type, required)")
        return
    seen: set[str] = set()
    for i, c in enumerate(raw.items() if isinstance(raw, dict) else raw):
        if isinstance(raw, dict):
            key, c = c[0], {"key": c[0], "header": c[1]}
            where = f"columns.{key}"
        else:
            where = f"columns[{i}]"
            if not isinstance(c, dict):
                say(where, "phải là một bảng (key, header, type, required)")
                continue
            key = c.get("key")
            unknown = sorted(set(c) - {"key", "header", "type", "required", "name"})
            for k in unknown:
                say(f"{where}.{k}", "không có khoá này; các khoá: key, header, type, required, name")
        if not isinstance(key, str) or not _KEY.match(key):
            say(f"{where}.key", f"phải là tên viết thường không dấu (ví dụ \"ho_ten\"), không phải {key!r}")
        elif key in seen:
            say(f"{where}.key", f"cột {key!r} đã khai báo")
        else:
            seen.add(key)
        header = c.get("header")
        if isinstance(header, str):
            header = [header]
        if not header or not isinstance(header, list) or not all(isinstance(h, str) and h.strip() for h in header):
            say(f"{where}.header", "cần ít nhất một chữ tiêu đề cột, ví dụ [\"Họ và tên\"]")
        typ = c.get("type", "text")
        if typ not in COLUMN_TYPES:
            say(f"{where}.type", f"không có kiểu {typ!r}; các kiểu: {', '.join(COLUMN_TYPES)}")
        if "required" in c and not isinstance(c["required"], bool):
            say(f"{where}.required", "phải là true hoặc false")
    if row_shape(formdef) == "activity" and "content" not in seen:
        say("columns", "lịch hoạt động cần cột `content` (Nội dung)")
    rows = formdef.get("rows", {})
    if not isinstance(rows, dict):
        say("rows", "phải là một bảng ([rows])")
        return
    for k in sorted(set(rows) - {"shape", *ROW_OPTIONS}):
        say(f"rows.{k}", f"không có tùy chọn này; các tùy chọn: shape, {', '.join(ROW_OPTIONS)}")
    group = rows.get("group_rows")
    allowed = ({"date", "skip"} if row_shape(formdef) == "activity" else {"skip"} | seen)
    if group is not None and group not in allowed:
        say("rows.group_rows", f"phải là {' hoặc '.join(repr(a) for a in sorted(allowed))}, không phải {group!r}")
    if "within_week" in rows and not isinstance(rows["within_week"], bool):
        say("rows.within_week", "phải là true hoặc false")


def _check_indicators(formdef: dict, say) -> None:
    inds = formdef.get("indicators")
    if not inds or not isinstance(inds, list):
        say("indicators", "cần khai báo các chỉ tiêu ([[indicators]]: key, label)")
        return
    seen: set[str] = set()
    for i, ind in enumerate(inds):
        where = f"indicators[{i}]"
        if not isinstance(ind, dict):
            say(where, "phải là một bảng (key, label)")
            continue
        key = ind.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            say(f"{where}.key", f"phải là tên viết thường không dấu (ví dụ \"to_roi\"), không phải {key!r}")
        elif key in seen:
            say(f"{where}.key", f"chỉ tiêu {key!r} đã khai báo")
        else:
            seen.add(key)
        if not isinstance(ind.get("label"), str) or not ind["label"].strip():
            say(f"{where}.label", "cần dòng chữ của chỉ tiêu như trong mẫu")
        parent = ind.get("participants_of")
        if parent is not None and parent not in seen:
            say(f"{where}.participants_of", f"không có chỉ tiêu {parent!r} ở các dòng trên")
