"""The import rule: each layer imports only layers below it, and no modules import each other in a circle.

Layers, bottom to top: the text helpers, records, errors, settings and citations (with the embedding
models beside them); the indexes; ingest; search; the composition root and the JSON shapes; the
front ends. Imports inside functions count too: a lazy import that runs up is still an arrow up.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("qa", "embeddings", "web")

# Module prefixes and their layer; the longest matching prefix wins.
LAYERS = {
    "embeddings": 0,
    "qa.text": 0,
    "qa.types": 0,
    "qa.errors": 0,
    "qa.settings": 0,
    "qa.citations": 0,
    "qa.access": 0,
    "qa.progress": 0,
    "qa.index": 1,
    "qa.ingest": 2,
    "qa.search": 3,
    "qa.app": 4,
    "qa.serialize": 4,
    "qa.serialize_reuse": 4,
    "qa.cli": 5,
    "qa.cli_options": 5,
    "qa.cli_reuse": 5,
    "qa.mcp_server": 5,
    "qa.mcp_summaries": 5,
    "web": 5,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    matches = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, anywhere in it (`from qa.x import y` names qa.x.y when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules}


def test_every_project_module_has_a_layer():
    assert [name for name in project_modules() if layer_of(name) is None and name not in PACKAGES] == []


def test_no_import_runs_up_a_layer():
    modules = project_modules()
    upward = []
    for name, path in modules.items():
        here = layer_of(name)
        for imported in imports_of(path, modules):
            there = layer_of(imported)
            if here is not None and there is not None and there > here:
                upward.append(f"{name} (layer {here}) imports {imported} (layer {there})")
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    modules = project_modules()
    graph = {name: imports_of(path, modules) - {name} for name, path in modules.items()}
    # Importing a package's submodule runs its __init__, but that is no arrow back from the package.
    graph = {name: {m for m in targets if not name.startswith(m + ".")} for name, targets in graph.items()}
    circles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_the_rule_catches_an_upward_import(tmp_path):
    """The check itself can fail: an index module importing search is an arrow up."""
    fake = tmp_path / "qa" / "index" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from qa.search.service import SearchService\n", encoding="utf-8")
    modules = {"qa.index.bad": fake, "qa.search.service": ROOT / "qa" / "search" / "service.py"}
    assert imports_of(fake, modules) == {"qa.search.service"}
    assert layer_of("qa.index.bad") < layer_of("qa.search.service")


MAX_MODULE_LINES = 600  # issue 21: a module past this is doing more than one job; split it by job


def test_no_module_is_longer_than_the_house_limit():
    too_long = {}
    for folder in ("qa", "embeddings", "web", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_MODULE_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert too_long == {}, f"split these modules by job: {too_long}"
