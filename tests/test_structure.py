"""The layout's rules, checked by walking every import in webapp/ (late imports included).

Imports point one way: blueprints → web → services → infra, jobs → services, models import no
service. The one cycle allowed is Flask's blueprint idiom: a package's __init__ makes `bp` and
imports its own route modules, which import `bp` back.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "webapp"


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_graph():
    """{module: {imported webapp module, ...}} over every import statement, wherever it sits."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if is_package else name.rsplit(".", 1)[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rsplit(".", 1)[0]
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def _blueprint_idiom(a, b):
    return b.startswith(a + ".") or a.startswith(b + ".")


def find_cycles(graph):
    """Every strongly connected group of modules larger than one (Tarjan), idiom edges left out."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if _blueprint_idiom(node, other) and node.startswith("webapp.blueprints"):
                continue
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "webapp"


# Which layers each layer must never import.
FORBIDDEN = {
    "models": {"services", "web", "blueprints", "jobs", "infra"},
    "infra": {"services", "web", "blueprints", "jobs", "models"},
    "services": {"web", "blueprints", "jobs"},
    "jobs": {"web", "blueprints"},
    "web": {"blueprints", "jobs"},
}


def layer_violations(graph):
    return sorted(f"{module} imports {target}"
                  for module, targets in graph.items()
                  for target in targets
                  if _layer(target) in FORBIDDEN.get(_layer(module), ()))


def test_no_import_cycles():
    assert find_cycles(import_graph()) == []


def test_imports_point_one_way():
    assert layer_violations(import_graph()) == []


def test_the_checks_catch_a_cycle_and_a_wrong_way_import():
    graph = {"webapp.services.a": {"webapp.web.b"}, "webapp.web.b": {"webapp.services.a"},
             "webapp.models.c": {"webapp.services.a"}}
    assert find_cycles(graph) == [["webapp.services.a", "webapp.web.b"]]
    assert layer_violations(graph) == ["webapp.models.c imports webapp.services.a",
                                       "webapp.services.a imports webapp.web.b"]


# A view never commits: the handler (services/handlers.py, the ledger's runner) or the service
# owns the transaction, so an Idempotency-Key claim and its write commit together.
COMMIT = re.compile(r"\bsession(\(\))?\.commit\(")


def commits_in(folder):
    """'path:line' (relative to `folder`) of every session commit under it."""
    return [f"{path.relative_to(folder)}:{number}"
            for path in sorted(folder.rglob("*.py"))
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if COMMIT.search(line)]


def test_no_blueprint_commits():
    assert commits_in(PACKAGE / "blueprints") == []


def test_the_commit_scan_finds_each_spelling(tmp_path):
    (tmp_path / "routes.py").write_text("db.session.commit()\nsession.commit()\n"
                                        "db.session().commit()\nsession.rollback()\n")
    assert commits_in(tmp_path) == ["routes.py:1", "routes.py:2", "routes.py:3"]
