"""The server side of the offline shop app: manifest, service worker, and the queue's doors.

A queued item is applied through the ledger with its key and its tap time: a replay writes
nothing, an old tap lands on its Pakistan day in reports, a tap older than the window is refused
for non-managers with a reason the phone can show. (The browser side: test_offline_browser.py.)
"""
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store, make_user
from webapp.blueprints.offline import routes as offline_routes
from webapp.extensions import db
from webapp.models import Sale, StockMovement, User
from webapp.services import catalog, commands, ledger, reports, sales
from webapp.services.basket import phone_rules
from webapp.services.audit import Actor
from webapp.services.errors import DomainError
from webapp.services.validation import PAKISTAN

PASSWORD = "password-123"


@pytest.fixture
def world(app):
    store, other = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    product = make_product(sku="CHEENI", name="Cheeni", unit="kg", barcode="8961000000016")
    chawal = make_product(sku="CHAWAL", name="Chawal", unit="kg", sale_price="250.00")
    for pid, quantity in ((product.id, 10), (chawal.id, 20)):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=pid, type="stock_in", quantity=quantity))
    users = {"dukan": make_user("shopkeeper", [store], username="dukan"),
             "manager": make_user("manager", username="manager")}
    return {"store": store.id, "other": other.id, "product": product.id, "chawal": chawal.id,
            "users": {k: u.id for k, u in users.items()}}


def login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


def item(world, user="dukan", **fields):
    body = {"key": uuid.uuid4().hex, "user_id": world["users"][user], "type": "sale",
            "product_id": world["product"], "quantity": "1",
            "occurred_at": datetime.now(timezone.utc).isoformat()}
    body.update(fields)
    return body


def post(client, world, body, store=None):
    return client.post(f"/offline/stores/{store or world['store']}/movements", json=body)


def count_movements():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def test_manifest_starts_at_the_users_store_and_its_icons_exist(client, world):
    login(client, "dukan")
    client.get(f"/stores/{world['store']}/")
    page = client.get(f"/stores/{world['store']}/").get_data(as_text=True)
    assert f'rel="manifest" href="/manifest.webmanifest?store={world["store"]}"' in page
    manifest = client.get(f"/manifest.webmanifest?store={world['store']}")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.get_json()
    assert data["start_url"] == f"/stores/{world['store']}/"
    assert data["display"] == "standalone" and data["theme_color"]
    sizes = set()
    for icon in data["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200 and response.data[:8] == b"\x89PNG\r\n\x1a\n"
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes
    assert client.get("/manifest.webmanifest?store=x").get_json()["start_url"] == "/"


def test_service_worker_is_served_from_the_root_and_never_stale(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    assert b"importScripts" in response.data
    assert client.get("/offline").status_code == 200


def test_the_workers_cache_version_is_a_digest_of_the_static_files(client, tmp_path):
    # Static files are served from the phone's cache until a new worker: any changed file must
    # change the worker's bytes, or phones would keep the old file for ever.
    version = re.search(rb'var VERSION = "(\w+)";', client.get("/sw.js").data).group(1)
    assert version != b"dev" and len(version) == 12
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("one")
    before = offline_routes._static_digest(tmp_path)
    (tmp_path / "js" / "app.js").write_text("two")
    assert offline_routes._static_digest(tmp_path) != before


def test_session_gives_the_user_and_a_fresh_csrf_token_or_401(client, world):
    response = client.get("/offline/session")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    login(client, "dukan")
    data = client.get("/offline/session").get_json()
    assert data["user_id"] == world["users"]["dukan"] and data["csrf_token"]


def test_a_replayed_item_answers_its_first_result_and_writes_once(client, world):
    login(client, "dukan")
    body = item(world, quantity="2")
    first = post(client, world, body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["level"]["quantity"] == "8.000"
    before = count_movements()
    again = post(client, world, body)
    assert again.status_code == 201
    assert again.get_json()["replayed"] is True
    assert again.get_json()["movement"]["id"] == first.get_json()["movement"]["id"]
    assert count_movements() == before


def test_an_old_tap_lands_on_its_pakistan_day_in_reports(client, world):
    login(client, "dukan")
    # 20:30 UTC two days ago is 01:30 the next day in Pakistan: the report must say that day.
    tap = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=20, minute=30,
                                                                  second=0, microsecond=0)
    response = post(client, world, item(world, quantity="3", occurred_at=tap.isoformat()))
    assert response.status_code == 201, response.get_json()
    movement = db.session.get(StockMovement, response.get_json()["movement"]["id"])
    assert movement.occurred_at.replace(tzinfo=timezone.utc) == tap
    pk_day = tap.astimezone(PAKISTAN).date()
    assert pk_day == tap.date() + timedelta(days=1)
    span = reports.DateRange(tap.date() - timedelta(days=1), datetime.now(PAKISTAN).date())
    days = {d["day"]: d for d in reports.sales_by_day(None, span)}
    assert days[pk_day]["quantity"] == Decimal("3")
    assert days[tap.date()]["movements"] == 0
    assert days[datetime.now(PAKISTAN).date()]["movements"] == 0


def test_a_tap_older_than_the_window_is_refused_with_its_reason(app, client, world):
    login(client, "dukan")
    hours = app.config["OFFLINE_WINDOW_HOURS"]
    assert hours == 72
    old = datetime.now(timezone.utc) - timedelta(hours=hours, minutes=5)
    before = count_movements()
    response = post(client, world, item(world, occurred_at=old.isoformat()))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "occurred_at_too_old"
    assert "72 hours" in error["message"]
    assert count_movements() == before
    # Just inside the window is fine.
    inside = datetime.now(timezone.utc) - timedelta(hours=hours - 1)
    assert post(client, world, item(world, occurred_at=inside.isoformat())).status_code == 201


def test_a_manager_may_record_an_older_tap(client, world):
    login(client, "manager")
    old = datetime.now(timezone.utc) - timedelta(days=10)
    response = post(client, world, item(world, "manager", occurred_at=old.isoformat()))
    assert response.status_code == 201, response.get_json()


def test_refusals_carry_a_code_a_reason_and_whether_negative_stock_is_allowed(client, world):
    login(client, "dukan")
    before = count_movements()
    response = post(client, world, item(world, quantity="50"))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["allow_negative_stock"] is False
    assert "Only 10 in stock" in error["message"]
    catalog.update_product(ADMIN, world["product"], {"archived": True})
    archived = post(client, world, item(world))
    assert archived.status_code in (409, 422)
    assert archived.get_json()["error"]["message"]
    # Another store (permission): not found, never written.
    assert post(client, world, item(world), store=world["other"]).status_code == 404
    missing_time = item(world)
    del missing_time["occurred_at"]
    assert post(client, world, missing_time).status_code == 422
    assert post(client, world, item(world, type="adjustment")).status_code == 422
    # A body that is not a JSON object is refused by the request guard before the view.
    assert client.post(f"/offline/stores/{world['store']}/movements", data="[1]",
                       content_type="application/json").status_code == 422
    assert count_movements() == before


def test_an_item_saved_by_another_user_is_never_taken_as_this_one(client, world):
    login(client, "dukan")
    response = post(client, world, item(world, user_id=world["users"]["manager"]))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "wrong_user"


def test_the_negative_stock_store_says_so_in_refusals(client, world):
    catalog.update_store(ADMIN, world["store"], {"allow_negative_stock": True})
    login(client, "dukan")
    assert post(client, world, item(world, quantity="50")).status_code == 201
    old = datetime.now(timezone.utc) - timedelta(days=5)
    error = post(client, world, item(world, occurred_at=old.isoformat())).get_json()["error"]
    assert error["allow_negative_stock"] is True


def test_catalog_lists_barcodes_and_levels_for_the_users_stores_only(client, world):
    login(client, "dukan")
    data = client.get(f"/offline/stores/{world['store']}/catalog").get_json()
    product = next(p for p in data["products"] if p["id"] == world["product"])
    assert product["barcode"] == "8961000000016" and product["quantity"] == "10"
    assert client.get(f"/offline/stores/{world['other']}/catalog").status_code == 404
    # A level sold down to exactly zero (Decimal("0.000") is falsy) is listed as "0".
    login(client, "dukan")
    post(client, world, item(world, quantity="10"))
    data = client.get(f"/offline/stores/{world['store']}/catalog").get_json()
    assert next(p for p in data["products"] if p["id"] == world["product"])["quantity"] == "0"


def test_add_product_link_prefills_the_barcode_for_managers(client, world):
    login(client, "manager")
    page = client.get("/products/new?barcode=8961000000009").get_data(as_text=True)
    assert 'value="8961000000009"' in page
    client.post("/logout")
    login(client, "dukan")
    assert client.get("/products/new?barcode=8961000000009").status_code == 403


def test_the_store_page_carries_the_offline_block_and_scan_button(client, world):
    login(client, "dukan")
    page = client.get(f"/stores/{world['store']}/").get_data(as_text=True)
    assert 'id="offline-config"' in page and "data-scan" in page
    assert 'data-offline-kind="movement"' in page
    assert "levels as of" in page
    assert page.count('id="offline-queue"') == 1


# --- baskets (kind `sale`, from the counter page) ---------------------------------------------


def basket(world, user="dukan", **fields):
    body = {"key": uuid.uuid4().hex, "user_id": world["users"][user],
            "lines": [{"product_id": world["product"], "quantity": "2"},
                      {"product_id": world["chawal"], "amount": "500"}],
            "occurred_at": datetime.now(timezone.utc).isoformat()}
    body.update(fields)
    return body


def post_basket(client, world, body, store=None):
    return client.post(f"/offline/stores/{store or world['store']}/sales", json=body)


def count_sales():
    return db.session.scalar(select(func.count()).select_from(Sale))


def test_a_replayed_basket_answers_its_first_sale_and_writes_once(client, world):
    login(client, "dukan")
    body = basket(world)
    first = post_basket(client, world, body)
    assert first.status_code == 201, first.get_json()
    sale = first.get_json()["sale"]
    assert [(line["product_id"], line["quantity"]) for line in sale["lines"]] == [
        (world["product"], "2.000"), (world["chawal"], "2.000")]   # Rs 500 of chawal at 250
    assert sale["total"] == "700.00" and first.get_json()["replayed"] is False
    before = (count_movements(), count_sales())
    again = post_basket(client, world, body)
    assert again.status_code == 201
    assert again.get_json()["replayed"] is True
    assert again.get_json()["sale"]["id"] == sale["id"]
    assert (count_movements(), count_sales()) == before
    moved = db.session.execute(select(StockMovement.product_id, StockMovement.quantity)
                               .where(StockMovement.idempotency_key == body["key"])).all()
    assert sorted(moved) == sorted([(world["product"], Decimal("2")),
                                    (world["chawal"], Decimal("2"))])


def test_a_queued_basket_keeps_its_price_overrides_and_note(client, world):
    login(client, "manager")     # managers override prices freely (shopkeepers within a limit)
    response = post_basket(client, world, basket(world, "manager", note="till 2", lines=[
        {"product_id": world["chawal"], "quantity": "1", "unit_price": "240.00"}]))
    assert response.status_code == 201, response.get_json()
    sale = response.get_json()["sale"]
    assert (sale["note"], sale["total"]) == ("till 2", "240.00")
    assert (sale["lines"][0]["unit_price"], sale["lines"][0]["list_price"]) == ("240.00",
                                                                                 "250.00")


def test_an_old_basket_lands_on_its_pakistan_day_in_reports(client, world):
    login(client, "dukan")
    # 20:30 UTC two days ago is 01:30 the next day in Pakistan.
    tap = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=20, minute=30,
                                                                  second=0, microsecond=0)
    response = post_basket(client, world, basket(world, occurred_at=tap.isoformat()))
    assert response.status_code == 201, response.get_json()
    sale = db.session.get(Sale, response.get_json()["sale"]["id"])
    assert sale.occurred_at.replace(tzinfo=timezone.utc) == tap
    pk_day = tap.astimezone(PAKISTAN).date()
    span = reports.DateRange(tap.date() - timedelta(days=1), datetime.now(PAKISTAN).date())
    days = {d["day"]: d for d in reports.sales_by_day(None, span)}
    assert days[pk_day]["movements"] == 2 and days[pk_day]["quantity"] == Decimal("4")
    assert days[tap.date()]["movements"] == 0
    assert days[datetime.now(PAKISTAN).date()]["movements"] == 0


def test_a_basket_older_than_the_window_is_refused_unless_a_manager_made_it(client, world):
    login(client, "dukan")
    old = datetime.now(timezone.utc) - timedelta(hours=72, minutes=5)
    before = (count_movements(), count_sales())
    response = post_basket(client, world, basket(world, occurred_at=old.isoformat()))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "occurred_at_too_old" and "72 hours" in error["message"]
    assert (count_movements(), count_sales()) == before
    client.post("/logout")
    login(client, "manager")
    assert post_basket(client, world, basket(world, "manager",
                                             occurred_at=old.isoformat())).status_code == 201


def test_every_door_bounds_how_far_back_a_shopkeeper_dates_a_sale(world):
    # The page and POST /api/v1/sales call the same service as the queue: one rule for all.
    keeper = Actor(user_id=world["users"]["dukan"])
    old = datetime.now(timezone.utc) - timedelta(days=30)
    with pytest.raises(DomainError) as refused:
        sales.complete_sale(keeper, store_id=world["store"], occurred_at=old,
                            lines=[{"product_id": world["product"], "quantity": "1"}])
    assert refused.value.code == "occurred_at_too_old"


def test_a_short_line_refuses_the_basket_and_says_which_line(client, world):
    login(client, "dukan")
    before = (count_movements(), count_sales())
    response = post_basket(client, world, basket(world, lines=[
        {"product_id": world["product"], "quantity": "2"},
        {"product_id": world["chawal"], "quantity": "50"}]))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["fields"] == {"lines.1.quantity": "Only 20 in stock; cannot take 50."}
    assert error["allow_negative_stock"] is False     # so the phone offers no "Record anyway"
    assert error["lines"] == [{"index": 1, "product_id": world["chawal"], "available": "20.000",
                               "requested": "50.000"}]
    assert (count_movements(), count_sales()) == before
    # The same basket in a store that allows negative stock is recorded.
    catalog.update_store(ADMIN, world["store"], {"allow_negative_stock": True})
    assert post_basket(client, world, basket(world, lines=[
        {"product_id": world["chawal"], "quantity": "50"}])).status_code == 201


def test_a_refusal_reads_in_the_users_language(client, world):
    login(client, "dukan")
    client.post("/language", data={"lang": "ur"})
    error = post_basket(client, world, basket(world, lines=[
        {"product_id": world["chawal"], "quantity": "50"}])).get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert "اسٹاک میں صرف" in error["fields"]["lines.0.quantity"]


def test_baskets_without_a_key_or_for_someone_else_are_refused(client, world):
    login(client, "dukan")
    before = (count_movements(), count_sales())
    no_key = basket(world)
    del no_key["key"]
    assert post_basket(client, world, no_key).status_code == 422
    assert post_basket(client, world, basket(world, lines=[])).status_code == 422
    assert post_basket(client, world, basket(world), store=world["other"]).status_code == 404
    wrong = post_basket(client, world, basket(world, user_id=world["users"]["manager"]))
    assert wrong.get_json()["error"]["code"] == "wrong_user"
    assert (count_movements(), count_sales()) == before


def _basket_key(client, world):
    with client.session_transaction() as session:
        return session["baskets"][str(world["store"])]["key"]


def test_a_completed_basket_whose_reply_was_lost_lands_once(client, world):
    # The page posted Complete, the server recorded it, the reply never came: the phone queues
    # the same basket with the same key (and its tap time, which the page did not send).
    login(client, "dukan")
    client.post(f"/stores/{world['store']}/basket/add", data={"product_id": world["chawal"]})
    key = _basket_key(client, world)
    page = client.post(f"/stores/{world['store']}/basket/complete", data={"key": key})
    assert page.status_code in (302, 303)
    before = (count_movements(), count_sales())
    queued = post_basket(client, world, basket(world, key=key, lines=[
        {"product_id": world["chawal"], "quantity": "1"}]))
    assert queued.status_code == 201, queued.get_json()
    assert queued.get_json()["replayed"] is True
    assert (count_movements(), count_sales()) == before
    # A different basket under that key is still refused, never written.
    other = post_basket(client, world, basket(world, key=key))
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert (count_movements(), count_sales()) == before


def test_a_store_page_sale_whose_reply_was_lost_lands_once(client, world):
    login(client, "dukan")
    key = uuid.uuid4().hex
    page = client.post(f"/stores/{world['store']}/movements", data={
        "type": "sale", "product_id": world["product"], "quantity": "1", "key": key})
    assert page.status_code in (302, 303)
    before = count_movements()
    queued = post(client, world, item(world, key=key))
    assert queued.status_code == 201, queued.get_json()
    assert queued.get_json()["replayed"] is True
    assert count_movements() == before


def test_catalog_gives_prices_for_an_offline_basket(client, world):
    login(client, "dukan")
    data = client.get(f"/offline/stores/{world['store']}/catalog").get_json()
    chawal = next(p for p in data["products"] if p["id"] == world["chawal"])
    assert chawal["sale_price"] == "250.00"


def test_the_basket_page_carries_the_offline_block_scan_and_its_lines(client, world):
    login(client, "dukan")
    client.post(f"/stores/{world['store']}/basket/add", data={"product_id": world["chawal"]})
    page = client.get(f"/stores/{world['store']}/basket").get_data(as_text=True)
    assert 'id="offline-config"' in page and "data-scan" in page and 'id="queue-badge"' in page
    assert 'id="scan-add"' in page and 'id="basket-config"' in page
    # The queue's list below the basket: the basket and Complete stay on the first screen.
    assert page.count('id="offline-queue"') == 1
    assert page.index('id="offline-queue"') > page.index('id="checkout"')
    state = json.loads(re.search(r"data-basket-state='([^']*)'", page).group(1))
    assert state["key"] == _basket_key(client, world)
    # Each line as `complete` would send it, with the figures services/basket.py computed
    # (formatted by the page's filters): the phone shows them. With the price and pack the
    # phone prices a line changed with no signal from (static/js/bill.js, the same rules).
    assert state["lines"] == [{"product_id": world["chawal"], "mode": "q", "value": "1",
                               "name": "Chawal", "unit": "kg", "loose": True,
                               "price": "250.00", "price_text": "Rs 250", "pack": None,
                               "stock": "20", "quantity": "1",
                               "total": "250.00", "total_text": "Rs 250"}]
    assert (state["total"], state["total_text"]) == ("250.00", "Rs 250")
    config = json.loads(re.search(r"id=\"basket-config\" hidden data-config='([^']*)'",
                                  page).group(1))
    assert config["rules"] == json.loads(json.dumps(phone_rules()))
    assert 'data-price="250.00"' in page


def test_the_phone_hands_back_a_basket_kept_offline(client, world):
    login(client, "dukan")
    url = f"/stores/{world['store']}/basket/replace"
    lines = [[world["chawal"], "q", "2"], [world["product"], "a", "150"], [999999, "q", "1"],
             [world["chawal"], "q", "5"], [world["product"], "x", "1"]]
    response = client.post(url, data={"lines": json.dumps(lines)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="basket"' in response.get_data(as_text=True)
    with client.session_transaction() as session:
        kept = session["baskets"][str(world["store"])]["lines"]
    # Unknown products, a product twice and unknown modes are left out.
    assert kept == [[world["chawal"], "q", "2"], [world["product"], "a", "150"]]
    assert client.post(url, data={"lines": "not json"}).status_code == 400
    assert client.post(url, data={"lines": json.dumps({"a": 1})}).status_code == 400
    client.post(url, data={"lines": "[]"})
    with client.session_transaction() as session:
        assert str(world["store"]) not in session.get("baskets", {})


def test_the_offline_words_follow_each_reader_s_language(client, world):
    """The words for the phone are rendered per request: a filter of a literal in the template
    ran once, at compile time, so a page in Urdu after one in English said "cash" (and the
    basket bar's empty bill "Rs 0")."""
    def offline_words(username):
        login(client, username)
        page = client.get(f"/stores/{world['store']}/basket").get_data(as_text=True)
        client.post("/logout")
        return json.loads(re.search(r"id=\"offline-config\" hidden data-config='([^']*)'",
                                    page).group(1))["strings"]
    english = offline_words("dukan")
    db.session.get(User, world["users"]["manager"]).language = "ur"
    db.session.commit()
    urdu = offline_words("manager")
    assert english["method_cash"] == "cash"
    assert urdu["method_cash"] != "cash" and urdu["money"] == "{amount} روپے"
