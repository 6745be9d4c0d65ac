"""Purchase order pages through the test client: make, edit, share, print, CSV, receive."""
import re
import uuid
from decimal import Decimal

import pytest

from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import Product, PurchaseOrder, StockMovement
from webapp.services import commands, ledger

PASSWORD = "password-123"


@pytest.fixture
def world(app):
    store, other = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    supplier = make_supplier(name="Metro Cash", phone="0300-1234567")
    sugar = make_product(sku="CHEENI", name="چینی Sugar", unit="kg", reorder_level="10",
                         cost="140.00", preferred_supplier_id=supplier.id, pack_size="50")
    soap = make_product(sku="SOAP", name="Soap", unit="piece", reorder_level="12",
                        cost="50.00", pack_size="24")
    for product, quantity in ((sugar, "2"), (soap, "3")):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                               type="stock_in", quantity=quantity))
    return {"store": store.id, "other": other.id, "supplier": supplier.id, "sugar": sugar.id,
            "soap": soap.id,
            "manager": make_user("manager", username="manager"),
            "keeper": make_user("shopkeeper", [store], username="dukan"),
            "stranger": make_user("shopkeeper", [other], username="other")}


def login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


def test_make_orders_from_low_stock_then_share_print_csv(client, world):
    login(client, "manager")
    low = client.get(f"/reports/low-stock?store_id={world['store']}")
    assert b"/purchasing/make" in low.data
    page = client.get(f"/purchasing/make?store_id={world['store']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Metro Cash" in html and "No supplier chosen" in html
    assert f'name="packs-{world["sugar"]}" value="1"' in html
    # The supplier-less group cannot be saved without choosing a supplier.
    refused = client.post(f"/purchasing/make?store_id={world['store']}", data={
        "store_id": world["store"], "supplier_id": "", "product_id": [world["soap"]],
        f"packs-{world['soap']}": "1"})
    assert refused.status_code == 422
    saved = client.post(f"/purchasing/make?store_id={world['store']}", data={
        "store_id": world["store"], "supplier_id": world["supplier"],
        "product_id": [world["sugar"]], f"packs-{world['sugar']}": "2",
        f"cost-{world['sugar']}": "1,450.00".replace(",", "")})
    assert saved.status_code == 303
    order = db.session.scalars(db.select(PurchaseOrder)).one()
    assert order.lines[0].quantity == Decimal("100.000")
    detail = client.get(saved.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(https://wa\.me/923001234567\?text=[^"]+)"', detail)
    assert link and "CHEENI" in link.group(1)
    printed = client.get(f"/purchasing/{order.id}/print").get_data(as_text=True)
    assert "چینی Sugar" in printed and "Rs 1,45,000" in printed
    csv = client.get(f"/purchasing/{order.id}.csv")
    text = csv.get_data(as_text=True)
    assert text.startswith("\ufefforder,store_code") and "CHEENI" in text
    # Edit the draft: a second product by SKU, then send it.
    edited = client.post(f"/purchasing/{order.id}/edit", data={
        "product_id": [world["sugar"]], f"packs-{world['sugar']}": "1", "add_sku": "soap",
        "add_packs": "2", "note": "Jaldi"})
    assert edited.status_code == 303
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert [(line.product_id, line.quantity) for line in order.lines] == [
        (world["sugar"], Decimal("50.000")), (world["soap"], Decimal("48.000"))]
    bad = client.post(f"/purchasing/{order.id}/edit", data={
        "product_id": [world["sugar"]], f"packs-{world['sugar']}": "abc"})
    assert bad.status_code == 422 and "must be a number" in bad.get_data(as_text=True)
    assert client.post(f"/purchasing/{order.id}/status", data={"status": "sent"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order.id).status == "sent"
    refused = client.post(f"/purchasing/{order.id}/status", data={"status": "received"},
                          follow_redirects=True)
    assert "cannot become" in refused.get_data(as_text=True)


def test_shopkeeper_receives_on_the_phone_page(client, world):
    manager = world["manager"]
    from webapp.services import purchasing
    order = purchasing.create_order(ADMIN, manager, store_id=world["store"],
                                    supplier_id=world["supplier"],
                                    lines=[{"product_id": world["sugar"], "packs": "1"},
                                           {"product_id": world["soap"], "packs": "1"}])
    order_id = order.id
    login(client, "other")
    assert client.get(f"/purchasing/{order_id}/receive").status_code == 404
    client.post("/logout")
    login(client, "dukan")
    page = client.get(f"/purchasing/{order_id}/receive").get_data(as_text=True)
    assert f'name="qty-{world["sugar"]}"' in page and 'value="50"' in page
    key = str(uuid.uuid4())
    form = {"key": key, "product_id": [world["sugar"], world["soap"]],
            f"qty-{world['sugar']}": "50", f"qty-{world['soap']}": "30",
            f"cost-{world['soap']}": "1,450.00"}
    bad = client.post(f"/purchasing/{order_id}/receive", data=form)
    assert bad.status_code == 422  # "1,450.00" is not a cost on this form
    form[f"cost-{world['soap']}"] = "45.50"
    done = client.post(f"/purchasing/{order_id}/receive", data=form, follow_redirects=True)
    assert "More than ordered" in done.get_data(as_text=True)
    count = db.session.scalar(db.select(db.func.count()).select_from(StockMovement))
    again = client.post(f"/purchasing/{order_id}/receive", data=form)  # a double tap
    assert again.status_code in (303, 302)
    assert db.session.scalar(db.select(db.func.count()).select_from(StockMovement)) == count
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order_id).status == "received"
    # dukan is a shopkeeper: the cost is the movement's, the product's last cost stays.
    assert db.session.get(Product, world["soap"]).last_cost != Decimal("45.50")
    assert db.session.scalar(db.select(StockMovement.unit_cost).where(
        StockMovement.product_id == world["soap"]).order_by(StockMovement.id.desc())
        .limit(1)) == Decimal("45.50")
    orders = client.get("/purchasing/").get_data(as_text=True)
    assert f"#{order_id}" in orders


def test_product_form_sets_how_it_is_bought(client, world):
    login(client, "manager")
    page = client.get(f"/products/{world['soap']}/edit").get_data(as_text=True)
    assert 'name="pack_size"' in page and "Metro Cash" in page
    response = client.post(f"/products/{world['soap']}/edit", data={
        "sku": "SOAP", "name": "Soap", "category": "Test", "unit": "piece",
        "sale_price": "100.00", "cost": "50.00", "reorder_level": "12",
        "preferred_supplier_id": str(world["supplier"]), "pack_size": "36"})
    assert response.status_code == 303
    db.session.expire_all()
    soap = db.session.get(Product, world["soap"])
    assert (soap.preferred_supplier_id, soap.pack_size) == (world["supplier"], Decimal(36))
    cleared = client.post(f"/products/{world['soap']}/edit", data={
        "sku": "SOAP", "name": "Soap", "category": "Test", "unit": "piece",
        "sale_price": "100.00", "reorder_level": "12", "preferred_supplier_id": "",
        "pack_size": "0"})
    assert cleared.status_code == 422 and "Pack size must be more than zero" in \
        cleared.get_data(as_text=True)


def test_bad_filters_and_closed_orders_answer_inline(client, world):
    login(client, "manager")
    bad = client.get(f"/purchasing/make?store_id={world['store']}&cover_days=999")
    assert bad.status_code == 422 and "Cover days can be at most 365" in bad.get_data(as_text=True)
    assert client.get(f"/purchasing/make?store_id={world['other'] + 100}").status_code == 404
    from webapp.services import purchasing
    order = purchasing.create_order(ADMIN, world["manager"], store_id=world["store"],
                                    supplier_id=world["supplier"],
                                    lines=[{"product_id": world["sugar"], "packs": "1"}])
    purchasing.change_status(ADMIN, world["manager"], order.id, "cancelled")
    closed = client.get(f"/purchasing/{order.id}/receive", follow_redirects=True)
    assert "This order is closed" in closed.get_data(as_text=True)
    client.post("/logout")
    login(client, "dukan")
    assert client.get(f"/purchasing/make?store_id={world['store']}").status_code == 403
    assert client.post(f"/purchasing/{order.id}/status", data={"status": "draft"}).status_code \
        == 403
