"""One basket, read and priced once (services/basket.py): the bill the counter page shows is the
bill `complete` records, through the page, the API, the offline queue and the sales report.

Issue 22's examples: `1,5` kg of Cheeni beside a Pepsi shows and charges Rs 425 (and `١٫٥` in
Urdu); 0.250 kg × Rs 150.10 shows and charges 37.53; basket/replace keeps a `1,5` line; "Rs 100
of Cheeni" is 100.00 on the receipt and in the day's report (SPEC invariant 7).
"""
import json
import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.api_client import api_as
from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import Sale, SaleLine
from webapp.services import basket, commands, ledger, reports, sales
from webapp.services.errors import DomainError


def _shop():
    store = make_store(code="KHI-0001")
    pepsi = make_product(sku="PEPSI", name="Pepsi 1.5L", unit="piece", sale_price="200.00")
    cheeni = make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150.00")
    daal = make_product(sku="DAAL", name="Daal", unit="kg", sale_price="150.10")
    for product in (pepsi, cheeni, daal):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    dukan = make_user("shopkeeper", [store], username="dukan")
    return {"store": store.id, "pepsi": pepsi.id, "cheeni": cheeni.id, "daal": daal.id,
            "dukan": dukan}


@pytest.fixture
def shop(app):
    return _shop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_shop(request):
    """On PostgreSQL a basket line is written by the one-statement fast path: its summary
    row must carry the receipt's line total too."""
    request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    return _shop()


TYPED_ONE_AND_A_HALF = ["1,5", "١٫٥", "۱٫۵", "1.5", " 1,5 "]


# --- the module -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", TYPED_ONE_AND_A_HALF)
def test_every_way_of_typing_one_and_a_half_is_one_and_a_half(typed):
    assert basket.parse_value("q", typed, "quantity") == Decimal("1.5")
    assert basket.parse_value("a", typed, "amount") == Decimal("1.50")
    assert basket.session_entry(7, "q", typed, "quantity") == [7, "q", "1.5"]


def test_a_line_is_rounded_half_up_to_the_paisa_once_and_the_bill_is_their_sum():
    daal = basket.price_line("q", Decimal("0.250"), Decimal("150.10"), "kg", "lines.0")
    assert daal == basket.Priced(Decimal("0.250"), Decimal("37.53"))    # 37.525 → 37.53
    by_amount = basket.price_line("a", Decimal("100.00"), Decimal("150.00"), "kg", "lines.1")
    assert by_amount == basket.Priced(Decimal("0.667"), Decimal("100.00"))
    assert basket.bill_total([daal.total, by_amount.total]) == Decimal("137.53")
    # Whole units and an amount that buys nothing are refused on the line's own field.
    with pytest.raises(DomainError) as caught:
        basket.price_line("q", Decimal("1.5"), Decimal("200"), "piece", "lines.2")
    assert "lines.2.quantity" in caught.value.fields
    with pytest.raises(DomainError) as caught:
        basket.price_line("a", Decimal("100"), Decimal("200"), "piece", "lines.3")
    assert "lines.3.amount" in caught.value.fields


def test_a_sale_request_reads_its_lines_with_the_same_parser():
    lines = basket.parse_request_lines([{"product_id": 1, "quantity": "١٫٥"},
                                        {"sku": "CHEENI", "amount": "1,5"}])
    assert [(line["mode"], line["value"]) for line in lines] == \
        [("q", Decimal("1.5")), ("a", Decimal("1.50"))]
    with pytest.raises(DomainError) as caught:
        basket.parse_request_lines([{"product_id": 1, "quantity": "1,500"}])
    assert "lines.0.quantity" in caught.value.fields


# --- the counter page --------------------------------------------------------------------------

def _state(html):
    return json.loads(re.search(r"data-basket-state='([^']*)'", html).group(1))


def _bill(html):
    return re.search(r'id="bill-total" data-total="([^"]*)">([^<]*)<', html).groups()


def _basket_with_pepsi_and_cheeni(client, shop, typed):
    url = f"/stores/{shop['store']}/basket"
    for product in ("pepsi", "cheeni"):
        assert client.post(f"{url}/add", data={"product_id": shop[product]}).status_code == 303
    response = client.post(f"{url}/lines/1", data={"quantity": typed},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _complete(client, shop, html):
    key = _state(html)["key"]
    response = client.post(f"/stores/{shop['store']}/basket/complete", data={"key": key})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return db.session.query(Sale).one()


@pytest.mark.parametrize("typed", ["1,5", "١٫٥", "۱٫۵"])
def test_the_page_shows_and_charges_rs_425_for_a_pepsi_and_1_5_kg_of_cheeni(client, shop, typed):
    login(client, "dukan")
    html = _basket_with_pepsi_and_cheeni(client, shop, typed)
    assert _bill(html) == ("425.00", "Rs 425")
    state = _state(html)
    assert [(line["quantity"], line["total"]) for line in state["lines"]] == \
        [("1", "200.00"), ("1.5", "225.00")]
    assert state["total"] == "425.00" and state["lines"][1]["value"] == "1.5"
    assert 'value="1.5"' in html
    sale = _complete(client, shop, html)
    assert sale.total == Decimal("425.00")
    lines = db.session.query(SaleLine).filter_by(sale_id=sale.id).order_by(SaleLine.position)
    assert [(line.quantity, line.line_total) for line in lines] == \
        [(Decimal("1"), Decimal("200.00")), (Decimal("1.5"), Decimal("225.00"))]


def test_in_urdu_the_page_shows_the_same_bill_as_the_receipt(client, shop):
    shop["dukan"].language = "ur"
    db.session.commit()
    login(client, "dukan")
    html = _basket_with_pepsi_and_cheeni(client, shop, "١٫٥")
    assert _bill(html) == ("425.00", "425 روپے")
    sale = _complete(client, shop, html)
    receipt = client.get(f"/stores/{shop['store']}/sales/{sale.id}").get_data(as_text=True)
    assert sale.total == Decimal("425.00") and "425 روپے" in receipt


def test_a_quarter_kilo_at_150_10_shows_and_charges_37_53(client, shop):
    login(client, "dukan")
    url = f"/stores/{shop['store']}/basket"
    client.post(f"{url}/add", data={"product_id": shop["daal"]})
    html = client.post(f"{url}/lines/0", data={"quantity": "0,250"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-line-total="37.53"' in html and _bill(html) == ("37.53", "Rs 37.53")
    assert _complete(client, shop, html).total == Decimal("37.53")


def test_a_number_the_parser_refuses_is_said_on_its_line_and_the_basket_kept(client, shop):
    login(client, "dukan")
    url = f"/stores/{shop['store']}/basket"
    client.post(f"{url}/add", data={"product_id": shop["cheeni"]})
    response = client.post(f"{url}/lines/0", data={"quantity": "1,500"},
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "could mean 1500 or 1.5" in html and 'aria-invalid="true"' in html
    assert _state(html)["lines"][0]["value"] == "1"
    # 0 takes the line out, as − does.
    html = client.post(f"{url}/lines/0", data={"quantity": "٠"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert _state(html)["lines"] == []


def test_rs_100_of_cheeni_is_100_on_the_page_the_receipt_and_the_report(client, shop):
    login(client, "dukan")
    url = f"/stores/{shop['store']}/basket"
    client.post(f"{url}/add", data={"product_id": shop["cheeni"]})
    html = client.post(f"{url}/lines/0", data={"amount": "100"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    line = _state(html)["lines"][0]
    assert (line["mode"], line["quantity"], line["total"]) == ("a", "0.667", "100.00")
    assert _bill(html) == ("100.00", "Rs 100")
    sale = _complete(client, shop, html)
    line = db.session.query(SaleLine).filter_by(sale_id=sale.id).one()
    assert sale.total == line.line_total == Decimal("100.00")
    span = reports.date_range()
    assert reports.sales_total(reports.sales_by_day([shop["store"]], span))["amount"] == \
        Decimal("100.00")


def test_basket_replace_keeps_a_line_the_phone_wrote_1_5(client, shop):
    login(client, "dukan")
    lines = [[shop["cheeni"], "q", "1,5"], [shop["pepsi"], "q", "١"],
             [shop["daal"], "a", "۱۰۰"], [shop["cheeni"], "q", "2"]]
    response = client.post(f"/stores/{shop['store']}/basket/replace",
                           data={"lines": json.dumps(lines)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    with client.session_transaction() as session:
        kept = session["baskets"][str(shop["store"])]["lines"]
    assert kept == [[shop["cheeni"], "q", "1.5"], [shop["pepsi"], "q", "1"],
                    [shop["daal"], "a", "100"]]
    assert _bill(response.get_data(as_text=True)) == ("525.00", "Rs 525")   # 225 + 200 + 100


# --- the API, the offline queue and the report -------------------------------------------------

def _day_amount(store_id):
    return reports.sales_total(reports.sales_by_day([store_id], reports.date_range()))["amount"]


AWKWARD = [  # (line, its total on the receipt)
    ({"sku": "CHEENI", "amount": "100"}, "100.00"),       # 0.667 kg: 100.05 at Rs 150
    ({"sku": "DAAL", "amount": "۵۰"}, "50.00"),           # 0.333 kg: 49.98 at Rs 150.10
    ({"sku": "DAAL", "quantity": "0,250"}, "37.53"),       # 37.525 half up
    ({"sku": "CHEENI", "quantity": "١٫٥"}, "225.00"),
]


def test_a_days_report_equals_the_sum_of_its_receipts_to_the_paisa(any_shop):
    totals = []
    for line, expected in AWKWARD:
        sale = sales.complete_sale(ADMIN, store_id=any_shop["store"], lines=[line]).data["sale"]
        assert sale["total"] == sale["lines"][0]["line_total"] == expected
        totals.append(Decimal(sale["total"]))
    assert _day_amount(any_shop["store"]) == sum(totals) == Decimal("412.53")


def test_the_api_reads_1_5_and_sells_by_amount_at_the_receipts_figure(app, shop):
    api = api_as(app, "manager")
    for typed in ("1,5", "١٫٥"):
        response = api.post("/api/v1/sales", json={"store_id": shop["store"], "lines": [
            {"product_id": shop["pepsi"], "quantity": 1},
            {"product_id": shop["cheeni"], "quantity": typed}]})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["sale"]["total"] == "425.00"
    response = api.post("/api/v1/sales", json={"store_id": shop["store"], "lines": [
        {"product_id": shop["cheeni"], "amount": "100"}]})
    assert response.get_json()["sale"]["lines"][0]["line_total"] == "100.00"
    report = api.get(f"/api/v1/reports/sales?store_id={shop['store']}").get_json()
    assert report["total"]["amount"] == "950.00"     # 425 + 425 + 100


def test_the_offline_queue_hands_in_1_5_and_an_amount_and_the_report_agrees(client, shop):
    login(client, "dukan")
    url = f"/offline/stores/{shop['store']}/sales"
    now = datetime.now(timezone.utc).isoformat()
    for lines, total in (([{"product_id": shop["pepsi"], "quantity": "1"},
                           {"product_id": shop["cheeni"], "quantity": "١٫٥"}], "425.00"),
                         ([{"product_id": shop["cheeni"], "amount": "100"}], "100.00")):
        response = client.post(url, json={"key": uuid.uuid4().hex, "lines": lines,
                                          "user_id": shop["dukan"].id, "occurred_at": now})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["sale"]["total"] == total
    assert _day_amount(shop["store"]) == Decimal("525.00")
