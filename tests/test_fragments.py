"""Every Streamlit fragment in the pages is called as the only thing in a container of its own.

Streamlit 1.67 can drop a full run's unsent fragment deltas when a fragment run starts right after it
(seen on a loaded server by tests/browser/test_many_users.py). The browser then removes that fragment's
element as stale, the elements after it move up one place, and the next fragment update addresses an
index the page no longer has: "Bad delta path index", a blank page. A fragment alone in its container
has no elements after it, so its updates always land."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "pages").glob("*.py"))


def is_fragment_decorator(node: ast.expr) -> bool:
    """`@st.fragment` or `@st.fragment(...)`."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr == "fragment"


def fragment_calls(tree: ast.Module) -> list[ast.Call]:
    """Calls of functions decorated as fragments, and inline `st.fragment(f, ...)(...)` calls."""
    names = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
             and any(is_fragment_decorator(d) for d in f.decorator_list)}
    return [c for c in ast.walk(tree) if isinstance(c, ast.Call) and (
        (isinstance(c.func, ast.Name) and c.func.id in names)
        or (isinstance(c.func, ast.Call) and is_fragment_decorator(c.func.func)))]


def alone_in_a_container(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    stmt = parents[call]
    block = parents.get(stmt)
    return (isinstance(stmt, ast.Expr) and isinstance(block, ast.With) and block.body == [stmt]
            and any(isinstance(i.context_expr, ast.Call) and isinstance(i.context_expr.func, ast.Attribute)
                    and i.context_expr.func.attr == "container" for i in block.items))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_fragments_are_alone_in_their_containers(page: Path) -> None:
    tree = ast.parse(page.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bad = [f"line {c.lineno}" for c in fragment_calls(tree) if not alone_in_a_container(c, parents)]
    assert not bad, f"{page.name}: fragment called outside a container of its own at {bad}"


def test_the_check_finds_the_fragments() -> None:
    """The pages with timed fragments are seen (a check that finds nothing proves nothing)."""
    found = {p.name: len(fragment_calls(ast.parse(p.read_text()))) for p in PAGES}
    assert found["webcam.py"] == 3 and found["train.py"] == 1, found
    bad = ast.parse("import streamlit as st\n@st.fragment\ndef f(): pass\nf()\nst.write(1)\n")
    parents = {child: node for node in ast.walk(bad) for child in ast.iter_child_nodes(node)}
    assert not alone_in_a_container(fragment_calls(bad)[0], parents)
