"""The import rules a newcomer can rely on (docs/architecture.md), enforced on every CI run.

- ``registry`` never imports ``pzforge``;
- no import cycles between modules, in either package (imports inside functions count);
- no module imports another module's ``_private`` names;
- rooms only import rooms below them (LAYERS), never a neighbour on the same floor;
- rules and workflows import only ``pzforge``; scripts import only ``pzforge``; nothing in
  ``pzforge`` or ``registry`` imports the scripts.

The checker reads the source (``ast``), so a function-level import is an arrow like any other.
Its own test builds a small tree with a cycle, a ``registry -> pzforge`` import and a private
import, and asserts each is reported: the rules can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pzforge", "registry")
# Rooms of pzforge, lowest first; a room may import rooms on lower floors only.
LAYERS: list[set[str]] = [
    {"__init__", "errors", "faults", "paths", "secrets", "sky", "strings", "tables"},
    {"io"},
    {"config"},
    {"tiles", "products"},
    {"combine", "training_set", "embedding"},
    {"pipelines", "provenance"},
    {"workflow"},
    {"server"},
    {"client"},
    {"cli"},
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts are loaded by Alembic, not imported
                continue
            out[module_name(path, root)] = path
    return out


def imports_of(path: Path, name: str, known: set[str]) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    type_only = set()  # imports under `if TYPE_CHECKING:` are annotations, not arrows
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            names = [alias.name for alias in node.names]
            # ``from pkg import submodule`` is an arrow to the submodule
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            rest = [n for n in names if f"{base}.{n}" not in known]
            out += [(s, [], node.lineno) for s in subs]
            if rest or not subs:
                out.append((base, rest, node.lineno))
    return out


def _target(imported: str, known: set[str]) -> str | None:
    """The known module an import refers to (``pzforge.io.read_json`` -> ``pzforge.io``)."""
    parts = imported.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in known:
            return candidate
    return None


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def floor(room_name: str) -> int | None:
    return next((i for i, rooms in enumerate(LAYERS) if room_name in rooms), None)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_tree(root: Path, packages: Iterable[str] = PACKAGES) -> list[str]:
    """Every broken import rule in the tree at ``root``, one readable line each."""
    mods = modules(root, packages)
    known = set(mods)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    problems = []
    for name, path in mods.items():
        where = f"{path.relative_to(root)}"
        for imported, names, line in imports_of(path, name, known):
            top = imported.split(".")[0]
            if name.startswith("registry") and top == "pzforge":
                problems.append(f"{where}:{line}: registry imports pzforge ({imported})")
            if top == "scripts":
                problems.append(f"{where}:{line}: imports a Snakemake script ({imported})")
            target = _target(imported, known)
            if target is None:
                continue
            if target != name:
                graph[name].add(target)
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != name:
                problems.append(f"{where}:{line}: imports private {private} from {target}")
            if name.startswith("pzforge.") and target.startswith("pzforge"):
                src, dst = room(name), room(target)
                fs, fd = floor(src), floor(dst)
                if fs is None:
                    problems.append(
                        f"{where}: room {src!r} is not in LAYERS (docs/architecture.md)"
                    )
                elif fd is not None and src != dst and fd >= fs:
                    problems.append(
                        f"{where}:{line}: {src} (floor {fs}) imports {dst} (floor {fd}); "
                        "arrows point down only"
                    )
    for cycle in find_cycles(graph):
        problems.append(f"import cycle: {' -> '.join(cycle)}")
    return problems


def check_glue(root: Path) -> list[str]:
    """Rules, workflows and scripts import pzforge only (scripts: never registry or each other)."""
    problems = []
    smk = [root / "Snakefile", *root.glob("rules/*.smk"), *(root / "workflows").rglob("*.smk")]
    for path in smk:
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r"\s*(?:from|import)\s+([\w.]+)", line)
            if m and m.group(1).split(".")[0] not in ("pzforge", "snakemake"):
                problems.append(f"{path.relative_to(root)}:{line_no}: imports {m.group(1)}")
    for path in sorted((root / "scripts").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                if top not in ("pzforge", "typing", "snakemake"):
                    problems.append(f"{path.relative_to(root)}: imports {node.module}")
    return problems


def test_import_rules_hold():
    assert check_tree(ROOT) == []


def test_rules_and_scripts_only_reach_pzforge():
    assert check_glue(ROOT) == []


def test_every_room_has_a_floor():
    rooms = {p.name if p.is_dir() else p.stem for p in (ROOT / "pzforge").iterdir()}
    rooms = {r for r in rooms if not r.startswith((".", "_")) or r == "__init__"} - {"__pycache__"}
    assert rooms <= set().union(*LAYERS), rooms - set().union(*LAYERS)


def test_scripts_are_one_call_named_after_their_rules():
    rules = set()
    for path in [*ROOT.glob("rules/*.smk"), *(ROOT / "workflows").rglob("*.smk")]:
        text = path.read_text()
        for rule, script in re.findall(
            r"rule (\w+):.*?script:\s*\"(?:\.\./)+scripts/(\w+)\.py\"", text, re.S
        ):
            assert rule == script, f"rule {rule} runs scripts/{script}.py"
            rules.add(rule)
        # rules made in a loop are named `f"<rule>_{KEY}"` and run scripts/<rule>.py
        for rule, script in re.findall(
            r"rule:\s*name:\s*f\"([a-z_]+?)_\{\w+\}\".*?script:\s*\"(?:\.\./)+scripts/(\w+)\.py\"",
            text,
            re.S,
        ):
            assert rule == script, f"rule {rule}_* runs scripts/{script}.py"
            rules.add(rule)
        for rule in re.findall(r"^\s*rule (\w+):", text, re.M):
            assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)+|all", rule), f"rule {rule} is not verb_object"
    scripts = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    assert scripts == rules, scripts ^ rules
    for path in (ROOT / "scripts").glob("*.py"):
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        assert len(lines) <= 40, f"{path.name} has {len(lines)} lines; logic belongs in pzforge/"


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    (tmp_path / "pzforge" / "combine").mkdir(parents=True)
    (tmp_path / "registry").mkdir()
    (tmp_path / "pzforge" / "__init__.py").write_text("")
    (tmp_path / "pzforge" / "combine" / "__init__.py").write_text("")
    (tmp_path / "pzforge" / "io.py").write_text("from pzforge.sky import arc\n")
    (tmp_path / "pzforge" / "sky.py").write_text("def f():\n    from pzforge import io\n")
    (tmp_path / "pzforge" / "combine" / "a.py").write_text("from pzforge.combine.b import _x\n")
    (tmp_path / "pzforge" / "combine" / "b.py").write_text("_x = 1\n")
    (tmp_path / "registry" / "__init__.py").write_text("")
    (tmp_path / "registry" / "store.py").write_text("import pzforge.io\n")
    return tmp_path


def test_the_checker_reports_cycles_private_imports_and_upward_arrows(broken_tree):
    problems = "\n".join(check_tree(broken_tree))
    assert "registry imports pzforge" in problems
    assert "import cycle: pzforge.io -> pzforge.sky" in problems
    assert "imports private ['_x'] from pzforge.combine.b" in problems
    assert "sky (floor 0) imports io (floor 1)" in problems
