"""Who imports whom: the parsers form no import cycle (a module imported inside a function counts too)."""
from __future__ import annotations

import ast
from pathlib import Path

import parsers

PARSERS = Path(parsers.__file__).parent


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports, anywhere in its code."""
    name = package.name
    modules = {p.stem for p in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for module in modules:
        out: set[str] = set()
        for node in ast.walk(ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == name:  # from parsers import docx_grid, safety
                    out.update(a.name for a in node.names if a.name in modules)
                elif node.module.startswith(name + "."):
                    out.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.level == 1:  # from . import x / from .x import y
                out.update([node.module.split(".")[0]] if node.module else
                           [a.name for a in node.names if a.name in modules])
            elif isinstance(node, ast.Import):
                out.update(a.name.split(".")[1] for a in node.names if a.name.startswith(name + "."))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "import_module" and node.args
                  and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith(name + ".")):
                out.add(str(node.args[0].value).split(".")[1])  # importlib.import_module("parsers.convert")
        graph[module] = out - {module, "__init__"} if module != "__init__" else out - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path that closes it."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert not cycles({"a": {"b"}, "b": {"c"}, "c": set()})


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph(PARSERS)
    assert "safety" in graph["docx_grid"] and "convert" in graph["document"]


def test_no_import_cycle_in_parsers():
    assert cycles(import_graph(PARSERS)) == []
