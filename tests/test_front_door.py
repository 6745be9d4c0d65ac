"""The newcomer's front door: what `make run` installs, and one log line per request."""
import logging
import re
import subprocess
from pathlib import Path

from webapp.web import request_log

ROOT = Path(__file__).resolve().parent.parent


def _dry_run(target, **variables):
    args = ["make", "-n", "-B", target, "VENV=/nonexistent-venv"]
    args += [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_run_installs_only_the_runtime_requirements_and_takes_a_port():
    run = _dry_run("run", PORT=5001)
    assert "-r requirements.txt" in run and "requirements-dev.txt" not in run
    assert "--port 5001" in run
    assert "requirements-dev.txt" in _dry_run("test")
    assert "seed-demo --force" in _dry_run("reset") and "rm -rf" not in _dry_run("reset")


def _record(name, msg):
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, None, None)


def test_the_development_server_access_line_is_dropped_but_not_its_banner():
    access = _record("werkzeug", '127.0.0.1 - - [30/Nov/2026 04:20:00] "GET / HTTP/1.1" 302 -')
    banner = _record("werkzeug", " * Running on http://127.0.0.1:5001")
    assert not request_log._not_werkzeug_access(access)
    assert request_log._not_werkzeug_access(banner)


def test_the_app_installs_the_filter_once(app):
    assert logging.getLogger("werkzeug").filters.count(request_log._not_werkzeug_access) == 1


# --- the front door and the docs behind it ------------------------------------------------

LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _links(path):
    return [(target, anchor) for target, anchor in LINK.findall(path.read_text())
            if "://" not in target]


def _anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
    return {"#" + re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_the_readme_is_a_front_door_that_reads_in_five_minutes():
    readme = ROOT / "README.md"
    text = readme.read_text()
    assert len(text.splitlines()) <= 250
    assert "make run" in text and "make test" in text
    assert "Where a new piece goes" in text


def test_every_doc_is_reachable_from_the_readme_and_every_link_lands():
    docs = sorted((ROOT / "docs").glob("*.md"))
    assert len(docs) >= 6
    linked = {(ROOT / target).resolve() for target, _ in _links(ROOT / "README.md")}
    assert {d.resolve() for d in docs} <= linked, "a doc nobody can find from the README"
    for page in [ROOT / "README.md", *docs]:
        for target, anchor in _links(page):
            where = (page.parent / target).resolve()
            assert where.exists(), f"{page.name}: {target} does not exist"
            if anchor and where.suffix == ".md":
                assert anchor in _anchors(where), f"{page.name}: {target}{anchor} has no heading"
