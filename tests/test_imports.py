"""No import circle between the project's modules, lazy (in-function) imports included: a circle
works only while every module of it happens to be imported in one order."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "datasets",
    "engine",
    "losses",
    "noise",
    "models",
    "reports",
    "baselines",
    "perf",
    "scripts",
)


def project_modules() -> dict:
    return {
        (pkg if p.stem == "__init__" else f"{pkg}.{p.stem}"): p
        for pkg in PACKAGES
        for p in (REPO / pkg).glob("*.py")
    }


def imported(name: str, path: Path, modules: dict) -> set:
    """The project modules that `name` imports (a submodule's import of its own package's
    __init__ is not an edge: Python has started it already)."""
    pkg, found = name.split(".")[0], set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module if not node.level else ".".join(filter(None, [pkg, node.module]))
            found |= {f"{base}.{alias.name}" for alias in node.names}
            found |= {base} if node.module else set()
    return {m for m in found if m in modules and m != name}


def find_circle(graph: dict) -> list | None:
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return path + [nxt]
                if nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return None


def test_no_import_circle():
    modules = project_modules()
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert find_circle(graph) is None


def test_the_check_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


DOMAIN = ("datasets", "losses", "models", "noise")


# The floors, lowest first: a package imports only packages of its own floor or below.
FLOORS = {
    "datasets": 0,
    "losses": 0,
    "models": 0,
    "noise": 0,
    "engine": 1,
    "reports": 2,
    "baselines": 2,
    "perf": 3,
    "scripts": 4,
}


def test_no_lower_floor_imports_a_higher_one():
    """The domain packages never import engine/, engine/ never the reports, no package a
    script (lazy, in-function imports included)."""
    modules = project_modules()
    upward = {
        name: sorted(
            m
            for m in imported(name, path, modules)
            if FLOORS[m.split(".")[0]] > FLOORS[name.split(".")[0]]
        )
        for name, path in modules.items()
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_reading_runs_and_naming_folders_does_not_load_torch():
    """engine/record.py and reports/ read JSON and YAML: no torch, no domain package."""
    import subprocess
    import sys

    probe = (
        "import sys, engine.record, engine.config, reports.tables, reports.side_by_side, "
        "reports.selection, reports.figures\n"
        "print(sorted(m for m in ('torch', 'datasets', 'losses', 'noise', 'models') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "[]", done.stderr


# The one package that must: the authors' modules import each other by bare names ("loss",
# "model"), so their folder goes on sys.path while they are imported, and comes off after.
SYS_PATH_EDITS = {"baselines/official.py"}


def test_packages_do_not_edit_sys_path():
    edits = {
        f"{path.relative_to(REPO)}"
        for pkg in PACKAGES
        if pkg != "scripts"
        for path in (REPO / pkg).glob("*.py")
        if "sys.path" in path.read_text()
    }
    assert edits == SYS_PATH_EDITS


def test_engine_reaches_the_domain_packages_only_through_the_experiment_builder():
    """engine/ is machinery: only engine/experiment.py imports datasets, losses, models or noise
    (others ask it, e.g. train.py for a run's coordinates)."""
    modules = project_modules()
    offenders = {
        name: sorted(m for m in imported(name, path, modules) if m.split(".")[0] in DOMAIN)
        for name, path in modules.items()
        if name.startswith("engine") and name != "engine.experiment"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert any(
        m.split(".")[0] in DOMAIN
        for m in imported("engine.experiment", modules["engine.experiment"], modules)
    )


MAX_FUNCTION_LINES = 80


def test_no_function_is_longer_than_a_screen():
    """Long functions are split by concern (docs/ARCHITECTURE.md); this keeps it so."""
    long = []
    for path in REPO.rglob("*.py"):
        if any(
            part.startswith(".") or part in ("runs", "data")
            for part in path.relative_to(REPO).parts
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length})")
    assert long == []
