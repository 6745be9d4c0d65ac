"""Reports on a small hand-made fixture: every figure below was worked out by hand.

Two stores (A in Karachi, B in Lahore); sugar sold by the kg (Urdu name with a comma and
quotes), soap by the piece, an archived tea; a transfer A → B (never a sale); a removal; sales
around midnight in Pakistan (2026-03-01 20:30 UTC is 2026-03-02 01:30 in Karachi).
"""
import csv
import re
import io
from datetime import date
from decimal import Decimal as D

import pytest

from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.services import catalog, commands, ledger, paging, report_rollups, reports, sales

SUGAR_NAME = 'چینی, "Cheeni"'
MARCH = reports.DateRange(date(2026, 3, 1), date(2026, 3, 3))


def move(store, product, type_, quantity, when=None, **kwargs):
    return ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                 product_id=product.id, type=type_,
                                                                 quantity=quantity,
                                                                 occurred_at=when, **kwargs))


@pytest.fixture
def shops(app):
    return build_shops()


def build_shops():
    a = make_store(code="KHI-A", name="Store A", city="Karachi")
    b = make_store(code="LHE-B", name="Store B", city="Lahore")
    sugar = make_product(sku="SUGAR", name=SUGAR_NAME, unit="kg", sale_price="150.00",
                         cost="120.00", reorder_level="5", category="Grocery")
    soap = make_product(sku="SOAP", name="Soap", unit="piece", sale_price="50.00",
                        cost="40.00", reorder_level="10", category="Household")
    tea = make_product(sku="TEA", name="Old tea", unit="piece", sale_price="200.00", cost=None,
                       reorder_level="2", category="Grocery")
    move(a, sugar, "stock_in", "20", "2026-03-01T10:00:00Z")
    move(a, soap, "stock_in", "12", "2026-03-01T10:00:00Z")
    move(a, tea, "stock_in", "5", "2026-03-01T10:00:00Z")
    move(a, sugar, "sale", "1.25", "2026-03-01T18:30:00Z")   # 23:30 on 1 March in Karachi
    move(a, sugar, "sale", "2.5", "2026-03-01T20:30:00Z")    # 01:30 on 2 March in Karachi
    move(a, soap, "sale", "3", "2026-03-02T10:00:00Z", unit_price="45")
    move(a, tea, "sale", "1", "2026-03-02T11:00:00Z")
    move(a, sugar, "removal", "0.75", "2026-03-02T12:00:00Z", reason="damaged")
    ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=a.id, to_store_id=b.id,
                                                   product_id=soap.id, quantity=4))
    move(b, soap, "sale", "1", "2026-03-03T09:00:00Z")
    catalog.update_product(ADMIN, tea.id, {"archived": True})
    return {"a": a, "b": b, "sugar": sugar, "soap": soap, "tea": tea}


def by(items, key):
    return {i[key]: i for i in items}


@pytest.fixture(params=["live", "rolled_up"])
def source(request, shops):
    """Run each all-store report both from daily_stock_summary and from the roll-ups."""
    if request.param == "rolled_up":
        report_rollups.refresh()
    return request.param


def test_sales_per_day_follow_pakistan_days(shops, source):
    days = by(reports.sales_by_day(None, MARCH), "day")
    assert days[date(2026, 3, 1)]["amount"] == D("187.50")
    assert days[date(2026, 3, 1)]["quantity"] == D("1.250")
    assert days[date(2026, 3, 2)]["amount"] == D("710.00")  # 375 + 135 + 200 (archived tea)
    assert days[date(2026, 3, 2)]["movements"] == 3
    assert days[date(2026, 3, 3)]["amount"] == D("50.00")
    assert reports.sales_total(list(days.values()))["amount"] == D("947.50")


def test_profit_is_sales_minus_the_cost_recorded_when_sold(shops, source):
    """Sugar costs 120 a kg, soap 40 a piece; the archived tea has no cost (counted at 0)."""
    days = by(reports.sales_by_day(None, MARCH), "day")
    first = days[date(2026, 3, 1)]
    assert (first["amount"], first["cost"], first["profit"]) == \
        (D("187.50"), D("150.00"), D("37.50"))
    second = days[date(2026, 3, 2)]  # 375 + 135 + 200 against 300 + 120 + 0
    assert (second["cost"], second["profit"], second["without_cost"]) == \
        (D("420.00"), D("290.00"), 1)
    total = reports.sales_total(list(days.values()))
    assert (total["amount"], total["cost"], total["profit"], total["without_cost"]) == \
        (D("947.50"), D("610.00"), D("337.50"), 1)
    products = by(reports.sales_by_product(None, MARCH), "sku")
    assert (products["SOAP"]["cost"], products["SOAP"]["profit"]) == (D("160.00"), D("25.00"))
    assert products["TEA"]["profit"] == D("200.00")
    stores = by(reports.sales_by_store(None, MARCH), "store_code")
    assert stores["LHE-B"]["profit"] == D("10.00")


def test_a_later_cost_price_does_not_rewrite_past_profit(shops, source):
    catalog.update_product(ADMIN, shops["sugar"].id, {"cost": "149.00"})
    if source == "rolled_up":
        report_rollups.refresh()
    sugar = by(reports.sales_by_product(None, MARCH), "sku")["SUGAR"]
    assert (sugar["cost"], sugar["profit"]) == (D("450.00"), D("112.50"))


def test_date_range_edges_in_karachi(shops, source):
    only_2nd = reports.DateRange(date(2026, 3, 2), date(2026, 3, 2))
    assert [d["amount"] for d in reports.sales_by_day(None, only_2nd)] == [D("710.00")]
    only_1st = reports.DateRange(date(2026, 3, 1), date(2026, 3, 1))
    assert [d["amount"] for d in reports.sales_by_day(None, only_1st)] == [D("187.50")]


def test_sales_per_store_leave_transfers_out(shops, source):
    stores = by(reports.sales_by_store(None, MARCH), "store_code")
    assert stores["KHI-A"]["amount"] == D("897.50")
    assert stores["LHE-B"]["amount"] == D("50.00")
    assert stores["LHE-B"]["movements"] == 1


def test_top_products_include_archived(shops, source):
    products = reports.sales_by_product(None, MARCH)
    assert [(p["sku"], p["amount"]) for p in products] == [
        ("SUGAR", D("562.50")), ("TEA", D("200.00")), ("SOAP", D("185.00"))]
    assert products[0]["quantity"] == D("3.750") and products[1]["archived"] is True
    assert len(reports.sales_by_product(None, MARCH, limit=1)) == 1


def test_sales_of_one_store(shops):
    a = shops["a"]
    assert by(reports.sales_by_store({a.id}, MARCH), "store_code").keys() == {"KHI-A"}
    assert sum(d["amount"] for d in reports.sales_by_day({a.id}, MARCH)) == D("897.50")


def test_movement_summary_by_type_and_reason(shops, source):
    types = by(reports.movements_by_type(None, MARCH), "type")
    assert (types["stock_in"]["quantity"], types["stock_in"]["amount"],
            types["stock_in"]["movements"]) == (D("37.000"), D("2880.00"), 3)
    assert (types["sale"]["quantity"], types["sale"]["delta"], types["sale"]["amount"]) == \
        (D("8.750"), D("-8.750"), D("947.50"))
    assert types["removal"]["amount"] == D("90.00")
    assert types["transfer_out"]["movements"] == 0  # the transfer happened today, not in March
    reasons = by(reports.removals_by_reason(None, MARCH), "reason")
    assert (reasons["damaged"]["quantity"], reasons["damaged"]["amount"],
            reasons["damaged"]["movements"]) == (D("0.750"), D("90.00"), 1)
    assert reasons["expired"]["movements"] == 0


def test_transfers_show_in_the_movement_summary_of_today(shops):
    span = reports.date_range()
    types = by(reports.movements_by_type(None, span), "type")
    assert types["transfer_out"]["quantity"] == types["transfer_in"]["quantity"] == D("4.000")
    assert types["transfer_out"]["delta"] == D("-4.000")


def test_valuation_per_store_and_total(shops):
    report_rollups.refresh()
    for result in (reports.valuation(None), reports.valuation({shops["a"].id, shops["b"].id})):
        stores = by(result["all"], "store_code")
        # A: sugar 15.5 kg × 120 / × 150, soap 5 × 40 / × 50, archived tea 4 × (no cost) / × 200.
        assert (stores["KHI-A"]["value_cost"], stores["KHI-A"]["value_sale"]) == \
            (D("2060.00"), D("3375.00"))
        assert stores["KHI-A"]["without_cost"] == 1
        assert (stores["LHE-B"]["value_cost"], stores["LHE-B"]["value_sale"]) == \
            (D("120.00"), D("150.00"))
        assert (result["total"]["value_cost"], result["total"]["value_sale"]) == \
            (D("2180.00"), D("3525.00"))
        assert result["total"]["low"] == 2  # soap in A (5 ≤ 10) and in B (3 ≤ 10); tea archived


def test_low_stock_with_suggested_reorder(shops):
    on = date(2026, 3, 4)  # the 28 days before: 4 February to 3 March
    page = reports.low_stock(None, on=on)
    rows = {(i["store_code"], i["sku"]): i for i in page.items}
    assert set(rows) == {("KHI-A", "SOAP"), ("LHE-B", "SOAP")}
    a_soap = rows[("KHI-A", "SOAP")]
    assert (a_soap["quantity"], a_soap["sold_28_days"], a_soap["avg_daily_sales"]) == \
        (D("5.000"), D("3.000"), D("0.107"))
    # Twice the reorder level (20) beats 14 days of sales: 20 − 5 on hand, so the delivery
    # leaves the level above the reorder level, not at it (where it would still be low).
    assert a_soap["suggested"] == D("15.000")
    assert rows[("LHE-B", "SOAP")]["suggested"] == D("17.000")
    # 300 days at 3/28 a day = 32.14 pieces, minus the 5 on hand, rounded up to whole pieces.
    long = reports.low_stock({shops["a"].id}, cover_days=300, on=on)
    assert [(i["sku"], i["suggested"]) for i in long.items] == [("SOAP", D("28.000"))]


def test_suggestion_for_loose_goods_rounds_up_to_grams():
    assert reports.suggested_reorder(D("10"), 14, D("1"), D("0.5"), "kg") == D("4.500")
    # A reorder level of 0: at least one unit above it.
    assert reports.suggested_reorder(D("1"), 14, D("0"), D("0.1"), "kg") == D("0.900")
    assert reports.suggested_reorder(D("0"), 14, D("2"), D("-1.5"), "piece") == D("6.000")


def test_stock_across_stores_filters_and_sorts(shops):
    page = reports.stock_levels(None, sort="store")
    assert [(i["store_code"], i["sku"]) for i in page.items] == [
        ("KHI-A", "SOAP"), ("KHI-A", "SUGAR"), ("LHE-B", "SOAP")]  # archived tea hidden
    sugar = next(i for i in page.items if i["sku"] == "SUGAR")
    assert (sugar["quantity"], sugar["value_cost"], sugar["name"]) == \
        (D("15.500"), D("1860.00"), SUGAR_NAME)
    assert len(reports.stock_levels(None, archived=True).items) == 4
    assert [i["store_code"] for i in reports.stock_levels(None, city="Lahore").items] == ["LHE-B"]
    assert [i["sku"] for i in reports.stock_levels(None, category="Grocery").items] == ["SUGAR"]
    assert [i["sku"] for i in reports.stock_levels(None, q="cheeni").items] == ["SUGAR"]
    by_quantity = reports.stock_levels(None, store_id=shops["a"].id, sort="quantity",
                                       descending=True)
    assert [i["sku"] for i in by_quantity.items] == ["SUGAR", "SOAP"]
    first = reports.stock_levels(None, sort="store", per_page=2)
    second = reports.stock_levels(None, sort="store", per_page=2, page=2)
    assert first.has_next and not second.has_next and len(second.items) == 1


def test_bad_parameters_are_refused(app):
    from webapp.services.errors import DomainError
    with pytest.raises(DomainError):
        reports.date_range("2026-03-05", "2026-03-01")
    with pytest.raises(DomainError):
        reports.date_range("2025-01-01", "2026-03-01")
    with pytest.raises(DomainError):
        reports.date_range("yesterday", None)
    with pytest.raises(DomainError):
        reports.stock_levels(None, sort="quantity")
    with pytest.raises(DomainError):
        paging.page_args(1, 201)


# ---------------------------------------------------------------------------------------------
# Pages, CSV and who sees what


@pytest.fixture
def people(shops):
    return {"manager": make_user(role="manager"), "admin": make_user(role="admin"),
            "keeper": make_user(role="shopkeeper", stores=[shops["b"]])}


def read_csv(response):
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_sales_csv_escapes_and_matches_the_page(client, shops, people):
    login(client, people["manager"])
    response = client.get("/reports/sales.csv?by=product&from=2026-03-01&to=2026-03-03")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers[
        "Content-Disposition"]
    raw = response.get_data(as_text=True)
    assert '"چینی, ""Cheeni"""' in raw
    rows = read_csv(response)
    assert rows[0] == ["sku", "product", "category", "unit", "quantity", "amount", "sales",
                       "cost", "profit", "refunded"]
    assert rows[1] == ["SUGAR", SUGAR_NAME, "Grocery", "kg", "3.750", "562.50", "2", "450.00",
                       "112.50", "0.00"]
    assert rows[-1] == ["TOTAL", "", "", "", "8.750", "947.50", "5", "610.00", "337.50", "0.00"]
    page = client.get("/reports/sales?from=2026-03-01&to=2026-03-03")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "562.50" in html and "947.50" in html and "<svg" in html
    assert "style=" not in html and "<script>" not in html


def test_every_report_page_and_csv_answers(client, shops, people):
    login(client, people["admin"])
    for url in ("/reports/", "/reports/stock", "/reports/stock?sort=store&desc=1&q=soap",
                "/reports/low-stock", "/reports/valuation", "/reports/sales",
                "/reports/movements?from=2026-03-01&to=2026-03-03"):
        assert client.get(url).status_code == 200, url
    stock = read_csv(client.get("/reports/stock.csv?archived=1"))
    assert len(stock) == 5 and stock[0][0] == "store_code"
    low = read_csv(client.get("/reports/low-stock.csv"))
    assert [r[2] for r in low[1:]] == ["SOAP", "SOAP"]
    valuation = read_csv(client.get("/reports/valuation.csv"))
    assert valuation[-1][:1] + valuation[-1][5:7] == ["TOTAL", "2180.00", "3525.00"]
    movements = read_csv(client.get("/reports/movements.csv?from=2026-03-01&to=2026-03-03"))
    assert ["removal reason", "damaged", "0.750", "", "90.00", "1"] in movements


def test_bad_input_is_an_inline_error(client, shops, people):
    login(client, people["manager"])
    response = client.get("/reports/sales?from=2026-03-09&to=2026-03-01")
    assert response.status_code == 422
    assert "From must be on or before To." in response.get_data(as_text=True)
    assert client.get("/reports/stock?page=abc").status_code == 422
    assert client.get("/reports/stock?sort=quantity").status_code == 422
    assert client.get("/reports/low-stock?cover_days=-3").status_code == 422


def test_csv_cells_cannot_run_as_formulas(client, shops, people):
    evil = make_product(sku="EVIL", name='=HYPERLINK("x")')
    move(shops["a"], evil, "stock_in", "1")
    login(client, people["manager"])
    rows = read_csv(client.get("/reports/stock.csv?q=evil"))
    assert rows[1][4] == "'=HYPERLINK(\"x\")"


def test_shopkeeper_sees_only_own_stores(client, shops, people):
    login(client, people["keeper"])
    a, b = shops["a"], shops["b"]
    assert client.get(f"/reports/sales?store_id={a.id}").status_code == 404
    assert client.get(f"/reports/stock.csv?store_id={a.id}").status_code == 404
    rows = read_csv(client.get("/reports/sales.csv?by=store&from=2026-03-01&to=2026-03-03"))
    assert [r[0] for r in rows[1:]] == ["LHE-B", "TOTAL"]
    valuation = read_csv(client.get("/reports/valuation.csv"))
    assert [r[0] for r in valuation[1:]] == ["LHE-B", "TOTAL"]
    html = client.get("/reports/stock").get_data(as_text=True)
    assert "KHI-A" not in html and "LHE-B" in html
    assert client.get(f"/reports/low-stock?store_id={b.id}").status_code == 200


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_every_store(client, shops, people, role):
    login(client, people[role])
    rows = read_csv(client.get("/reports/sales.csv?by=store&from=2026-03-01&to=2026-03-03"))
    assert [r[0] for r in rows[1:]] == ["KHI-A", "LHE-B", "TOTAL"]


def test_anonymous_visitors_are_turned_away(client, shops):
    assert client.get("/reports/sales").status_code in (302, 401)
    assert client.get("/reports/sales.csv").status_code in (302, 401)


# ---------------------------------------------------------------------------------------------
# The JSON API


def test_api_sales_low_stock_and_valuation(app, shops):
    from tests.api_client import api_as

    api = api_as(app, "manager")
    sales = api.get("/api/v1/reports/sales?from=2026-03-01&to=2026-03-03")
    assert sales.status_code == 200, sales.get_json()
    body = sales.get_json()
    assert body["first_day"] == "2026-03-01" and body["total"]["amount"] == "947.50"
    assert [d["amount"] for d in body["days"]] == ["187.50", "710.00", "50.00"]
    assert body["top_products"][0] == {
        "product_id": shops["sugar"].id, "sku": "SUGAR", "name": SUGAR_NAME, "unit": "kg",
        "archived": False, "quantity": "3.750", "amount": "562.50", "movements": 2,
        "cost": "450.00", "profit": "112.50", "refunded": "0.00", "reversals": 0,
        "without_cost": 0}
    assert (body["total"]["cost"], body["total"]["profit"], body["total"]["without_cost"]) == \
        ("610.00", "337.50", 1)
    low = api.get("/api/v1/reports/low-stock?per_page=1").get_json()
    assert (low["total"], len(low["items"]), low["items"][0]["sku"]) == (2, 1, "SOAP")
    value = api.get(f"/api/v1/reports/valuation?store_id={shops['a'].id}").get_json()
    assert value["totals"]["value_cost"] == "2060.00" and value["as_of"] is None
    moves = api.get("/api/v1/reports/movements?from=2026-03-01&to=2026-03-03").get_json()
    assert {r["reason"]: r["amount"] for r in moves["removal_reasons"]}["damaged"] == "90.00"


def test_api_reports_per_role_and_bad_input(app, shops):
    from tests.api_client import api_as

    keeper = api_as(app, "shopkeeper", stores=[shops["b"]])
    assert keeper.get(f"/api/v1/reports/sales?store_id={shops['a'].id}").status_code == 404
    assert keeper.get(f"/api/v1/reports/valuation?store_id={shops['a'].id}").status_code == 404
    own = keeper.get("/api/v1/reports/valuation").get_json()
    assert [s["store_code"] for s in own["items"]] == ["LHE-B"]
    sales = keeper.get("/api/v1/reports/sales?from=2026-03-01&to=2026-03-03").get_json()
    assert sales["total"]["amount"] == "50.00"
    bad = keeper.get("/api/v1/reports/sales?from=2026-03-09&to=2026-03-01")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["from"]
    assert keeper.get("/api/v1/reports/low-stock?per_page=500").status_code == 422
    assert keeper.get("/api/v1/reports/sales?color=red").status_code == 422
    assert app.test_client().get("/api/v1/reports/sales").status_code == 401
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert "/api/v1/reports/sales" in spec["paths"] or "/reports/sales" in str(spec["paths"])


def test_long_ranges_read_whole_months_and_edge_days(shops, source):
    spring = reports.DateRange(date(2026, 2, 1), date(2026, 4, 30))
    assert {s["store_code"]: s["amount"] for s in reports.sales_by_store(None, spring)} == \
        {"KHI-A": D("897.50"), "LHE-B": D("50.00")}
    from_2nd = reports.DateRange(date(2026, 3, 2), date(2026, 4, 30))
    assert {s["store_code"]: s["amount"] for s in reports.sales_by_store(None, from_2nd)} == \
        {"KHI-A": D("710.00"), "LHE-B": D("50.00")}
    assert [(p["sku"], p["amount"]) for p in reports.sales_by_product(None, from_2nd)] == [
        ("SUGAR", D("375.00")), ("TEA", D("200.00")), ("SOAP", D("185.00"))]


def test_month_pieces():
    span = reports.DateRange(date(2026, 1, 15), date(2026, 4, 2))
    months = reports._whole_months(span)
    assert months == [date(2026, 2, 1), date(2026, 3, 1)]
    assert reports._days_outside(span, months) == [(date(2026, 1, 15), date(2026, 1, 31)),
                                                   (date(2026, 4, 1), date(2026, 4, 2))]
    assert reports._whole_months(reports.DateRange(date(2026, 2, 1), date(2026, 2, 28))) == \
        [date(2026, 2, 1)]


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(pg_app):
    """PostgreSQL walks stores or products through LATERAL joins; the answers must not change."""
    build_shops()
    orders = {
        ("store", False): [("KHI-A", "SOAP"), ("KHI-A", "SUGAR"), ("LHE-B", "SOAP")],
        ("store", True): [("LHE-B", "SOAP"), ("KHI-A", "SUGAR"), ("KHI-A", "SOAP")],
        ("product", False): [("KHI-A", "SOAP"), ("LHE-B", "SOAP"), ("KHI-A", "SUGAR")],
        ("category", False): [("KHI-A", "SUGAR"), ("KHI-A", "SOAP"), ("LHE-B", "SOAP")],
    }
    for (sort, descending), expected in orders.items():
        page = reports.stock_levels(None, sort=sort, descending=descending)
        assert [(i["store_code"], i["sku"]) for i in page.items] == expected, sort
    assert [i["sku"] for i in reports.stock_levels(None, city="Lahore").items] == ["SOAP"]
    assert [i["sku"] for i in reports.stock_levels(None, q="cheeni").items] == ["SUGAR"]
    assert len(reports.stock_levels(None, archived=True, sort="store").items) == 4
    report_rollups.refresh()
    assert reports.valuation(None)["total"]["value_cost"] == D("2180.00")
    assert reports.low_stock(None, on=date(2026, 3, 4)).total == 2
    streamed = list(reports.iter_low_stock(None, on=date(2026, 3, 4), batch=1))
    assert [(i["store_code"], i["suggested"]) for i in streamed] == [
        ("KHI-A", D("15.000")), ("LHE-B", D("17.000"))]
    assert len(list(reports.iter_stock_levels(None, sort="store"))) == 3
    assert {s["store_code"]: s["amount"] for s in reports.sales_by_store(None, MARCH)} == \
        {"KHI-A": D("897.50"), "LHE-B": D("50.00")}
    assert reports.removals_by_reason(None, MARCH)[0]["amount"] == D("90.00")


def test_store_code_instead_of_a_long_store_list(client, shops, people, monkeypatch):
    monkeypatch.setattr(reports, "STORE_LIST_LIMIT", 1)
    login(client, people["manager"])
    html = client.get("/reports/sales").get_data(as_text=True)
    assert 'name="store"' in html and 'name="store_id"' not in html
    rows = read_csv(client.get("/reports/sales.csv?by=store&store=lhe-b&from=2026-03-01"
                               "&to=2026-03-03"))
    assert [r[0] for r in rows[1:]] == ["LHE-B", "TOTAL"]
    missing = client.get("/reports/sales?store=NOPE-1")
    assert missing.status_code == 422 and "No store has the code NOPE-1." in \
        missing.get_data(as_text=True)


def test_store_code_of_another_shop_is_not_found(client, shops, people, monkeypatch):
    monkeypatch.setattr(reports, "STORE_LIST_LIMIT", 0)
    login(client, people["keeper"])
    assert client.get("/reports/valuation?store=KHI-A").status_code == 404
    assert client.get("/reports/valuation?store=lhe-b").status_code == 200


# ---------------------------------------------------------------------------------------------
# Voids and returns


@pytest.fixture
def counter(app):
    """Two counter sales today, the first voided and one soap of the second returned.

    Cheeni: Rs 150 a kg at cost 120; soap: Rs 50 a piece at cost 40 (the second sale at 45).
    """
    store = make_store(code="KHI-C", city="Karachi")
    cheeni = make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150.00",
                          cost="120.00", reorder_level="10")
    soap = make_product(sku="SOAP-C", name="Soap", unit="piece", sale_price="50.00",
                        cost="40.00", reorder_level="10")
    move(store, cheeni, "stock_in", "10")
    move(store, soap, "stock_in", "10")
    voided = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": cheeni.id, "quantity": "1.5"}, {"product_id": soap.id, "quantity": "2"}])
    kept = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": soap.id, "quantity": "4", "unit_price": "45.00"}])
    # The cost price changes before the void and the return: they take back what the sale
    # counted (40 and 120), not the new cost.
    catalog.update_product(ADMIN, soap.id, {"cost": "44.00"})
    sales.void_sale(ADMIN, voided.data["sale"]["id"])
    sales.return_lines(ADMIN, kept.data["sale"]["id"],
                       lines=[{"product_id": soap.id, "quantity": "1"}])
    return {"store": store, "cheeni": cheeni, "soap": soap, "today": reports.today()}


def today_only(counter):
    return reports.DateRange(counter["today"], counter["today"])


@pytest.mark.parametrize("rolled_up", [False, True])
def test_sales_are_net_of_voids_and_returns(counter, rolled_up):
    if rolled_up:
        report_rollups.refresh()
    span = today_only(counter)
    for scope in (None, {counter["store"].id}):
        [day] = reports.sales_by_day(scope, span)
        # Sold 225 + 100 + 180 = 505, refunded 325 (the void) + 45 (one soap at 45) = 370.
        assert (day["quantity"], day["amount"], day["refunded"]) == \
            (D("3.000"), D("135.00"), D("370.00"))
        # Cost 180 + 80 + 160 − (180 + 80) − 40 = 120: the sale's cost, not the new 44.
        assert (day["cost"], day["profit"]) == (D("120.00"), D("15.00"))
        assert (day["movements"], day["reversals"]) == (3, 3)
        products = by(reports.sales_by_product(scope, span), "sku")
        assert (products["SOAP-C"]["quantity"], products["SOAP-C"]["amount"],
                products["SOAP-C"]["profit"]) == (D("3.000"), D("135.00"), D("15.00"))
        assert (products["CHEENI"]["quantity"], products["CHEENI"]["amount"],
                products["CHEENI"]["profit"]) == (D("0.000"), D("0.00"), D("0.00"))
        [store] = reports.sales_by_store(scope, span)
        assert (store["amount"], store["profit"]) == (D("135.00"), D("15.00"))
    types = by(reports.movements_by_type(None, span), "type")
    assert types["sale"]["amount"] == D("505.00")  # the movement report counts movements
    assert types["adjustment"]["movements"] == 3


def test_low_stock_suggestions_count_what_customers_kept(counter):
    tomorrow = counter["today"] + reports.timedelta(days=1)
    page = reports.low_stock({counter["store"].id}, on=tomorrow)
    # Both are at or under their reorder level of 10; of the soap, 3 stayed sold.
    assert {i["sku"]: i["sold_28_days"] for i in page.items} == \
        {"CHEENI": D("0.000"), "SOAP-C": D("3.000")}


def test_sales_page_csv_and_api_agree_after_a_void_and_a_return(app, client, counter):
    manager = make_user(role="manager")
    login(client, manager)
    day = counter["today"].isoformat()
    html = client.get(f"/reports/sales?from={day}&to={day}").get_data(as_text=True)
    assert "135" in html and "Rs 370" in html
    rows = read_csv(client.get(f"/reports/sales.csv?by=day&from={day}&to={day}"))
    assert rows[1] == [day, "3.000", "135.00", "3", "120.00", "15.00", "370.00"]
    assert rows[-1][0] == "TOTAL" and rows[-1][2:] == ["135.00", "3", "120.00", "15.00",
                                                       "370.00"]
    products = read_csv(client.get(f"/reports/sales.csv?by=product&from={day}&to={day}"))
    assert [r[0] for r in products[1:]] == ["SOAP-C", "CHEENI", "TOTAL"]
    from tests.api_client import api_as
    body = api_as(app, "manager").get(f"/api/v1/reports/sales?from={day}&to={day}").get_json()
    assert {k: body["total"][k] for k in ("quantity", "amount", "cost", "profit", "refunded")} \
        == {"quantity": "3.000", "amount": "135.00", "cost": "120.00", "profit": "15.00",
            "refunded": "370.00"}
    assert body["days"][0]["reversals"] == 3


def test_a_void_counts_on_the_day_it_was_recorded(app):
    """A sale back-dated to yesterday and voided today: yesterday keeps it, today takes it off,
    and the two days together come to nothing."""
    store = make_store()
    rice = make_product(unit="kg", sale_price="200.00", cost="150.00")
    move(store, rice, "stock_in", "5")
    today = reports.today()
    yesterday_noon = reports.pakistan_day_start(today - reports.timedelta(days=1)) \
        + reports.timedelta(hours=12)
    sale = sales.complete_sale(ADMIN, store_id=store.id, occurred_at=yesterday_noon.isoformat(),
                               lines=[{"product_id": rice.id, "quantity": "2"}])
    sales.void_sale(ADMIN, sale.data["sale"]["id"])
    both = reports.DateRange(today - reports.timedelta(days=1), today)
    for rolled_up in (False, True):
        if rolled_up:
            report_rollups.refresh()
        before, after = reports.sales_by_day(None, both)
        assert (before["amount"], before["profit"]) == (D("400.00"), D("100.00"))
        assert (after["amount"], after["profit"], after["refunded"]) == \
            (D("-400.00"), D("-100.00"), D("400.00"))
        assert reports.sales_total([before, after])["amount"] == D("0.00")


def test_the_report_adds_up_to_the_receipts(app):
    """0.105 kg at Rs 81 is Rs 8.505: the receipt says 8.51, and so does the report."""
    store = make_store()
    dal = make_product(unit="kg", sale_price="81.00", cost="80.00")
    move(store, dal, "stock_in", "1")
    sale = sales.complete_sale(ADMIN, store_id=store.id,
                               lines=[{"product_id": dal.id, "quantity": "0.105"}])
    assert sale.data["sale"]["total"] == "8.51"
    [day] = reports.sales_by_day(None, reports.DateRange(reports.today(), reports.today()))
    assert (day["amount"], day["cost"]) == (D("8.51"), D("8.40"))


# ---------------------------------------------------------------------------------------------
# Date shortcuts and the folded filters


@pytest.mark.parametrize("today, name, start, end", [
    (date(2026, 11, 26), "today", date(2026, 11, 26), date(2026, 11, 26)),
    (date(2026, 11, 26), "yesterday", date(2026, 11, 25), date(2026, 11, 25)),
    (date(2026, 11, 26), "this_week", date(2026, 11, 23), date(2026, 11, 26)),  # from Monday
    (date(2026, 11, 23), "this_week", date(2026, 11, 23), date(2026, 11, 23)),  # a Monday
    (date(2026, 11, 29), "this_week", date(2026, 11, 23), date(2026, 11, 29)),  # a Sunday
    (date(2026, 3, 1), "yesterday", date(2026, 2, 28), date(2026, 2, 28)),
    (date(2026, 3, 1), "this_month", date(2026, 3, 1), date(2026, 3, 1)),
    (date(2026, 12, 31), "this_month", date(2026, 12, 1), date(2026, 12, 31)),
])
def test_date_shortcuts_are_pakistan_days(today, name, start, end):
    assert reports.period(name, today) == reports.DateRange(start, end)


def test_today_is_karachis_day_not_utcs(monkeypatch):
    from datetime import datetime, timezone

    late = datetime(2026, 11, 25, 19, 30, tzinfo=timezone.utc)  # 00:30 on the 26th in Karachi
    monkeypatch.setattr(reports, "utcnow", lambda: late)
    assert reports.period("today") == reports.DateRange(date(2026, 11, 26), date(2026, 11, 26))


def test_the_sales_page_has_shortcuts_and_folded_filters_in_words(client, shops, people,
                                                                  monkeypatch):
    monkeypatch.setattr(reports, "today", lambda: date(2026, 3, 4))  # a Wednesday
    login(client, people["manager"])
    html = client.get(f"/reports/sales?store_id={shops['a'].id}&from=2026-03-02"
                      "&to=2026-03-04").get_data(as_text=True)
    summary = re.search(r"data-fold>\s*<summary>(.*?)</summary>", html, re.S).group(1)
    assert re.sub(r"<[^>]+>|\s+", " ", summary).split() == ["Filters", "This", "week", "·",
                                                           "KHI-A"]
    assert f'href="/reports/sales?store_id={shops["a"].id}&amp;from=2026-03-03&amp;' \
           'to=2026-03-03">Yesterday</a>' in html
    assert 'to=2026-03-04" aria-current="true">This week</a>' in html
    # The figures come before the chart, so a phone sees the first row without scrolling.
    assert html.index('id="sales-per-day"') < html.index('class="rp-chart"')
    other = client.get("/reports/sales?from=2026-03-01&to=2026-03-03").get_data(as_text=True)
    fold = re.search(r"data-fold>\s*<summary>(.*?)</summary>", other, re.S).group(1)
    words = re.sub(r"<[^>]+>|\s+", " ", fold)
    assert "1 Mar 2026 – 3 Mar 2026 · All stores" in words
    bad = client.get("/reports/sales?from=2026-03-09&to=2026-03-01").get_data(as_text=True)
    assert '<details class="fold" data-fold open>' in bad


def test_a_day_of_net_refunds_draws_no_negative_bar():
    from webapp.blueprints.reports import charts

    chart = charts.columns("x", [("2026-03-01", D("100")), ("2026-03-02", D("-40"))])
    assert [b.height for b in chart.bars][1] == 0 and all(b.height >= 0 for b in chart.bars)
    assert chart.bars[1].value == "-40"
    rows = charts.rows("x", [("A", D("-5")), ("B", D("-9"))])
    assert all(b.width >= 1 for b in rows.bars)


def test_chart_labels_group_like_the_tables(app, monkeypatch):
    """One number format per page: the chart's labels are the money filter's (lakh by default),
    not Python's thousands (879,436.08 beside the table's 8,79,436.08)."""
    from webapp.blueprints.reports import charts
    from webapp.web.filters import money

    rows = charts.rows("x", [("KHI-0001", D("879436.08")), ("LHE-0001", D("1250000"))])
    assert [b.value for b in rows.bars] == ["8,79,436.08", "12,50,000"]
    assert [b.value for b in rows.bars] == [money(D("879436.08")), money(D("1250000"))]
    columns = charts.columns("x", [("2026-03-01", D("250000")), ("2026-03-02", D("90000"))])
    assert [label for _y, label in columns.axis] == ["0", "1,00,000", "2,00,000", "3,00,000"]
    monkeypatch.setitem(app.config, "MONEY_GROUPING", "thousands")
    assert charts.rows("x", [("KHI-0001", D("879436.08"))]).bars[0].value == "879,436.08"
