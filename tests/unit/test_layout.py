"""The house's shape, checked from the source: imports flow one way (cogs → bot, never back),
no module imports itself round a loop, and files and functions stay small.

Every import counts, those inside functions and under TYPE_CHECKING too: a loop that only the
type checker sees is still a loop a reader has to untangle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cogs")
MAX_FILE_LINES = 320  # "about 300"
MAX_FUNCTION_LINES = 45  # "about 40"
MAX_CALLBACK_LINES = 30  # "about 25": what Discord calls (commands, buttons, modals, listeners)
CALLBACK_NAMES = {"callback", "act", "on_submit", "on_message", "on_error"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's generated scripts follow Alembic's shape
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports, resolved to the most specific module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.add(candidate if candidate in MODULES else base)
    return {_known(t) for t in targets if _known(t)} - {name}


def _known(target: str) -> str:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_the_walk_sees_the_project() -> None:
    assert "bot.service" in GRAPH and "cogs.buttons" in GRAPH
    assert "bot.inputs" in GRAPH["cogs.refine"]
    assert "bot.router" in GRAPH["bot.service"]


def test_bot_imports_nothing_from_cogs() -> None:
    upward = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith("bot")
        for target in targets
        if target.startswith("cogs")
    }
    assert not upward, f"bot/ must not import cogs/: {sorted(upward)}"


def test_no_import_cycles() -> None:
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_the_cycle_check_catches_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: a planted loop is reported."""
    monkeypatch.setitem(GRAPH, "bot.domain", GRAPH["bot.domain"] | {"bot.service"})
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycles()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_files_and_functions_stay_small(name: str) -> None:
    path = MODULES[name]
    source = path.read_text()
    assert source.count("\n") <= MAX_FILE_LINES, f"{path.name} is over {MAX_FILE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # The body: a signature of many keyword options is not a long function.
            length = (node.end_lineno or node.lineno) - node.body[0].lineno + 1
            limit = MAX_CALLBACK_LINES if _is_callback(node) else MAX_FUNCTION_LINES
            assert length <= limit, f"{name}.{node.name} is {length} lines (limit {limit})"


def _is_callback(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if node.name in CALLBACK_NAMES:
        return True
    return any(
        "command" in ast.unparse(d) or "listener" in ast.unparse(d) for d in node.decorator_list
    )
