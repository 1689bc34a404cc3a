"""The package's imports run one way: no cycle between ttscli modules, found statically."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> tuple[set[str], list[str]]:
    """ttscli modules imported at module level, and those imported inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: set[str] = set()
    nested: list[str] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names = [f"{base}.{alias.name}" for alias in node.names]
        return [name if name in known else base for name in names]

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only: never executed
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in targets(child):
                    if target.split(".")[0] != "ttscli" or target == module:
                        continue
                    (nested.append(target) if in_function else top.add(target))
            inside = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            visit(child, inside, type_checking)

    visit(tree, False, False)
    return {t for t in top if t in known}, [t for t in nested if t in known]


def _graph() -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    known = set(files)
    top, nested = {}, {}
    for name, path in files.items():
        top[name], nested[name] = _imports(path, known)
    return top, nested


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_import_cycle_even_counting_imports_inside_functions() -> None:
    """A function-level import only hides a cycle: both kinds count as edges."""
    top, nested = _graph()
    edges = {name: top[name] | set(nested[name]) for name in top}
    # A package's __init__ re-exporting its modules is not an edge back from them.
    for name in edges:
        edges[name] = {t for t in edges[name] if not name.startswith(t + ".")}
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_checker_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


ENGINE_PACKAGES = ("ttscli.fs2", "ttscli.kyutai")
CALLERS = ("ttscli.cli", "ttscli.serve", "ttscli.cluster", "ttscli.run", "ttscli.api")
"""They drive engines only through the registry and the protocol in ``ttscli.engines``."""


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _all_imports() -> dict[str, set[str]]:
    top, nested = _graph()
    return {name: top[name] | set(nested[name]) for name in top}


def test_callers_reach_engines_only_through_the_registry() -> None:
    edges = _all_imports()
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in edges.items()
        if _within(name, CALLERS)
        for target in targets
        if _within(target, (*ENGINE_PACKAGES, "ttscli.lab"))
    )
    assert not wrong, wrong


def test_the_product_never_imports_the_lab() -> None:
    edges = _all_imports()
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in edges.items()
        if not _within(name, ("ttscli.lab",))
        for target in targets
        if _within(target, ("ttscli.lab",))
    )
    assert not wrong, wrong


def test_the_corpus_and_training_steps_do_not_import_each_other_both_ways() -> None:
    edges = _all_imports()

    def reaches(source: str, target: str) -> bool:
        return any(
            _within(name, (source,)) and _within(t, (target,))
            for name, targets in edges.items()
            for t in targets
        )

    corpus, train = "ttscli.lab.corpus", "ttscli.lab.train"
    assert not (reaches(corpus, train) and reaches(train, corpus))


def test_the_boundary_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    """The checks above read real files: a caller that imports an engine is found."""
    package = tmp_path / "ttscli" / "serve"
    package.mkdir(parents=True)
    (package / "bad.py").write_text("from ttscli.fs2.engine import FS2Engine\n")
    known = {"ttscli.serve.bad", "ttscli.fs2.engine"}
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        top, _ = _imports(package / "bad.py", known)
    finally:
        SRC = saved
    assert any(_within(t, ENGINE_PACKAGES) for t in top)
