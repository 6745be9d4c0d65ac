"""Seeing expiry coming (issue 26 item 3): the store page's flags, the shopkeeper's Expiring list
and its one-tap removal, the managers' report with its CSV and API, the store's warning window,
and the worker's daily stock.expiring event (audit and webhook)."""
import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.api_client import api_as
from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.jobs import sweep
from webapp.models import AuditLog, AuditOutbox, StockBatch, StockLevel, StockMovement
from webapp.services import audit, catalog, commands, expiry, ledger, webhooks
from webapp.services.errors import DomainError
from webapp.services.validation import PAKISTAN


def stock_in(store, product, quantity, days, code=None):
    """Receive `quantity` of a tracked product expiring `days` from today (negative: past)."""
    return ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity,
        expires_on=(expiry.today() + timedelta(days=days)).isoformat(), batch_code=code))


def level(store, product):
    db.session.expire_all()
    return db.session.get(StockLevel, (store.id, product.id)).quantity


@pytest.fixture
def shop(app):
    """A store (window 7 days) with yoghurt expired 2 days ago (10) and due in 3 days (5),
    bread due in 20 days (4), rice that tracks nothing; a second store with milk expired."""
    store, other = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    yoghurt = make_product(sku="DAHI", name="Nestle Dahi", unit="piece", cost="80.00",
                           tracks_expiry=True)
    bread = make_product(sku="DBL-ROTI", name="Dawn Bread", unit="piece", cost="150.00",
                         tracks_expiry=True)
    rice = make_product(sku="CHAWAL", name="Chawal", unit="kg", cost="300.00")
    milk = make_product(sku="DOODH", name="Olpers Milk", unit="piece", cost="250.00",
                        tracks_expiry=True)
    stock_in(store, yoghurt, 10, -2)
    stock_in(store, yoghurt, 5, 3)
    stock_in(store, bread, 4, 20)
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=rice.id, type="stock_in", quantity=50))
    stock_in(other, milk, 6, -1)
    keeper = make_user("shopkeeper", [store], username="dukan")
    stranger = make_user("shopkeeper", [other], username="lahori")
    manager = make_user("manager", username="manager")
    return {"store": store, "other": other, "yoghurt": yoghurt, "bread": bread, "rice": rice,
            "milk": milk, "keeper": keeper, "stranger": stranger, "manager": manager}


# --- the service ------------------------------------------------------------------------------

def test_flags_say_expired_before_expiring_within_the_store_window(shop):
    flags = expiry.store_flags(shop["store"])
    assert set(flags) == {shop["yoghurt"].id}  # bread's 20 days are beyond the 7-day window
    flag = flags[shop["yoghurt"].id]
    assert (flag.kind, flag.expired, flag.expiring) == ("expired", 10, 5)
    assert flag.first == expiry.today() - timedelta(days=2)
    catalog.update_store(ADMIN, shop["store"].id, {"expiry_warning_days": 30})
    flags = expiry.store_flags(db.session.get(type(shop["store"]), shop["store"].id))
    assert flags[shop["bread"].id].kind == "expiring"


def test_the_store_list_is_soonest_first_with_value_at_cost(shop):
    page = expiry.store_expiring(shop["store"])
    assert [(b["name"], b["quantity"], b["expired"], b["days_left"]) for b in page.items] == [
        ("Nestle Dahi", Decimal("10.000"), True, -2), ("Nestle Dahi", Decimal("5.000"), False, 3)]
    assert [b["value_cost"] for b in page.items] == [Decimal("800.00"), Decimal("400.00")]


def test_the_report_spans_stores_within_n_days_and_adds_up_what_it_shows(shop):
    items = expiry.expiring(None, within_days=30).items
    assert [(b["store_code"], b["sku"], b["days_left"]) for b in items] == [
        ("KHI-0001", "DAHI", -2), ("LHE-0001", "DOODH", -1), ("KHI-0001", "DAHI", 3),
        ("KHI-0001", "DBL-ROTI", 20)]
    totals = expiry.totals(None, within_days=30)
    assert totals == {"batches": 4, "expired_batches": 2,
                      "value_cost": sum(b["value_cost"] for b in items),
                      "expired_value": Decimal("2300.00"), "without_cost": 0}
    # A shopkeeper's view is their stores only; 0 days: expired and today's only.
    assert {b["store_code"] for b in expiry.expiring({shop["store"].id}, within_days=0)
            .items} == {"KHI-0001"}
    assert [b["days_left"] for b in expiry.expiring(None, within_days=0).items] == [-2, -1]


@pytest.mark.parametrize("typed", ["-1", "367", "ten", "1.5"])
def test_within_days_is_a_whole_number_up_to_366(typed):
    with pytest.raises(DomainError) as refused:
        expiry.parse_within_days(typed)
    assert refused.value.fields == {"within_days": refused.value.fields["within_days"]}


@pytest.mark.parametrize("days", ["-1", "91", "a week", True])
def test_the_warning_window_is_0_to_90_days(app, days):
    with pytest.raises(DomainError) as refused:
        catalog.update_store(ADMIN, make_store().id, {"expiry_warning_days": days})
    assert "expiry_warning_days" in refused.value.fields


def test_what_expired_last_month_and_what_it_cost(shop):
    store, yoghurt = shop["store"], shop["yoghurt"]
    first, last = expiry.last_month()
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=yoghurt.id, type="removal", quantity=3, reason="expired",
        occurred_at=datetime.combine(last, datetime.min.time().replace(hour=12),
                                     tzinfo=PAKISTAN).isoformat()))
    ledger.record_movement(ADMIN, commands.Movement.parse(  # this month: not counted
        store_id=store.id, product_id=yoghurt.id, type="removal", quantity=1, reason="expired"))
    ledger.record_movement(ADMIN, commands.Movement.parse(  # damaged, not expired
        store_id=store.id, product_id=yoghurt.id, type="removal", quantity=1, reason="damaged",
        occurred_at=datetime.combine(first, datetime.min.time().replace(hour=12),
                                     tzinfo=PAKISTAN).isoformat()))
    result = expiry.expired_last_month(None)
    assert (result["first_day"], result["last_day"]) == (first, last)
    assert result["movements"] == 1 and result["value_cost"] == Decimal("240.00")
    assert [s["store_code"] for s in result["stores"]] == ["KHI-0001"]
    assert expiry.expired_last_month({shop["other"].id})["movements"] == 0


# --- pages ------------------------------------------------------------------------------------

def test_the_store_page_flags_expired_in_red_and_says_so_at_the_top(shop, client):
    login(client, shop["keeper"])
    page = client.get(f"/stores/{shop['store'].id}/").text
    assert 'class="badge badge-expired" data-expiry="expired"' in page
    assert "1 product has expired stock." in page
    assert f'href="/stores/{shop["store"].id}/expiring"' in page
    # The live list (its poll) carries the same flags.
    assert 'data-expiry="expired"' in client.get(f"/stores/{shop['store'].id}/stock").text


def test_expiring_is_on_the_shopkeepers_menu(shop, client):
    login(client, shop["keeper"])
    menu = client.get(f"/stores/{shop['store'].id}/").text
    assert f'href="/stores/{shop["store"].id}/expiring"' in menu.split("</nav>")[0]


def test_the_expiring_list_is_the_store_window_soonest_first(shop, client):
    login(client, shop["keeper"])
    page = client.get(f"/stores/{shop['store'].id}/expiring").text
    dates = [part.split('"')[0] for part in page.split('data-expires-on="')[1:]]
    assert dates == [(expiry.today() + timedelta(days=d)).isoformat() for d in (-2, 3)]
    assert "Dawn Bread" not in page  # 20 days away, beyond the store's 7
    assert "Rs 800 at cost" in page and "Expired " in page and "in 3 days" in page


def _remove_form(page, expires_on):
    """The hidden fields of the Expiring list's row for the batch of that date."""
    start = page.index(f'name="expires_on" value="{expires_on}"')
    form = page[page.rindex("<form", 0, start):page.index("</form>", start)]
    fields = {}
    for part in form.split("<input")[1:]:
        name = part.split('name="')[1].split('"')[0]
        fields[name] = part.split('value="')[1].split('"')[0]
    return fields


def test_one_tap_removes_the_expired_batch_once(shop, client):
    store, yoghurt = shop["store"], shop["yoghurt"]
    login(client, shop["keeper"])
    url = f"/stores/{store.id}/expiring"
    page = client.get(url).text
    expired_on = (expiry.today() - timedelta(days=2)).isoformat()
    assert page.index(expired_on) < page.index((expiry.today() + timedelta(days=3)).isoformat())
    fields = _remove_form(page, expired_on)
    assert fields["quantity"] == "10" and fields["csrf_token"]
    done = client.post(url, data=fields, follow_redirects=True)
    assert done.status_code == 200
    assert "Removed 10 pieces Nestle Dahi" in done.text and "5 pieces left" in done.text
    assert f'value="{expired_on}"' not in done.text
    assert level(store, yoghurt) == 5
    removal = db.session.scalars(select(StockMovement).where(
        StockMovement.type == "removal")).one()
    assert (removal.reason, removal.quantity, removal.user_id) == ("expired", 10,
                                                                    shop["keeper"].id)
    batch = db.session.scalars(select(StockBatch).where(
        StockBatch.expires_on == expiry.today() - timedelta(days=2))).one()
    assert batch.quantity == 0
    # The same tap again (a retry with its key) writes nothing new.
    assert client.post(url, data=fields).status_code in (200, 303)
    assert level(store, yoghurt) == 5
    assert db.session.scalar(select(db.func.count()).select_from(StockMovement).where(
        StockMovement.type == "removal")) == 1


def test_a_batch_that_changed_since_the_list_was_shown_is_refused_inline(shop, client):
    store, yoghurt = shop["store"], shop["yoghurt"]
    login(client, shop["keeper"])
    url = f"/stores/{store.id}/expiring"
    fields = _remove_form(client.get(url).text, (expiry.today() + timedelta(days=3))
                          .isoformat())
    fields["quantity"] = "6"  # more than the batch holds
    refused = client.post(url, data=fields)
    assert refused.status_code == 422
    assert 'class="flash flash-error"' in refused.text
    assert level(store, yoghurt) == 15


def test_another_stores_shopkeeper_gets_404_and_nothing_is_written(shop, client):
    store = shop["store"]
    login(client, shop["keeper"])
    fields = _remove_form(client.get(f"/stores/{store.id}/expiring").text,
                          (expiry.today() - timedelta(days=2)).isoformat())
    client.post("/logout")
    other = type(client)(client.application)
    login(other, shop["stranger"])
    assert other.get(f"/stores/{store.id}/expiring").status_code == 404
    token = other.get(f"/stores/{shop['other'].id}/expiring").text.split(
        'name="csrf_token" value="')[1].split('"')[0]
    assert other.post(f"/stores/{store.id}/expiring",
                      data=dict(fields, csrf_token=token)).status_code == 404
    assert level(store, shop["yoghurt"]) == 15


def test_the_report_page_and_its_csv(shop, client):
    catalog.update_product(ADMIN, shop["bread"].id, {"name": "=HYPERLINK(\"x\")"})
    login(client, shop["manager"])
    page = client.get("/reports/expiring?within_days=30")
    assert page.status_code == 200
    assert page.text.index("Nestle Dahi") < page.text.index("Olpers Milk")
    assert "Rs 2,300" in page.text  # expired, still on the shelf, at cost
    rows = list(csv.reader(io.StringIO(
        client.get("/reports/expiring.csv?within_days=30").text.lstrip("\ufeff"))))
    assert rows[0][:6] == ["store_code", "store_name", "sku", "product", "unit", "expires_on"]
    assert [r[2] for r in rows[1:]] == ["DAHI", "DOODH", "DAHI", "DBL-ROTI"]
    assert rows[4][3].startswith("'=")  # a formula-looking name stays text
    assert client.get("/reports/expiring?within_days=999").status_code == 422


def test_a_shopkeeper_sees_only_their_stores_on_the_report(shop, client):
    login(client, shop["keeper"])
    page = client.get("/reports/expiring").text
    assert "Nestle Dahi" in page and "Olpers Milk" not in page
    assert client.get(f"/reports/expiring?store_id={shop['other'].id}").status_code == 404
    assert client.get(f"/reports/expiring.csv?store_id={shop['other'].id}").status_code == 404


def test_the_store_form_sets_the_warning_window(shop, client):
    login(client, shop["manager"])
    store = shop["store"]
    assert 'name="expiry_warning_days"' in client.get(f"/stores/{store.id}/edit").text
    data = {"code": store.code, "name": store.name, "active": "y", "expiry_warning_days": "30"}
    assert client.post(f"/stores/{store.id}/edit", data=data).status_code in (302, 303)
    db.session.expire_all()
    assert catalog.get_store(store.id).expiry_warning_days == 30
    bad = client.post(f"/stores/{store.id}/edit", data=dict(data, expiry_warning_days="100"))
    assert bad.status_code == 422 and "between 0 and 90 days" in bad.text


# --- API --------------------------------------------------------------------------------------

def test_the_api_report_is_soonest_first_with_the_spec_fields(shop, app):
    api = api_as(app, user=shop["manager"])
    body = api.get("/api/v1/reports/expiring").json
    assert [(i["product_id"], i["expired"]) for i in body["items"]] == [
        (shop["yoghurt"].id, True), (shop["milk"].id, True), (shop["yoghurt"].id, False),
        (shop["bread"].id, False)]
    first = body["items"][0]
    assert (first["expires_on"], first["quantity"], first["value_cost"]) == (
        (expiry.today() - timedelta(days=2)).isoformat(), "10.000", "800.00")
    assert body["total"] == 4 and body["totals"]["expired_value"] == "2300.00"
    assert body["expired_last_month"]["movements"] == 0
    one = api.get(f"/api/v1/reports/expiring?store_id={shop['other'].id}&within_days=0").json
    assert [i["product_id"] for i in one["items"]] == [shop["milk"].id]
    assert api.get("/api/v1/reports/expiring?within_days=400").status_code in (400, 422)


def test_the_api_report_is_404_for_another_stores_shopkeeper(shop, app):
    api = api_as(app, user=shop["keeper"])
    assert api.get(f"/api/v1/reports/expiring?store_id={shop['other'].id}").status_code == 404
    mine = api.get("/api/v1/reports/expiring").json
    assert {i["store_id"] for i in mine["items"]} == {shop["store"].id}


def test_the_api_reads_and_sets_the_warning_window(shop, app):
    api = api_as(app, user=shop["manager"])
    store_id = shop["store"].id
    assert api.get(f"/api/v1/stores/{store_id}").json["expiry_warning_days"] == 7
    changed = api.patch(f"/api/v1/stores/{store_id}", json={"expiry_warning_days": 14})
    assert changed.status_code == 200 and changed.json["expiry_warning_days"] == 14
    assert api.patch(f"/api/v1/stores/{store_id}",
                     json={"expiry_warning_days": 91}).status_code in (400, 422)


def test_the_openapi_document_has_the_report(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    operation = paths["/api/v1/reports/expiring"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"store_id", "within_days"}


# --- the worker's daily event -----------------------------------------------------------------

def _events(action):
    audit.drain_all()
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                              .order_by(AuditLog.id)).all()


def test_the_daily_event_is_raised_once_per_store_per_pakistan_day(shop, app):
    now = datetime.now(timezone.utc)
    assert sweep.sweep_once(app) == []
    events = _events("stock.expiring")
    assert [e.entity_id for e in events] == [str(shop["store"].id), str(shop["other"].id)]
    ours = events[0].after
    assert (ours["batches"], ours["expired"], ours["within_days"]) == (2, 1, 7)
    assert ours["items"][0] == {"product_id": shop["yoghurt"].id, "quantity": "10.000",
                                "expired": True,
                                "expires_on": (expiry.today() - timedelta(days=2)).isoformat()}
    # Again the same day, by any worker: nothing more.
    assert expiry.raise_daily(db.session.connection(), now) is None
    db.session.commit()  # SQLite: the sweep's own session writes next
    sweep.sweep_once(app)
    assert len(_events("stock.expiring")) == 2
    # The next Pakistan day, again.
    tomorrow = datetime.combine(expiry.today() + timedelta(days=1), datetime.min.time(),
                                tzinfo=PAKISTAN) + timedelta(hours=1)
    assert expiry.raise_daily(db.session.connection(), tomorrow) == 2
    db.session.commit()


def test_a_store_with_nothing_expiring_is_not_told(app):
    store = make_store()
    bread = make_product(unit="piece", tracks_expiry=True)
    stock_in(store, bread, 4, 30)
    assert expiry.raise_daily(db.session.connection()) == 0
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(AuditOutbox)) >= 0
    assert _events("stock.expiring") == []


def test_the_event_becomes_a_stock_expiring_webhook(shop, app):
    webhooks_made = []
    rows = [{"action": "stock.expiring", "entity_id": str(shop["store"].id),
             "after": {"store_id": shop["store"].id, "batches": 2}}]
    for event, data in webhooks.events_from(db.session.connection(), rows, {"stock.expiring"}):
        webhooks_made.append((event, data))
    assert webhooks_made == [("stock.expiring", {"store_id": shop["store"].id, "batches": 2})]


def test_the_audit_log_tells_the_event_in_words(shop, client):
    expiry.raise_daily(db.session.connection())
    db.session.commit()
    audit.drain_all()
    login(client, shop["manager"])
    page = client.get("/audit/").text
    assert "2 batches expired or expiring within" in page


def test_a_stores_batches_in_the_api_soonest_first_with_what_is_left(shop, app):
    keeper = api_as(app, user=shop["keeper"])
    store_id = shop["store"].id
    body = keeper.get(f"/api/v1/stores/{store_id}/batches").json
    assert [(b["product_id"], b["quantity"], b["expired"]) for b in body["items"]] == [
        (shop["yoghurt"].id, "10.000", True), (shop["yoghurt"].id, "5.000", False),
        (shop["bread"].id, "4.000", False)]  # every date, not only the window's
    assert body["total"] == 3 and body["items"][0]["expires_on"] == (
        expiry.today() - timedelta(days=2)).isoformat()
    one = keeper.get(f"/api/v1/stores/{store_id}/batches?product_id={shop['bread'].id}").json
    assert [b["days_left"] for b in one["items"]] == [20]
    assert keeper.get(f"/api/v1/stores/{shop['other'].id}/batches").status_code == 404
    # A batch that was sold out is not listed.
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=shop["bread"].id, type="sale", quantity=4))
    assert keeper.get(f"/api/v1/stores/{store_id}/batches?product_id={shop['bread'].id}") \
        .json["items"] == []


def test_a_chosen_product_with_expired_stock_says_so_in_the_panel(shop, client):
    login(client, shop["keeper"])
    store_id = shop["store"].id
    page = client.get(f"/stores/{store_id}/?product={shop['yoghurt'].id}").text
    panel = page[page.index('id="panel"'):page.index("</section>", page.index('id="panel"'))]
    assert 'data-expiry="expired"' in panel and "remove the expired stock" in panel
    assert f'href="/stores/{store_id}/expiring"' in panel
    rice = client.get(f"/stores/{store_id}/?product={shop['rice'].id}").text
    assert 'class="panel-expiry' not in rice  # tracks no expiry: nothing said, nothing read
    # After a quick sale (htmx: the panel alone) the flag is still there.
    sold = client.post(f"/stores/{store_id}/movements", headers={"HX-Request": "true"},
                       data={"type": "sale", "product_id": shop["yoghurt"].id, "quantity": "1",
                             "key": "k-1"})
    assert sold.status_code == 200 and 'data-expiry="expired"' in sold.text


def test_the_live_lists_etag_changes_at_pakistan_midnight(app):
    """The flags change when a day passes with no stock moving: the poll's 304 must not hide
    that. 18:59:59 UTC is 23:59:59 in Pakistan; a second later it is the next day."""
    from webapp.blueprints.stock.polls import etag

    with app.test_request_context():
        before = datetime(2026, 12, 6, 18, 59, 59, tzinfo=timezone.utc).timestamp()
        same_day = etag("v1", "u:1", 1, b"page=1", now=before - 3600)
        assert etag("v1", "u:1", 1, b"page=1", now=before) == same_day
        assert etag("v1", "u:1", 1, b"page=1", now=before + 1) != same_day
