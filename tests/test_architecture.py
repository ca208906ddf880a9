"""The layering of docs/architecture.md, checked on the source: who may import whom (lazy and type-only imports
count), no import cycle between modules, no long function, and every promised public name importable."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "molvae"
BASE = {"molvae", "errors", "config", "outputs", "device", "checks"}
# unit -> the units it may import (besides itself and the base modules; errors, config, outputs, device, checks
# import nothing but errors)
ALLOWED = {
    "errors": set(), "config": {"errors"}, "outputs": {"errors"}, "device": {"errors"}, "checks": {"errors"},
    "chemistry": BASE,
    "smiles": BASE | {"chemistry"},
    "model": BASE | {"smiles"},
    "training": BASE | {"chemistry", "smiles", "model"},
    "evaluation": BASE | {"chemistry", "smiles", "model"},
    "optimization": BASE | {"chemistry", "smiles", "model"},
    "generation": BASE | {"chemistry", "smiles", "model"},
    "api": BASE | {"chemistry", "smiles", "model", "training", "evaluation", "optimization", "generation"},
    "cli": BASE | {"chemistry", "smiles", "model", "training", "evaluation", "optimization", "generation", "api"},
}
PUBLIC = ["molvae", "molvae.chemistry", "molvae.smiles", "molvae.model", "molvae.training", "molvae.evaluation",
          "molvae.optimization", "molvae.generation"]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every molvae module a file imports, anywhere in it (top level, inside functions, under TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("molvae")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("molvae"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return found


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "molvae"


def test_every_module_imports_only_the_layers_below_it() -> None:
    modules = _modules()
    broken = []
    for name, path in modules.items():
        unit = _unit(name)
        if unit in ("molvae", "__main__"):
            continue
        for target in _imports(path, modules):
            other = _unit(target)
            if other != unit and other not in ALLOWED[unit]:
                broken.append(f"{name} imports {target}")
    assert broken == []


def test_nothing_below_the_api_imports_it_and_nothing_imports_the_cli() -> None:
    modules = _modules()
    for name, path in modules.items():
        targets = _imports(path, modules)
        assert "molvae.cli" not in targets or name == "molvae.__main__"
        if _unit(name) not in ("api", "cli", "molvae", "__main__"):
            assert "molvae.api" not in targets, name


def test_the_model_never_imports_rdkit_and_chemistry_never_imports_torch() -> None:
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        if _unit(name) == "model":
            assert "rdkit" not in roots and "molvae.chemistry" not in _imports(path, _modules()), name
        if _unit(name) == "chemistry":
            assert "torch" not in roots, name


def test_no_import_cycle_between_modules() -> None:
    modules = _modules()
    graph = {name: {t for t in _imports(path, modules) if t in modules and t != name} for name, path in modules.items()}
    for name in list(graph):  # a package (and the molvae facade) re-exports its modules: not a dependency
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    for name in graph:  # importing molvae.x.y runs molvae.x first: count the package as an import too
        graph[name] |= {t.rsplit(".", 1)[0] for t in graph[name] if t.count(".") == 2} - {name}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1 and not cycle:
                cycle.extend(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycle == []


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long == []


@pytest.mark.parametrize("package", PUBLIC)
def test_every_name_a_package_promises_imports(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no __all__"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


@pytest.mark.parametrize("package", PUBLIC[1:])
def test_no_public_name_hides_a_module_of_its_package(package: str) -> None:
    """``from molvae.optimization import optimize`` must give the module, not a function of the same name."""
    module = importlib.import_module(package)
    submodules = {p.stem for p in Path(module.__file__).parent.glob("*.py")}
    assert not submodules & set(module.__all__)
