"""No function in src/physml spans more than 60 lines (issue 34): a long function is split by what each
part does. Counted from its first decorator (or `def`) to its last line, docstring and comments included;
ruff's statement count does not measure lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "physml"
MAX_LINES = 60


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """Every function and method in `tree`, nested ones too, as (qualified name, lines it spans)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            yield f"{prefix}{node.name}", node.end_lineno - first + 1
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def test_no_function_spans_more_than_60_lines():
    paths = sorted(SOURCE.rglob("*.py"))
    assert paths, f"no source files under {SOURCE}"
    too_long = [
        f"{path.relative_to(SOURCE.parents[1])}:{name}:{lines}"
        for path in paths
        for name, lines in functions(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if lines > MAX_LINES
    ]
    assert not too_long, f"functions over {MAX_LINES} lines (split them by what each part does):\n" + "\n".join(
        too_long
    )


def test_the_count_starts_at_the_first_decorator():
    source = "@first\n@second\ndef f():\n    '''Why.'''\n    return 1\n\n\nclass C:\n    def m(self):\n        pass\n"
    assert dict(functions(ast.parse(source))) == {"f": 5, "C.m": 2}
