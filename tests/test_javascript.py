"""The JavaScript that must stay (the offline queue, the scanner, the basket screen) has unit
tests under tests/js, run here by Node without a browser (`node --test`, no build step), so
`make test` fails when they do. And the typed numbers in tests/js/number_cases.json, which the
phone's reader is tested against, are read the same way by the server's; the lines, bills and
rupee figures in tests/js/bill_cases.json, which the phone's bill (static/js/bill.js) is tested
against, are what services/basket.py and web/filters.money give."""
import json
import shutil
import subprocess
from pathlib import Path

from decimal import Decimal

import pytest
from flask import Flask

from tests import services
from webapp.services import basket
from webapp.services.errors import DomainError
from webapp.services.validation import number_text
from webapp.web.filters import money

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"
CASES = json.loads((JS_TESTS / "number_cases.json").read_text())["cases"]
BILL = json.loads((JS_TESTS / "bill_cases.json").read_text())


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


def _priced(case):
    """A bill_cases.json line as the server reads and prices it."""
    pack = case["product"].get("pack")
    pack = pack and basket.Pack(Decimal(pack["size"]),
                                None if pack["price"] is None else Decimal(pack["price"]),
                                pack["name"])
    mode = case["mode"]
    try:
        value = basket.parse_value(mode, case["typed"], f"lines.0.{basket.FIELDS[mode]}")
        priced = basket.price_line(mode, value, Decimal(case["product"]["price"]),
                                   case["product"]["unit"], "lines.0", pack)
    except DomainError as error:
        return {"error": error.code}
    out = {"quantity": basket.canonical(priced.quantity), "total": str(priced.total)}
    if priced.packs is not None:
        out["packs"] = basket.canonical(priced.packs)
    return out


def test_the_phone_prices_by_the_server_s_rules():
    assert BILL["rules"] == json.loads(json.dumps(basket.phone_rules()))


@pytest.mark.parametrize("case", BILL["lines"], ids=[c["name"] for c in BILL["lines"]])
def test_the_server_prices_each_shared_bill_line_as_the_phone_does(case):
    wanted = {k: case[k] for k in ("quantity", "total", "packs", "error") if k in case}
    assert _priced(case) == wanted


def _money(value, grouping):
    app = Flask(__name__)
    app.config["MONEY_GROUPING"] = grouping
    with app.app_context():
        return money(value)


def test_the_server_adds_and_writes_each_shared_bill_as_the_phone_does():
    lines = {case["name"]: case for case in BILL["lines"]}
    for bill in BILL["bills"]:
        total = basket.bill_total(Decimal(_priced(lines[name])["total"])
                                  for name in bill["lines"])
        assert str(total) == bill["total"], bill["name"]
        assert (_money(total, "lakh"), _money(total, "thousands")) == \
            (bill["lakh"], bill["thousands"])
    for figure in BILL["money"]:
        value = Decimal(figure["value"])
        assert (_money(value, "lakh"), _money(value, "thousands")) == \
            (figure["lakh"], figure["thousands"])
