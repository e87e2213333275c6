"""The layering rules of docs/architecture.md, checked on the source: no import cycle between
modules, no use of another module's private names, and no source module over the size a reader
can hold in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import kernelgda

PACKAGE = Path(kernelgda.__file__).parent
#: docs/architecture.md: "no module over about 500 lines".
MAX_LINES = 550


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


def _resolve(name: str, module: str, is_pkg: bool, level: int) -> str:
    if level == 0:
        return name
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _imports(module: str, path: Path, is_pkg: bool, known: set[str]):
    """(target module, imported names) for every import in ``path``, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kernelgda"):
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", module, is_pkg, node.level)
            if not target.startswith("kernelgda"):
                continue
            names = [a.name for a in node.names]
            # "from . import x" imports submodule x
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            if subs:
                for s in subs:
                    yield s, []
            else:
                yield target, names


def _graph():
    mods = list(_modules())
    known = {m for m, _, _ in mods}
    graph, private = {}, []
    for module, path, is_pkg in mods:
        edges = set()
        for target, names in _imports(module, path, is_pkg, known):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target == module or module.startswith(target + "."):
                continue  # a package's own __init__ seen from inside it
            edges.add(target)
            private += [(module, target, n) for n in names if n.startswith("_") and n != "__version__"]
        graph[module] = edges
    return graph, private


def test_no_import_cycle():
    graph, _ = _graph()
    # Package __init__ modules re-export their children; an edge child -> parent package is an
    # import of the re-exported API and is fine as long as the parent does not come back down
    # through that child, which a cycle search over the whole graph catches.
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, ()):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_no_private_names_across_modules():
    _, private = _graph()
    assert not private, f"modules importing another module's private names: {private}"


def test_no_attribute_access_to_private_names_of_other_modules():
    offenders = []
    for module, path, _ in _modules():
        tree = ast.parse(path.read_text())
        imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                    for a in n.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in imported and node.value.id not in ("self", "cls")):
                offenders.append(f"{module}: {node.value.id}.{node.attr}")
    assert not offenders, f"private names reached through a module: {offenders}"


def test_modules_stay_small():
    big = {m: n for m, p, _ in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_layers_point_one_way():
    graph, _ = _graph()
    wrong = []
    for module, targets in graph.items():
        for t in targets:
            if t.startswith("kernelgda.cli") and not module.startswith("kernelgda.cli") \
                    and module != "kernelgda.__main__":
                wrong.append(f"{module} -> {t} (the library never imports the CLI)")
            if t.startswith("kernelgda.experiments") and not module.startswith(("kernelgda.experiments",
                                                                                "kernelgda.cli")):
                wrong.append(f"{module} -> {t} (only the CLI runs experiments)")
            if (module.startswith("kernelgda.experiments.") and t.startswith("kernelgda.experiments.")
                    and not t.rsplit(".", 1)[1].startswith("_")):
                wrong.append(f"{module} -> {t} (experiments do not import each other)")
    assert not wrong, wrong
