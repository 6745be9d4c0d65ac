"""Every error `code` the JSON API can answer, read from the source: what docs/api.md must list.

The API answers the codes of the DomainErrors raised by the code it runs: the API blueprint's
modules and every webapp module they import, and so on (the services, the jobs it queues; not
the pages or the CLI's backup). The code is the first argument of DomainError, Conflict and
any subclass that takes a code, or is fixed by a subclass such as NotFound. Add the codes of
its own HTTP errors (webapp/web/errors.CODES, one per status) and literal ones given to
json_error. A code given as a variable is a pass-through
of one of these (an error's own `.code`), or it must be added to PASS_THROUGH with its reason.
"""
import ast
import inspect
from collections import defaultdict
from pathlib import Path

import webapp
from webapp.services.errors import DomainError
from webapp.web.errors import CODES

ROOT = Path(webapp.__file__).parent
# The app-wide request checks every API request also passes.
APP_WIDE = ("webapp.web.guard", "webapp.web.errors")
# Codes the scanned code can raise that /api/v1 never answers, and why.
NOT_FROM_API = {
    "csrf_failed": "the API blueprint is exempt from CSRF (bearer tokens, no cookies)",
    "duplicate_username": "users are made on the pages and by the CLI, not through the API",
}
# Calls whose code is a variable, and why that is no new code.
PASS_THROUGH = {
    "json_error": "renders an error that carries its code (error.code, CODES by status)",
}


def _family():
    """DomainError and its subclasses, by name → class."""
    found, todo = {}, [DomainError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def _takes_code(cls):
    return next(iter(list(inspect.signature(cls.__init__).parameters)[1:2]), None) == "code"


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _status(call, default):
    for keyword in call.keywords:
        if keyword.arg == "status":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else default
    return default


def _name(func):
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _module_file(name):
    """webapp.x.y → its file, or None when it is not a module of ours."""
    base = ROOT.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def api_files():
    """The API blueprint's modules, the app-wide checks, and every webapp module they import,
    transitively."""
    todo = [_module_file(name) for name in APP_WIDE] + \
        sorted((ROOT / "blueprints" / "api").glob("*.py"))
    seen = set()
    while todo:
        path = todo.pop()
        if path is None or path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            todo.extend(_module_file(n) for n in names if n.split(".")[0] == "webapp")
    return sorted(seen)


def collect():
    """{code: {HTTP statuses}} and a list of calls whose code could not be read."""
    import webapp.blueprints.api  # noqa: F401 (its error classes)

    family = _family()
    codes, unread = defaultdict(set), []
    for status, code in CODES.items():
        codes[code].add(status)
    for path in api_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls_node in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            cls = family.get(cls_node.name)
            if cls is None:
                continue
            for call in [n for n in ast.walk(cls_node) if isinstance(n, ast.Call)]:
                # super().__init__("code", ...) in a subclass that fixes its code
                if _name(call.func) == "__init__" and call.args and _literal(call.args[0]):
                    codes[_literal(call.args[0])].add(_status(call, cls.status))
        for call in [n for n in ast.walk(tree) if isinstance(n, ast.Call)]:
            name = _name(call.func)
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if name in family and _takes_code(family[name]):
                code = next((k.value for k in call.keywords if k.arg == "code"),
                            call.args[0] if call.args else None)
                if _literal(code):
                    codes[_literal(code)].add(_status(call, family[name].status))
                else:
                    unread.append(f"{where} {name}")
            elif name == "json_error" and len(call.args) >= 2:
                if _literal(call.args[1]) and isinstance(call.args[0], ast.Constant):
                    codes[_literal(call.args[1])].add(call.args[0].value)
                elif name not in PASS_THROUGH:
                    unread.append(f"{where} {name}")
    return dict(codes), unread
