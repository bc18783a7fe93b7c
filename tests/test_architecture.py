"""The layering of the project's packages, read from their source with ``ast``.

Every import counts, module-level and function-level alike: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from train import SHARED_SUPERVISOR_ID

ROOT = Path(__file__).parents[1]
PACKAGES = ("hitl_env", "agents", "train", "eval")


def _modules() -> dict[str, ast.Module]:
    """Every module of the project's packages, by dotted name (a package by its own name)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


MODULES = _modules()


def imported(tree: ast.Module) -> set[str]:
    """The modules a module imports anywhere in it (``from a import b``: ``a.b`` if a module, else ``a``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in MODULES else node.module)
    return out


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    return {name: {m for m in imported(tree) if m in MODULES and m != name} for name, tree in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of the graph as a path (first node repeated at the end), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_checker_sees_lazy_imports_and_cycles() -> None:
    tree = ast.parse("import os\ndef f():\n    from eval import pareto\n    import agents.base\n")
    assert imported(tree) == {"os", "eval.pareto", "agents.base"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    assert "eval.pareto" in graph["eval.evaluate"] and "train.config" in graph["eval.pareto"]  # lazy ones count
    assert find_cycle(graph) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] == "hitl_env"))
def test_hitl_env_imports_no_upper_layer(module: str) -> None:
    upward = sorted(m for m in imported(MODULES[module]) if m.split(".")[0] in ("agents", "train", "eval"))
    assert upward == [], f"{module} imports {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] == "agents"))
def test_agents_import_neither_train_nor_eval(module: str) -> None:
    upward = sorted(m for m in imported(MODULES[module]) if m.split(".")[0] in ("train", "eval"))
    assert upward == [], f"{module} imports {upward}"


def _code_strings(tree: ast.Module) -> list[str]:
    """The module's string literals, f-string parts included, leaving out documentation (bare strings)."""
    docs = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]  # fmt: skip


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID, SHARED_SUPERVISOR_ID])
def test_each_env_id_is_written_in_one_module(env_id: str) -> None:
    """A version bump touches only the module that defines the id."""
    homes = [name for name, tree in MODULES.items() if any(env_id in s for s in _code_strings(tree))]
    assert len(homes) == 1, f"{env_id} is written in {homes}"
