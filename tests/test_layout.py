"""The package layout stays true: no import circles, no private name crossing a package.

These tests read the source with :mod:`ast` (nothing is imported), so a new module is checked the
moment it exists. Imports under ``if TYPE_CHECKING:`` do not run and are left out; imports inside
functions do run (later) and count, since a lazy import that closes a circle is still a circle.
"""

from __future__ import annotations

import ast
import functools
import graphlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "mcp_distill"
PACKAGE = "mcp_distill"


@dataclass(frozen=True)
class Imported:
    """One name an import statement brings in: ``module`` (resolved) and the ``name`` taken from it."""

    importer: str
    module: str
    name: str | None
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def package_of(module: str, modules: dict[str, Path]) -> str:
    """The package a module belongs to: itself for a package's ``__init__``, else its parent."""
    if modules[module].name == "__init__.py":
        return module
    return module.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


@functools.cache
def _rebound(path: Path, package: str, submodules: frozenset[str]) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(a.asname or a.name for a in node.names if f"{node.module}.{a.name}" not in submodules)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return frozenset(n for n in names if f"{package}.{n}" in submodules)


def rebound_in_init(package: str, modules: dict[str, Path]) -> frozenset[str]:
    """Submodule names a package's ``__init__`` binds to something else (``from .normalize import normalize``):
    ``from package import normalize`` then takes the function, not the module."""
    path = modules.get(package)
    if path is None or path.name != "__init__.py":
        return frozenset()
    return _rebound(path, package, frozenset(modules))


def imports_of(importer: str, path: Path, modules: dict[str, Path]) -> list[Imported]:
    """What ``importer`` imports from inside the package; ``from pkg import mod`` counts as module ``pkg.mod``,
    and ``mod._name`` read through such a module alias counts as importing ``_name`` from it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Imported] = []
    aliases: dict[str, str] = {}  # local name -> module it stands for
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in modules:
                    found.append(Imported(importer, a.name, None, node.lineno))
                    if a.asname:
                        aliases[a.asname] = a.name
            continue
        source = _resolve(importer, path, node)
        if source.partition(".")[0] != PACKAGE:
            continue
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in modules and alias.name not in rebound_in_init(source, modules):
                found.append(Imported(importer, submodule, None, node.lineno))
                aliases[alias.asname or alias.name] = submodule
            else:
                found.append(Imported(importer, source, alias.name, node.lineno))
    found += [Imported(importer, aliases[n.value.id], n.attr, n.lineno) for n in ast.walk(tree)
              if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases]
    return found


def import_graph() -> tuple[dict[str, Path], list[Imported]]:
    modules = all_modules()
    edges = [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]
    return modules, edges


def packages_run_first(importer: str, target: str, modules: dict[str, Path]) -> set[str]:
    """The package ``__init__`` modules Python runs before ``target`` when ``importer`` imports it: the
    target's enclosing packages, except those enclosing the importer (already imported by then)."""
    parts = target.split(".")
    enclosing = {".".join(parts[:i]) for i in range(1, len(parts))}
    mine = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
    return {p for p in enclosing - mine if p in modules}


def test_the_walker_sees_the_package():
    # The checks below would pass vacuously if the walk found nothing.
    modules, edges = import_graph()
    assert "mcp_distill.store.interface" in modules and "mcp_distill.server.context" in modules
    assert any(e.importer == "mcp_distill.store" and e.module == "mcp_distill.store.interface" for e in edges)


def module_graph(modules: dict[str, Path], edges: list[Imported]) -> dict[str, set[str]]:
    """importer -> the modules Python runs when it runs (what it imports and the packages around them)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for edge in edges:
        if edge.module in modules and edge.module != edge.importer:
            graph[edge.importer].add(edge.module)
            graph[edge.importer].update(packages_run_first(edge.importer, edge.module, modules))
    return graph


def circle_in(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_import_circles():
    circle = circle_in(module_graph(*import_graph()))
    assert not circle, f"import circle: {' -> '.join(circle)}; move the shared part into a leaf module"


def test_no_private_name_crosses_a_package():
    modules, edges = import_graph()
    crossing = [
        f"{e.importer}:{e.line} imports {e.module}.{e.name}"
        for e in edges
        if e.name and e.name.startswith("_") and not e.name.startswith("__")
        and e.module in modules and package_of(e.module, modules) != package_of(e.importer, modules)
    ]
    assert not crossing, "private names imported across packages (make them public in the owner):\n" + "\n".join(crossing)


# Outside a package, its names come from the package: `from mcp_distill.ledger import recommend`, not from
# `mcp_distill.ledger.routing`, so the modules behind a package can be split or renamed without touching its
# users. A package is a folder right under mcp_distill/ (its sub-folders belong to it); the top-level modules
# (score.py, pipeline.py...) are their own. Two kinds of module are imported directly, each for a reason below:
# a package's `repository` (the owner of its tables, which other packages read through it, as in
# `from mcp_distill.collect import repository as collect_repo`), and the modules listed here.
#: Modules the package's `__init__` cannot import without an import circle; checked: an entry whose circle is
#: gone fails (then export its names from the package and drop it).
CIRCLE_BREAKERS = {
    "mcp_distill.collect.collector": "imports the adapters, whose mapping suggestions read collect.sources",
    "mcp_distill.collect.live": "re-scores a run through score.py, which reads collect.runs",
    "mcp_distill.store.copy": "writes a receipt; the receipts package is built on the store",
}
#: Modules a package's `__init__` leaves out to stay light: module -> (what it would pull into the package, why
#: that matters); checked: the package does not reach it today, and would with the module.
KEPT_OUT = {
    "mcp_distill.collect.runs": ("mcp_distill.store", "the adapters, which every collect worker imports, import "
                                 "mcp_distill.collect, and a worker starts without the store"),
}
#: Sub-packages with a public face of their own.
OWN_FACE = {
    "mcp_distill.migrations.pg": "the PostgreSQL migration set, read by the PostgreSQL backend only; "
                                 "the package itself is the SQLite set",
}


def package_face(module: str) -> str:
    """The package whose ``__init__`` is a module's face: ``mcp_distill.X`` for anything under ``mcp_distill/X/``."""
    return ".".join(module.split(".")[:2])


def may_be_imported_directly(module: str) -> bool:
    return module.split(".")[2:] == ["repository"] or module in CIRCLE_BREAKERS or module in KEPT_OUT \
        or module in OWN_FACE


def package_bypasses(modules: dict[str, Path], edges: list[Imported]) -> list[Imported]:
    """Imports from another package's modules instead of from the package itself."""
    return [e for e in edges if e.module in modules and (face := package_face(e.module)) != e.module
            and face in modules and modules[face].name == "__init__.py" and package_face(e.importer) != face
            and not may_be_imported_directly(e.module)]


def test_other_packages_import_through_the_package():
    modules, edges = import_graph()
    bypassing = package_bypasses(modules, edges)
    found = [f"{e.importer}:{e.line} imports {e.module}" + (f".{e.name}" if e.name else "") for e in bypassing]
    assert not found, ("import these from the package (export them in its __init__ and __all__):\n"
                       + "\n".join(found))


def test_each_circle_breaker_still_breaks_a_circle():
    modules, edges = import_graph()
    for module in CIRCLE_BREAKERS:
        graph = module_graph(modules, edges)
        graph[package_face(module)].add(module)
        assert circle_in(graph), f"{package_face(module)} can import {module} now: export its names, drop the entry"


def loaded_by(module: str, watched: str) -> bool:
    """Whether a fresh interpreter importing ``module`` loads ``watched`` (at import time, lazy imports aside)."""
    code = f"import sys, {module}; print({watched!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_each_module_kept_out_would_weigh_its_package_down():
    for module, (heavy, why) in KEPT_OUT.items():
        face = package_face(module)
        assert not loaded_by(face, heavy), f"{face} loads {heavy} already ({why}): export {module}'s names"
        assert loaded_by(module, heavy), f"{module} no longer loads {heavy}: export its names from {face}"


def bound_names(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level (imports, assignments, definitions)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return None


def test_each_package_declares_what_it_exports():
    for path in sorted(PACKAGE_ROOT.glob("*/__init__.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exported = declared_all(tree)
        package = path.parent.name
        assert exported is not None, f"mcp_distill/{package}/__init__.py has no __all__"
        assert len(exported) == len(set(exported)), f"{package}: a name twice in __all__"
        missing = sorted(set(exported) - bound_names(tree))
        assert not missing, f"{package}.__all__ names what it does not define or import: {missing}"


# SQL belongs to the package that owns the tables: its repository module runs it through the store.
SQL = re.compile(r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TEMP\w*\s+|VIRTUAL\s+|UNIQUE\s+)*(TABLE|INDEX|TRIGGER|VIEW)|DROP\s+(TABLE|INDEX)|"
                 r"ALTER\s+TABLE)\b")
#: The store's own connection objects: only store/ (and migrations, handed a connection) touch them.
STORE_INTERNALS = {"conn", "db", "lock"}


def may_hold_sql(rel: str) -> bool:
    """A package's repository (a module, or a package of them when one would pass ~400 lines), the store, migrations."""
    return rel.endswith("/repository.py") or "/repository/" in rel or rel.startswith(
        ("mcp_distill/store/", "mcp_distill/migrations/"))


def _docstring_nodes(tree: ast.AST) -> set[int]:
    owners = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, owners) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def sql_and_internals(path: Path) -> list[str]:
    """Line-numbered SQL string literals (docstrings aside) and uses of the store's connection objects."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and SQL.search(node.value):
            found.append(f"{node.lineno}: SQL {node.value.strip()[:60]!r}")
        elif isinstance(node, ast.Attribute) and node.attr in STORE_INTERNALS:
            found.append(f"{node.lineno}: .{node.attr}")
    return found


def sql_outside_repositories() -> dict[str, list[str]]:
    found = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        rel = path.relative_to(PACKAGE_ROOT.parent).as_posix()
        if not may_hold_sql(rel) and (hits := sql_and_internals(path)):
            found[rel] = hits
    return found


def test_the_sql_scan_sees_sql():
    # the repositories and the store do hold SQL: a scan that finds none there is broken
    assert sql_and_internals(PACKAGE_ROOT / "store" / "sqlite.py")
    assert any(sql_and_internals(p) for p in PACKAGE_ROOT.rglob("repository.py"))


def test_no_sql_outside_repositories_and_the_store():
    found = sql_outside_repositories()
    assert not found, "SQL or store internals outside a package's repository module (move it there):\n" + "\n".join(
        f"{rel}:{hit}" for rel, hits in found.items() for hit in hits)


# Files stay readable in one sitting and functions on one screen or two (migrations' DDL aside).
FILE_MAX_LINES = 420
FUNCTION_MAX_LINES = 80
#: Files and functions still above the limits while they are split (none left). Only shrinks: an entry that is
#: within the limits fails the test below.
OVERSIZED: set[str] = set()


def oversized() -> set[str]:
    found = set()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        rel = path.relative_to(PACKAGE_ROOT.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > FILE_MAX_LINES:
            found.add(rel)
        if "/migrations/" in rel:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.end_lineno - node.lineno + 1 > FUNCTION_MAX_LINES:  # type: ignore[operator]
                found.add(f"{rel}:{node.name}")
    return found


def test_files_and_functions_stay_small():
    found = oversized()
    new = sorted(found - OVERSIZED)
    assert not new, (f"over {FILE_MAX_LINES} lines per file or {FUNCTION_MAX_LINES} per function "
                     f"(split by concept): {new}")
    done = sorted(OVERSIZED - found)
    assert not done, f"within the limits now: take them off OVERSIZED: {done}"
