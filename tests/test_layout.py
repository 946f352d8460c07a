"""The package layout (DESIGN.md, "Layout"): subpackages that follow the data flow, no import cycles,
no private name imported across modules, a declared public API."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

KG = Path(__file__).resolve().parent.parent / "kg"
SUBPACKAGES = {"model", "io", "check", "derive", "publish", "curate", "serve", "cli"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(KG.rglob("*.py")):
        parts = path.relative_to(KG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> list[tuple[str, list[str], int]]:
    """(module imported, names imported from it, line) for every import, at any depth of the file."""
    found = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "kg"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "kg":
                continue
            for alias in node.names:  # `from kg.io import atomic` imports the module kg.io.atomic
                sub = f"{base}.{alias.name}"
                found.append((sub, [], node.lineno) if sub in known else (base, [alias.name], node.lineno))
    return found


def test_modules_live_in_the_subpackages() -> None:
    top = {p.name for p in KG.glob("*.py")}
    assert top == {"__init__.py", "__main__.py"}, top
    assert {p.name for p in KG.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == SUBPACKAGES
    assert (KG / "py.typed").exists()


def test_no_import_cycles() -> None:
    mods = modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        for target, _names, _line in imports(path, name, set(mods)):
            if target != name and target in mods and target != "kg":
                graph.add_edge(name, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def test_no_private_name_imported_across_modules() -> None:
    mods = modules()
    bad = [f"{path.relative_to(KG.parent)}:{line}: {target}.{n}"
           for name, path in mods.items() for target, names, line in imports(path, name, set(mods))
           for n in names if n.startswith("_") and n != "__version__"]
    assert bad == []


def test_every_library_module_declares_its_public_api() -> None:
    missing = []
    for name, path in modules().items():
        if name.startswith("kg.cli") or path.name in ("__init__.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared = [n for n in tree.body if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
        if not declared:
            missing.append(name)
            continue
        names = ast.literal_eval(declared[0].value)
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}
        defined |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                    for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
                    for t in ast.walk(target) if isinstance(t, ast.Name)}
        defined |= {a.asname or a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                    for a in n.names}
        assert not set(names) - defined, f"{name}: __all__ names {sorted(set(names) - defined)} that it does not define"
    assert missing == []


def test_tests_mirror_the_package() -> None:
    """tests/<subpackage>/test_*.py for the code of kg/<subpackage>/; at the top only what spans them."""
    tests = Path(__file__).resolve().parent
    folders = {p.parent.name for p in tests.glob("*/test_*.py")}
    assert folders <= SUBPACKAGES, folders - SUBPACKAGES
    assert {p.name for p in tests.glob("test_*.py")} == {"test_layout.py", "test_nonetwork.py", "test_packaging.py"}
