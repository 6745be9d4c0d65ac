"""What a day at the counter tripped on (issue 24), through the test client on SQLite: a void
asks once (without JavaScript and with htmx), units and plurals in Urdu, translated flashes."""
from decimal import Decimal

import pytest

from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import Sale, StockLevel
from webapp.services import commands, ledger, sales
from webapp.services.audit import Actor

D = Decimal


@pytest.fixture
def counter(app):
    store = make_store(code="KHI-0001", address="Gulshan-e-Iqbal Block 13-D",
                       phone="0300-1234567")
    soap = make_product(sku="LUX", name="Lux Soap", unit="piece", sale_price="60.00")
    sugar = make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150.00")
    for product in (soap, sugar):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=20))
    keeper = make_user("shopkeeper", [store], username="dukan")
    return {"store": store, "soap": soap, "sugar": sugar, "keeper": keeper}


def _sell(client, counter):
    """A sale by the keeper (its cashier): 2 pieces of soap and 1.5 kg of sugar."""
    keeper = Actor(user_id=counter["keeper"].id, source="web", ip="127.0.0.1")
    result = sales.complete_sale(keeper, store_id=counter["store"].id, lines=[
        {"product_id": counter["soap"].id, "quantity": 2},
        {"product_id": counter["sugar"].id, "quantity": "1.5"}])
    return db.session.get(Sale, result.data["sale"]["id"])


def _level(counter, name):
    db.session.expire_all()
    return db.session.get(StockLevel, (counter["store"].id, counter[name].id)).quantity


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_void_asks_once_then_voids(client, counter, htmx):
    login(client, counter["keeper"])
    sale = _sell(client, counter)
    store = counter["store"]
    headers = {"HX-Request": "true", "HX-Boosted": "true"} if htmx else {}
    receipt = client.get(f"/stores/{store.id}/sales/{sale.id}", headers=headers).text
    # The receipt links to the question; it has no form that voids.
    assert f'href="/stores/{store.id}/sales/{sale.id}/void"' in receipt
    assert 'name="confirmed"' not in receipt
    question = client.get(f"/stores/{store.id}/sales/{sale.id}/void", headers=headers)
    assert question.status_code == 200
    text = question.text
    assert f"Void sale #{sale.number}?" in text
    assert "Lux Soap" in text and "2 pieces" in text and "1.5 kg" in text
    assert "Rs 345" in text  # 2 × 60 + 1.5 × 150
    assert "A void cannot be undone." in text
    assert 'name="confirmed" value="yes"' in text
    # A post without the confirmation (an old page, a stray tap) only asks.
    stray = client.post(f"/stores/{store.id}/sales/{sale.id}/void", data={"key": "v-0"},
                        headers=headers)
    assert stray.status_code == 200 and "A void cannot be undone." in stray.text
    db.session.expire_all()
    assert db.session.get(Sale, sale.id).status == "completed"
    assert _level(counter, "soap") == D("18.000")
    done = client.post(f"/stores/{store.id}/sales/{sale.id}/void",
                       data={"key": "v-1", "confirmed": "yes"}, headers=headers)
    assert done.status_code in (200, 302, 303)
    db.session.expire_all()
    assert db.session.get(Sale, sale.id).status == "voided"
    assert _level(counter, "soap") == D("20.000") and _level(counter, "sugar") == D("20.000")
    # Once voided, the question is not asked again: back to the receipt.
    again = client.get(f"/stores/{store.id}/sales/{sale.id}/void")
    assert again.status_code in (302, 303)


def test_the_void_question_in_urdu(client, counter):
    login(client, counter["keeper"])
    sale = _sell(client, counter)
    client.post("/language", data={"lang": "ur"})
    text = client.get(f"/stores/{counter['store'].id}/sales/{sale.id}/void").text
    assert "منسوخی واپس نہیں ہو سکتی۔" in text
    assert "2 عدد" in text and "1.5 کلو" in text
    assert " piece" not in text and " kg" not in text


def test_address_runs_are_isolated_so_the_phone_cannot_land_inside(app):
    from webapp.web.filters import isolate_runs
    html = str(isolate_runs("گلشن اقبال Gulshan-e-Iqbal Block 13-D، کراچی"))
    assert html == 'گلشن اقبال <bdi class="run">Gulshan-e-Iqbal Block 13-D</bdi>، کراچی'
    assert str(isolate_runs("<script>")) == '&lt;<bdi class="run">script</bdi>&gt;'  # escaped
    assert str(isolate_runs("مکان 12، گلی 4")) == \
        'مکان <bdi class="run">12</bdi>، گلی <bdi class="run">4</bdi>'


def test_urdu_receipt_units_notes_and_isolated_address(client, counter):
    login(client, counter["keeper"])
    sale = _sell(client, counter)
    client.post("/language", data={"lang": "ur"})
    store = counter["store"]
    html = client.get(f"/stores/{store.id}/sales/{sale.id}").text
    assert '<bdi class="run">Gulshan-e-Iqbal Block 13-D</bdi>' in html
    assert '<bdi dir="ltr">0300-1234567</bdi>' in html
    assert "2 عدد" in html and "1.5 کلو" in html
    # The WhatsApp text says the units in Urdu too.
    from urllib.parse import unquote
    share = unquote(html.split('href="https://wa.me/?text=')[1].split('"')[0])
    assert "2 عدد" in share and "piece" not in share
    # History: a void's note and reason in Urdu, not "Void of sale #1" and "(void)".
    client.post(f"/stores/{store.id}/sales/{sale.id}/void", data={"confirmed": "yes", "key": "v"})
    history = client.get("/history").text
    assert "Void of sale" not in history and "(void)" not in history
    assert "کی منسوخی" in history and "(منسوخی)" in history
