"""The store page's panel after a quick sale: its forms' fields are kept rendered (stock/forms.py
ActionForm), so what they depend on (language, suppliers) must still show, and each answer
carries new keys; the sale's commit does not make the page load the user again."""
import re

from flask import g
from sqlalchemy import event

from tests.factories import (
    ADMIN,
    login,
    make_product,
    make_store,
    make_supplier,
    make_user,
)
from webapp.extensions import db
from webapp.services import commands, ledger


def _shop():
    store = make_store()
    product = make_product(unit="kg")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    make_user("shopkeeper", [store], username="panel")
    return store.id, product.id


def _sell(client, store_id, product_id, key, **headers):
    # Each request as in production, with a session and `g` of its own: the test's app context
    # (conftest) would otherwise lend them the user loaded and the suppliers read before.
    db.session.remove()
    for name in ("stock_suppliers", "_login_user"):
        g.pop(name, None)
    response = client.post(f"/stores/{store_id}/movements",
                           headers={"HX-Request": "true", **headers},
                           data={"product_id": product_id, "type": "sale", "quantity": "1",
                                 "key": key})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "\x00" not in html  # every stand-in of the kept forms replaced
    return html


def test_each_panel_has_new_keys_and_shows_suppliers_added_since(app, client):
    store_id, product_id = _shop()
    login(client, "panel")
    first = _sell(client, store_id, product_id, "tap-1")
    keys = re.findall(r'id="(sale|stock_in|removal)-key" name="key" type="hidden" value="(\w+)"',
                      first)
    assert [k for k, _ in keys] == ["sale", "stock_in", "removal"]
    assert len({v for _, v in keys} | {"tap-1"}) == 4
    supplier_id = make_supplier(name="Naya Supplier").id
    second = _sell(client, store_id, product_id, "tap-2")
    assert f'<option value="{supplier_id}">Naya Supplier</option>' in second
    assert not set(re.findall(r'name="key" type="hidden" value="(\w+)"', second)) \
        & {v for _, v in keys}
    assert 'placeholder="How many kg?"' in second and 'id="sale-quantity"' in second
    assert second.count(f'name="product_id" value="{product_id}"') == 4  # the panel's, 3 forms'
    assert second.count(f'action="/stores/{store_id}/movements"') == 3


def test_the_panel_speaks_the_language_of_each_request(app, client):
    store_id, product_id = _shop()
    login(client, "panel")
    assert '<label for="sale-quantity">Quantity</label>' in _sell(client, store_id, product_id,
                                                                   "en-1")
    urdu = _sell(client, store_id, product_id, "ur-1", **{"Accept-Language": "ur"})
    assert '<label for="sale-quantity">مقدار</label>' in urdu
    assert '<option value="">کوئی سپلائر نہیں</option>' in urdu
    assert '<label for="sale-quantity">Quantity</label>' in _sell(client, store_id, product_id,
                                                                   "en-2")


def test_a_refused_sale_shows_what_was_typed_and_its_error(app, client):
    store_id, product_id = _shop()
    login(client, "panel")
    response = client.post(f"/stores/{store_id}/movements", headers={"HX-Request": "true"},
                           data={"product_id": product_id, "type": "stock_in", "quantity": "-1",
                                 "unit_cost": "abc", "key": "bad-1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="stock_in-key" name="key" type="hidden" value="bad-1"' in html
    assert re.search(r'<input aria-describedby="stock_in-\w+-error" aria-invalid="true"', html)
    assert 'value="abc"' in html and 'id="sale-quantity" inputmode="decimal" name="quantity"' \
        ' placeholder="How many kg?" type="text" value=""' in html


def test_the_page_after_a_sale_does_not_load_the_user_again(app, client):
    store_id, product_id = _shop()
    login(client, "panel")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        _sell(client, store_id, product_id, "once")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len([s for s in statements if re.search(r"\bfrom users\b", s)]) == 1
