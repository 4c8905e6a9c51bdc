"""click's own words (usage, errors, the help option) in Vietnamese, for office staff.

click marks its messages for gettext but ships no Vietnamese catalogue; this
small one covers what a staff member can meet. Unknown messages stay as
click wrote them.
"""
from __future__ import annotations

import gettext
import importlib

CATALOG: dict[str, str] = {
    "Usage:": "Cách dùng:",
    "Options": "Tùy chọn",
    "Commands": "Lệnh",
    "Show this message and exit.": "Hiện hướng dẫn này rồi thoát.",
    "Show the version and exit.": "Hiện số phiên bản rồi thoát.",
    "%(prog)s, version %(version)s": "%(prog)s, phiên bản %(version)s",
    "Error: {message}": "Lỗi: {message}",
    "Try '{command} {option}' for help.": "Xem hướng dẫn: {command} {option}",
    "Missing argument": "Thiếu tham số",
    "Missing option": "Thiếu tùy chọn",
    "Missing parameter": "Thiếu tham số",
    "Missing {param_type}": "Thiếu {param_type}",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "Missing command.": "Thiếu lệnh.",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Aborted!": "Đã dừng.",
    "default: {default}": "mặc định: {default}",
    "required": "bắt buộc",
    "env var: {var}": "biến môi trường: {var}",
    "{name} {filename!r} does not exist.": "{name} {filename!r} không tồn tại.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} là một thư mục.",
    "{name} {filename!r} is a file.": "{name} {filename!r} là một tệp.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} không đọc được.",
    "{name} {filename!r} is not writable.": "{name} {filename!r} không ghi được.",
    "file": "Tệp",
    "directory": "Thư mục",
    "path": "Đường dẫn",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải là số hợp lệ.",
    "Choose from:\n\t{choices}": "Chọn một trong:\n\t{choices}",
    "{value} is not in the range {range}.": "{value} nằm ngoài khoảng cho phép {range}.",
}
PLURALS: dict[str, str] = {
    "Got unexpected extra argument ({args})": "Thừa tham số ({args})",
    "Option {name!r} requires an argument.": "Tùy chọn {name!r} cần một giá trị.",
    "Option {name!r} requires {nargs} arguments.": "Tùy chọn {name!r} cần {nargs} giá trị.",
    "{value!r} is not {choice}.": "{value!r} không phải là {choice}.",
    "{value!r} is not one of {choices}.": "{value!r} không phải một trong {choices}.",
    "Did you mean {possibility}?": "Có phải {possibility}?",
    "(Did you mean one of: {possibilities}?)": "(Có phải một trong: {possibilities}?)",
}

_MODULES = ("click.core", "click.decorators", "click.exceptions", "click.formatting", "click.parser",
            "click.types", "click.termui", "click.utils")


def _gettext(message: str) -> str:
    return CATALOG.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    chosen = singular if n == 1 else plural
    return PLURALS.get(chosen, chosen)


def install() -> None:
    """Point click's gettext names at the Vietnamese catalogue (idempotent)."""
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - a click without that module
            continue
        if getattr(module, "_", None) in (gettext.gettext, _gettext):
            module._ = _gettext
        if getattr(module, "ngettext", None) in (gettext.ngettext, _ngettext):
            module.ngettext = _ngettext
