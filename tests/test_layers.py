"""The intake path stands below the reports: nothing it imports writes a report, not even lazily.

The imports are read from the source (ast), module-level and inside functions alike, and
followed through mailbot/ and parsers/ from mailbot.intake; `importlib.import_module("…")` with
a written name and the workers' "module:function" targets count as imports too.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("mailbot", "parsers")
# What writes reports: our report modules, and the libraries only they need (the workbook, the
# calendar, the Word document; Word files received are read by parsers/docx_grid.py, not python-docx).
REPORT_WRITER = re.compile(r"^(?:mailbot\.report(?:_\w+)?|openpyxl|icalendar|docx)(?:\.|$)")
_TARGET = re.compile(r"^(?:mailbot|parsers)(?:\.\w+)+:\w+$")


def module_file(root: Path, name: str) -> Path | None:
    """The source file of one of our modules, None for anything else (a library, a class)."""
    if name.split(".")[0] not in OURS:
        return None
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def imported_names(root: Path, name: str) -> set[str]:
    """Every module name `name`'s source imports, anywhere in the file."""
    path = module_file(root, name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from mailbot import report`
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.add(node.args[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _TARGET.match(node.value):
            out.add(node.value.partition(":")[0])
    for n in list(out):  # importing a.b.c runs a and a.b first
        parts = n.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


def report_writers_reached(root: Path, start: str = "mailbot.intake") -> dict[str, list[str]]:
    """Each report writer reachable from `start`, with the chain of imports that reaches it."""
    seen = {start: [start]}
    todo = deque([start])
    found: dict[str, list[str]] = {}
    while todo:
        name = todo.popleft()
        for imported in sorted(imported_names(root, name)):
            if imported in seen:
                continue
            seen[imported] = seen[name] + [imported]
            if REPORT_WRITER.match(imported):
                found[imported] = seen[imported]
            elif module_file(root, imported) is not None:
                todo.append(imported)
    return found


def test_nothing_in_the_intake_path_imports_a_report_writer():
    assert report_writers_reached(ROOT) == {}


def test_the_walk_sees_imports_inside_functions_and_through_other_modules(tmp_path):
    """The check itself: a lazy import two modules away, a relative one, and a worker target."""
    for name, text in {
        "mailbot/__init__.py": "",
        "mailbot/intake.py": "from mailbot import letters\nfrom . import work\n",
        "mailbot/letters.py": "def attach():\n    from mailbot import report\n    return report\n",
        "mailbot/report.py": "import openpyxl\n",
        "mailbot/work.py": 'TARGET = "parsers.sheet:read"\n',
        "parsers/__init__.py": "",
        "parsers/sheet.py": "def read():\n    import importlib\n    return importlib.import_module('icalendar')\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = report_writers_reached(tmp_path)
    assert found["mailbot.report"] == ["mailbot.intake", "mailbot.letters", "mailbot.report"]
    assert found["icalendar"] == ["mailbot.intake", "mailbot.work", "parsers.sheet", "icalendar"]
    assert "openpyxl" not in found  # reached only through a report module, which is not followed


def test_a_poll_or_the_daemon_loads_no_report_library_until_a_digest_is_made():
    """The digest reads the reports, but only when it is made: a process that polls pays nothing for them."""
    code = ("import sys; import mailbot.jobs, mailbot.daemon; print(sorted(m for m in sys.modules "
            "if m in ('openpyxl', 'icalendar', 'docx') or m.startswith('mailbot.report')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
