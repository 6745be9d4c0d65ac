"""docs/api.md stays true: every error code the API can answer is in its table (read out of the
code, tests/error_codes.py), every operation of the served document has a curl example, and
every example runs, as written, against a live server."""
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests import services
from tests.error_codes import NOT_FROM_API, collect
from tests.live_api import live_api

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
CODE_ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \|", re.M)
# Runs before each example: curl fails on an HTTP error and says why, so a stale example fails.
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --show-error "$@"; echo; }\n'
# The account the token example logs in with.
DOC_USERNAME, DOC_PASSWORD = "manager", "shelf-ledger-2026"


def _doc():
    return DOC.read_text(encoding="utf-8")


def _section(text, title):
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def shell_blocks(text):
    return re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S)


def curl_operations(block):
    """(method, path template) of each curl in a block: `$BASE/sales/$SALE_ID/void` →
    ("post", "/sales/{}/void")."""
    found, command = [], ""
    for line in block.replace("\\\n", " ").splitlines():
        command += line + "\n"
        try:
            words = shlex.split(command)
        except ValueError:  # a quoted body that goes on on the next line
            continue
        command = ""
        if not words or words[0] != "curl":
            continue
        method = words[words.index("-X") + 1] if "-X" in words else \
            "POST" if {"-d", "-F", "--data"} & set(words) else "GET"
        url = next(w for w in words if w.startswith("$BASE"))
        path = re.sub(r"\$[A-Z_]+", "{}", url.removeprefix("$BASE").split("?")[0])
        found.append((method.lower(), path))
    return found


def test_every_error_code_the_api_answers_is_in_the_table_with_its_status():
    codes, unread = collect()
    assert unread == [], "error codes the test cannot read (give a literal code)"
    assert set(NOT_FROM_API) <= set(codes), "NOT_FROM_API names a code nothing raises"
    answered = {code: statuses for code, statuses in codes.items() if code not in NOT_FROM_API}
    table = {}
    for code, status in CODE_ROW.findall(_section(_doc(), "Errors")):
        table.setdefault(code, set()).add(int(status))
    missing = sorted(set(answered) - set(table))
    assert missing == [], f"add these codes to docs/api.md's Errors table: {missing}"
    assert sorted(set(table) - set(answered)) == [], "docs/api.md lists codes nothing answers"
    assert {c: s for c, s in answered.items() if s != table[c]} == {}, "statuses differ"


def test_every_operation_has_a_curl_example(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    operations = {(method, re.sub(r"\{[^}]+\}", "{}", path.removeprefix("/api/v1")))
                  for path, methods in document["paths"].items() for method in methods}
    operations.add(("get", "/openapi.json"))  # the document does not list itself
    examples = {op for block in shell_blocks(_doc()) for op in curl_operations(block)}
    assert sorted(operations - examples) == [], "give these operations a curl in docs/api.md"
    assert sorted(examples - operations) == [], "docs/api.md has curls for no operation"


@pytest.mark.postgres
def test_the_curl_examples_run_against_a_live_server(tmp_path):
    if shutil.which("curl") is None:
        services.missing("curl is not installed (.ci/run installs it)")
    with live_api() as site:
        env = _shop(site)
        ran = 0
        for block in shell_blocks(_doc()):
            done = subprocess.run(["bash", "-c", PRELUDE + block], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{block}\n→ {done.stdout}\n{done.stderr}"
            answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
            assert len(answers) == len(curl_operations(block)) or "-o " in block, block
            ran += len(answers)
        assert ran >= 35
        # The examples did what they say.
        api = httpx.Client(base_url=env["BASE"],
                           headers={"Authorization": f"Bearer {env['TOKEN']}"})
        sale = api.get(f"/sales/{env['SALE_ID']}").json()["sale"]
        assert (sale["status"], sale["refunded"]) == ("voided", sale["total"])
        returned = api.get("/movements", params={"type": "adjustment", "store_id":
                                                 env["STORE_ID"]}).json()["items"]
        assert "0.500" in [m["quantity"] for m in returned if m["reason"] == "return"]
        customer = api.get(f"/customers/{env['CUSTOMER_ID']}").json()["customer"]
        assert (customer["balance"], customer["credit_limit"]) == ("50.00", "8000.00")
        owed = api.get(f"/suppliers/{env['SUPPLIER_ID']}/ledger",
                       params={"store_id": env["STORE_ID"]}).json()["balance"]
        assert owed == "690.00"  # 10 received at 119.00, 500 paid
        closings = api.get(f"/stores/{env['STORE_ID']}/closings").json()["items"]
        assert [c["counted_cash"] for c in closings] == ["1450.00"]
        assert (tmp_path / "openapi.json").stat().st_size > 10_000


def _webhook_with_a_delivery(site, made):
    """An endpoint (for an event nothing sends yet) and one failed delivery to redeliver."""
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models.types import utcnow
    from webapp.services import webhooks

    webhook = made("POST", "/webhooks", 201, json={"url": "https://93.184.215.14/erp",
                                                   "events": ["stock.expiring"]})
    delivery = "00000000-0000-4000-8000-00000000d0c5"
    with site["app"].app_context():
        now = utcnow()
        db.session.execute(insert(webhooks.DELIVERIES).values(
            id=delivery, endpoint_id=webhook["webhook"]["id"], event="stock.expiring",
            body="{}", status="failed", attempts=9, next_attempt_at=now, last_status=500,
            last_error="HTTP 500", created_at=now))
        db.session.commit()
        db.session.remove()
    return webhook["webhook"]["id"], delivery


def _shop(site):
    """What the examples' variables name, made through the API as an integrator would."""
    from tests.factories import make_user
    from webapp.extensions import db

    with site["app"].app_context():
        make_user("manager", username=DOC_USERNAME, password=DOC_PASSWORD)
        db.session.remove()
    base = f"{site['url']}/api/v1"
    token = httpx.post(f"{base}/auth/token", json={
        "username": site["username"], "password": site["password"]}).json()["token"]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})

    def made(method, path, status, **kwargs):
        response = api.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    store = made("POST", "/stores", 201, json={"code": "KHI-0001", "name": "Saddar",
                                               "city": "Karachi"})["id"]
    other = made("POST", "/stores", 201, json={"code": "LHE-0001", "name": "Anarkali",
                                               "city": "Lahore"})["id"]
    sugar = made("POST", "/products", 201, json={
        "sku": "CHEENI-1KG", "name": "Cheeni", "unit": "kg", "sale_price": "150.00",
        "cost": "120.00", "category": "Grocery", "reorder_level": "5"})["id"]
    soap = made("POST", "/products", 201, json={
        "sku": "SOAP-LUX", "name": "Lux soap", "sale_price": "65.00"})["id"]
    supplier = made("POST", "/suppliers", 201, json={"name": "Karachi Wholesale"})["id"]
    for product in (sugar, soap):
        made("POST", "/movements", 201, json={"store_id": store, "product_id": product,
                                              "type": "stock_in", "quantity": "100"})
    customer = made("POST", "/customers", 201, json={
        "store_id": store, "name": "Ayesha", "phone": "0300 1234567"})["customer"]["id"]
    sale = made("POST", "/sales", 201, json={"store_id": store, "lines": [
        {"product_id": sugar, "quantity": "2"}]})["sale"]["id"]
    order = made("POST", "/purchase-orders", 201, json={
        "store_id": store, "supplier_id": supplier,
        "lines": [{"product_id": sugar, "packs": "10"}]})["id"]
    job = made("POST", "/sync", 202, json={"movements": [
        {"id": "till-1-1", "store_id": store, "product_id": sugar, "type": "sale",
         "quantity": "1"}]})["job_id"]
    upload = made("POST", "/imports", 202, files={
        "file": ("prices.csv", b"sku,name,unit,sale_price\nGHEE-1KG,Ghee,kg,700\n")},
        data={"kind": "products", "dry_run": "true"})["job_id"]
    webhook, delivery = _webhook_with_a_delivery(site, made)
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
            "WEBHOOK_ID": str(webhook), "DELIVERY_ID": delivery,
            "BASE": base, "TOKEN": token, "STORE_ID": str(store),
            "OTHER_STORE_ID": str(other), "PRODUCT_ID": str(sugar),
            "SUPPLIER_ID": str(supplier), "SALE_ID": str(sale), "ORDER_ID": str(order),
            "JOB_ID": job, "IMPORT_ID": upload, "CUSTOMER_ID": str(customer)}
