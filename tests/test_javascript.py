"""The JavaScript that must stay (the offline queue, the scanner, the basket screen) has unit
tests under tests/js, run here by Node without a browser (`node --test`, no build step), so
`make test` fails when they do. And the typed numbers in tests/js/number_cases.json, which the
phone's reader is tested against, are read the same way by the server's."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import services
from webapp.services.errors import DomainError
from webapp.services.validation import number_text

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"
CASES = json.loads((JS_TESTS / "number_cases.json").read_text())["cases"]


def test_node_runs_the_javascript_unit_tests_and_all_pass():
    node = shutil.which("node")
    if node is None:
        services.missing("Node (node --test) is not installed")
    files = sorted(str(path) for path in JS_TESTS.glob("*.test.js"))
    assert len(files) >= 4, files
    run = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    passed = [line for line in report.splitlines() if line.startswith("# pass ")]
    assert passed and int(passed[-1].split()[-1]) >= 20, report[-2000:]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["typed"]) for c in CASES])
def test_the_server_reads_each_shared_number_case_as_the_phone_does(case):
    try:
        reads = number_text(case["typed"])
    except DomainError:
        reads = None
    assert reads == case["reads"]
