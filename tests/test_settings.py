"""Every setting in one place: read as app.config["X"] in code, defaulted only in config.py,
and listed in the settings table of docs/operations.md (STYLE.md "Every setting in config.py")."""
import ast
import re
from pathlib import Path

import config

ROOT = Path(__file__).resolve().parent.parent
CODE = sorted((ROOT / "webapp").rglob("*.py")) + [ROOT / "worker.py", ROOT / "live.py"]
# Keys Flask or an extension defines and defaults itself; we may set them in Config without
# documenting them, unless we read them from the environment (then docs/operations.md
# must say so).
FRAMEWORK = re.compile(r"^(SQLALCHEMY_|RATELIMIT_|SESSION_COOKIE_|REMEMBER_COOKIE_|WTF_|COMPRESS_)"
                       r"|^(TESTING|DEBUG|MAX_CONTENT_LENGTH|SECRET_KEY)$")


def _name(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_config(node):
    return isinstance(node, ast.Attribute) and node.attr == "config"


def _is_environ(node):
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _reads(path):
    """(kind, name, has_default, line) for each config / environment read in one file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Subscript) and _name(node.slice):
            if _is_config(node.value):
                yield "config", _name(node.slice), False, node.lineno
            elif _is_environ(node.value):
                yield "env", _name(node.slice), False, node.lineno
        elif isinstance(node, ast.Call) and node.args and _name(node.args[0]):
            func, name = node.func, _name(node.args[0])
            has_default = len(node.args) > 1 or bool(node.keywords)
            if isinstance(func, ast.Attribute) and func.attr == "get" and _is_config(func.value):
                yield "config", name, has_default, node.lineno
            elif isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
                yield "env", name, has_default, node.lineno
            elif isinstance(func, ast.Attribute) and func.attr == "getenv":
                yield "env", name, has_default, node.lineno
            elif isinstance(func, ast.Name) and func.id == "_database_url":
                yield "env", name, has_default, node.lineno


def _code_reads():
    return [(path.relative_to(ROOT), *read) for path in CODE for read in _reads(path)]


def _config_attributes():
    names = set()
    for cls in config.configs.values():
        names |= {name for name in dir(cls) if name.isupper()}
    return names


def _environment_variables():
    """Every variable config.py reads from the environment."""
    return {name for kind, name, _, _ in _reads(ROOT / "config.py") if kind == "env"}


def _documented_settings():
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text[text.index("| variable | default | what |"):]
    table = table[:table.index("\n\n")]
    names = set()
    for row in table.splitlines()[2:]:
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1]))
    return names


def test_the_scan_finds_what_it_should():
    reads = {(kind, name) for _, kind, name, _, _ in _code_reads()}
    assert ("config", "REDIS_URL") in reads and ("config", "STOCK_CACHE_TTL") in reads
    assert ("env", "PROMETHEUS_MULTIPROC_DIR") in reads
    assert {"DATABASE_URL", "APP_ENV", "INSTANCE_DIR", "SECRET_KEY"} <= _environment_variables()
    assert "API_TOKEN_TTL_DAYS" in _documented_settings()


def test_every_setting_the_code_reads_is_in_config_with_no_second_default():
    known = _config_attributes()
    unknown = [f"{path}:{line} {name}" for path, kind, name, _, line in _code_reads()
               if kind == "config" and name not in known]
    assert not unknown, f"read but not defined in config.py: {unknown}"
    defaulted = [f"{path}:{line} {name}" for path, kind, name, has_default, line in _code_reads()
                 if has_default]
    assert not defaulted, f"a second default outside config.py (use app.config[...]): {defaulted}"


def test_environment_is_read_only_in_config_py_except_by_libraries():
    # prometheus_client reads PROMETHEUS_MULTIPROC_DIR itself; the app only asks whether it is set.
    outside = [f"{path}:{line} {name}" for path, kind, name, _, line in _code_reads()
               if kind == "env" and name != "PROMETHEUS_MULTIPROC_DIR"]
    assert not outside, f"environment read outside config.py: {outside}"


def test_the_operations_table_lists_every_variable_and_nothing_else():
    documented = _documented_settings()
    variables = _environment_variables() | {"PROMETHEUS_MULTIPROC_DIR"}
    assert not variables - documented, f"missing from the table: {variables - documented}"
    assert not documented - variables, f"the table lists what nothing reads: {documented - variables}"
    own = {name for name in _config_attributes() if not FRAMEWORK.match(name)}
    assert not own - variables, f"Config settings not from the environment: {own - variables}"


def test_development_secret_key_is_made_only_when_development_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / "instance")
    monkeypatch.setattr(config.DevelopmentConfig, "SECRET_KEY", None)
    assert not (tmp_path / "instance").exists()
    config.DevelopmentConfig.check()
    key = (tmp_path / "instance" / "secret_key").read_text()
    assert config.DevelopmentConfig.SECRET_KEY == key and len(key) == 64
