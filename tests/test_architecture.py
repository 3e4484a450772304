"""The house's walls: fer/'s subpackages in layers, no import cycle in fer/, no Streamlit under fer/, no
TensorFlow imported at the top of app.py, pages/ or ui/ (the app starts before TensorFlow; fer.tfenv and the
warm-up import it)."""

import ast
from pathlib import Path

import grimp
import pytest

from tests.helpers import ROOT

HEAVY = ("tensorflow", "keras")
LAYERS = (
    grimp.Layer("cli"),
    grimp.Layer("jobs", "media"),
    grimp.Layer("train"),
    grimp.Layer("model"),
    grimp.Layer("data"),
    grimp.Layer("vision"),
    grimp.Layer("config", "labels", "paths", "i18n", "schema", "tfenv", "files", "csvcells", independent=False),
)
"""fer's layers, highest first: a module imports only from its own layer or lower ones (docs/architecture.md);
the subpackages within one layer do not import each other. data is above vision: a photos dataset finds each
photo's face with the app's detector (fer.data.photos); vision never reads a dataset."""
UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """fer's import graph, every import counted (also those inside functions)."""
    return grimp.build_graph("fer", include_external_packages=True)


def test_fer_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    fer = sorted(m for m in graph.modules if m == "fer" or m.startswith("fer."))
    cycles = []
    for a in fer:
        for b in sorted(graph.find_modules_directly_imported_by(a)):
            if b.startswith("fer") and graph.chain_exists(importer=b, imported=a):
                lines = [d["line_number"] for d in graph.get_import_details(importer=a, imported=b)]
                cycles.append(f"{a} -> {b} (line {lines}) -> ... -> {a}")
    assert cycles == []


def layer_breaches(graph: grimp.ImportGraph) -> list[str]:
    """Each import that goes up a layer or across between independent subpackages, as 'importer -> imported'."""
    found = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers={"fer"})
    return sorted(f"{sorted(route.heads)} -> {sorted(route.tails)}" for dep in found for route in dep.routes)


def test_fer_subpackages_import_only_downwards(graph: grimp.ImportGraph) -> None:
    assert layer_breaches(graph) == []


def streamlit_importers(graph: grimp.ImportGraph) -> set[str]:
    """The fer modules that import streamlit, directly or through another package."""
    if "streamlit" not in graph.modules:  # nothing under fer/ imports it at all
        return set()
    return {m for m in graph.find_downstream_modules("streamlit") if m == "fer" or m.startswith("fer.")}


def test_fer_never_imports_streamlit(graph: grimp.ImportGraph) -> None:
    assert streamlit_importers(graph) == set()


def top_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of the imports a file runs when it is imported: its module body, including if/try
    blocks there, but not inside functions or classes."""
    found: list[tuple[int, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(ast.parse(path.read_text()).body)
    return found


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_tensorflow_at_the_top_of_the_app(path: Path) -> None:
    heavy = [(line, m) for line, m in top_level_imports(path) if m.split(".")[0] in HEAVY]
    assert heavy == [], f"{path.name} imports {heavy} when it is imported: import it where it is needed"
    fer_heavy = []  # nor a fer module that imports TensorFlow at its own top
    for _, m in top_level_imports(path):
        if m.startswith("fer."):
            module_path = ROOT / (m.replace(".", "/") + ".py")
            if module_path.exists():
                fer_heavy += [(m, x) for _, x in top_level_imports(module_path) if x.split(".")[0] in HEAVY]
    assert fer_heavy == [], f"{path.name} imports fer modules that import TensorFlow at their top: {fer_heavy}"


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """The walls would catch a breach: a top-level import in an if block and a cycle are found."""
    sample = tmp_path / "page.py"
    sample.write_text("import os\nif True:\n    import tensorflow as tf\ndef f():\n    import keras\n")
    assert top_level_imports(sample) == [(1, "os"), (3, "tensorflow")]
    g = grimp.ImportGraph()
    for m in ("fer", "fer.a", "fer.b"):
        g.add_module(m)
    g.add_import(importer="fer.a", imported="fer.b")
    g.add_import(importer="fer.b", imported="fer.a")
    assert g.chain_exists(importer="fer.b", imported="fer.a") and g.chain_exists(importer="fer.a", imported="fer.b")
    layered = grimp.build_graph("fer")
    layered.add_import(importer="fer.vision.detection", imported="fer.cli.main")  # up from the lowest subpackages
    layered.add_import(importer="fer.jobs.runs", imported="fer.media.live")  # across one layer
    assert layer_breaches(layered) == ["['fer.jobs.runs'] -> ['fer.media.live']",
                                       "['fer.vision.detection'] -> ['fer.cli.main']"]
    g.add_module("streamlit")
    g.add_import(importer="fer.b", imported="streamlit")
    assert streamlit_importers(g) == {"fer.a", "fer.b"}
