"""Batches with expiry dates (issue 26 items 1, 2, 5; SPEC §2 "Batch", invariant 9)."""
import pytest
from sqlalchemy import text

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.services import catalog, commands, integrity, ledger
from webapp.services.errors import Conflict
from webapp.services.ledger import batches
from webapp.services.ledger.batches import NO_BATCH_VIOLATIONS, batch_violations


@pytest.fixture
def admin(app):
    return api_as(app, "admin")


def stock_in(store, product, quantity, **fields):
    return ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity, **fields))


def test_tracks_expiry_is_off_by_default_and_set_through_the_api(admin):
    body = {"sku": "DOODH-1", "name": "Doodh 1 litre", "category": "Dairy", "unit": "piece",
            "sale_price": "220.00"}
    plain = admin.post("/api/v1/products", json=body)
    assert plain.status_code == 201 and plain.json["tracks_expiry"] is False
    tracked = admin.post("/api/v1/products", json={**body, "sku": "DAHI-1",
                                                   "tracks_expiry": True})
    assert tracked.json["tracks_expiry"] is True
    off = admin.patch(f"/api/v1/products/{tracked.json['id']}", json={"tracks_expiry": False})
    assert off.status_code == 200 and off.json["tracks_expiry"] is False
    bad = admin.patch(f"/api/v1/products/{tracked.json['id']}", json={"tracks_expiry": "yes"})
    assert bad.status_code == 422


def test_a_new_product_without_a_say_follows_its_category(app):
    make_product(category="Dairy", tracks_expiry=True)
    make_product(category="Dairy", tracks_expiry=True)
    make_product(category="Dairy", tracks_expiry=False)
    make_product(category="Masala", tracks_expiry=False)
    defaults = {"name": "x", "unit": "piece", "sale_price": "10"}
    assert catalog.create_product(ADMIN, {**defaults, "sku": "D-9", "category": "dairy"}) \
        .tracks_expiry is True
    assert catalog.create_product(ADMIN, {**defaults, "sku": "M-9", "category": "Masala"}) \
        .tracks_expiry is False
    assert catalog.create_product(ADMIN, {**defaults, "sku": "N-9"}).tracks_expiry is False


def test_turning_tracking_on_is_refused_while_a_store_holds_stock_without_dates(admin):
    store, product = make_store(), make_product(unit="piece")
    stock_in(store, product, 5)
    refused = admin.patch(f"/api/v1/products/{product.id}", json={"tracks_expiry": True})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "stock_without_dates"
    assert refused.json["error"]["store_ids"] == [store.id]
    assert "tracks_expiry" in refused.json["error"]["fields"]
    ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": product.id, "quantity": 0}]))
    assert admin.patch(f"/api/v1/products/{product.id}",
                       json={"tracks_expiry": True}).json["tracks_expiry"] is True


def test_the_product_form_sets_tracks_expiry(app, client):
    from tests.factories import login, make_user
    login(client, make_user(role="manager"))
    product = make_product()
    page = client.get(f"/products/{product.id}/edit")
    assert b'name="tracks_expiry"' in page.data
    data = {"sku": product.sku, "name": product.name, "category": "Dairy", "unit": "kg",
            "sale_price": "100.00", "reorder_level": "5", "pack_size": "1",
            "tracks_expiry": "y"}
    assert client.post(f"/products/{product.id}/edit", data=data).status_code in (200, 302, 303)
    db.session.expire_all()
    assert catalog.get_product(product.id).tracks_expiry is True


def test_the_batch_check_finds_batches_that_do_not_add_up(app):
    store, product = make_store(), make_product(unit="piece", tracks_expiry=True)
    conn = db.session.connection()
    assert batch_violations(conn) == NO_BATCH_VIOLATIONS
    conn.execute(text("INSERT INTO stock_levels (store_id, product_id, quantity, updated_at) "
                      "VALUES (:s, :p, 4, CURRENT_TIMESTAMP)"), {"s": store.id, "p": product.id})
    found = batch_violations(conn)
    assert [(row["store_id"], row["product_id"]) for row in found["levels"]] == \
        [(store.id, product.id)]
    with pytest.raises(Conflict):
        batches.check_can_track(conn, product.id)
    db.session.rollback()


# --- first expiring, first out, on both databases --------------------------------------------

from datetime import date  # noqa: E402
from decimal import Decimal  # noqa: E402

from webapp.services import sales  # noqa: E402
from webapp.services.errors import DomainError, InsufficientStock  # noqa: E402

MAY, JUNE, JULY = date(2027, 5, 31), date(2027, 6, 30), date(2027, 7, 31)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def dairy(request):
    """A store, a second store, and yoghurt that tracks expiry: 4 expiring in June, then 6 in
    May received after it (FEFO goes by the date, not by when it came)."""
    request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    store, other = make_store(), make_store()
    dahi = make_product(unit="piece", name="Dahi", category="Dairy", tracks_expiry=True)
    stock_in(store, dahi, 4, expires_on="2027-06-30")
    stock_in(store, dahi, 6, expires_on=MAY)
    return store, other, dahi


def b(expires_on, quantity, code=None):
    """One entry of a movement's `batches`."""
    return {"expires_on": expires_on, "batch_code": code, "quantity": quantity}


def batch_levels(store, product):
    """{(expires_on, code): remaining} of a store's batches of the product."""
    rows = db.session.execute(text(
        "SELECT expires_on, batch_code, quantity FROM stock_batches WHERE store_id = :s "
        "AND product_id = :p"), {"s": store.id, "p": product.id}).all()
    return {(date.fromisoformat(str(r.expires_on)), r.batch_code): Decimal(r.quantity)
            .quantize(Decimal("0.001")) for r in rows}


def sell(store, product, quantity):
    return ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="sale", quantity=quantity)).data


def consistent():
    assert batch_violations(db.session.connection()) == NO_BATCH_VIOLATIONS
    assert integrity.ledger_is_consistent(db.session.connection())


def test_a_stock_in_of_a_tracked_product_needs_its_date_and_the_same_date_adds_up(dairy):
    store, _, dahi = dairy
    with pytest.raises(DomainError) as refused:
        stock_in(store, dahi, 1)
    assert refused.value.fields.keys() == {"expires_on"} and refused.value.status == 422
    added = stock_in(store, dahi, 2, expires_on="2027-06-30").data["movement"]
    assert added["batches"] == [{"expires_on": "2027-06-30", "batch_code": None,
                                 "quantity": "2.000"}]
    stock_in(store, dahi, 1, expires_on="2027-06-30", batch_code="L-7")
    assert batch_levels(store, dahi) == {(MAY, ""): 6, (JUNE, ""): 6, (JUNE, "L-7"): 1}
    consistent()


def test_a_sale_takes_the_batch_that_expires_first_and_says_so(dairy):
    store, _, dahi = dairy
    first = sell(store, dahi, 5)["movement"]
    assert first["batches"] == [b("2027-05-31", "5.000")]
    across = sell(store, dahi, 3)["movement"]
    assert across["batches"] == [b("2027-05-31", "1.000"),
                                 b("2027-06-30", "2.000")]
    assert batch_levels(store, dahi) == {(MAY, ""): 0, (JUNE, ""): 2}
    with pytest.raises(InsufficientStock):
        sell(store, dahi, 3)
    assert batch_levels(store, dahi) == {(MAY, ""): 0, (JUNE, ""): 2}
    consistent()


def test_an_untracked_product_has_no_batches(dairy):
    store, _, _ = dairy
    atta = make_product(unit="kg")
    stock_in(store, atta, 5, expires_on="2027-01-01")  # ignored: atta keeps no batches
    sold = sell(store, atta, 2)["movement"]
    assert "batches" not in sold
    assert db.session.execute(text("SELECT count(*) FROM stock_batches WHERE product_id = :p"),
                              {"p": atta.id}).scalar() == 0


def test_an_expired_removal_takes_the_batch_it_names(dairy):
    store, _, dahi = dairy
    removal = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=dahi.id, type="removal", reason="expired", quantity=4,
        expires_on="2027-06-30")).data["movement"]
    assert removal["batches"] == [b("2027-06-30", "4.000")]
    with pytest.raises(InsufficientStock) as short:
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=dahi.id, type="removal", reason="damaged",
            quantity=1, expires_on="2027-06-30"))
    assert "expires_on" in short.value.fields
    with pytest.raises(DomainError) as lost:
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=dahi.id, type="removal", reason="lost", quantity=1,
            expires_on="2027-05-31"))
    assert "expires_on" in lost.value.fields
    plain = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=dahi.id, type="removal", reason="lost", quantity=1))
    assert plain.data["movement"]["batches"] == [b("2027-05-31", "1.000")]
    assert batch_levels(store, dahi) == {(MAY, ""): 5, (JUNE, ""): 0}
    consistent()


def test_a_transfer_carries_its_batches_and_dates(dairy):
    store, other, dahi = dairy
    moved = ledger.transfer(ADMIN, commands.Transfer.parse(
        from_store_id=store.id, to_store_id=other.id, product_id=dahi.id, quantity=7)).data
    expected = [b("2027-05-31", "6.000"),
                b("2027-06-30", "1.000")]
    assert moved["transfer_out"]["batches"] == expected
    assert moved["transfer_in"]["batches"] == expected
    assert batch_levels(other, dahi) == {(MAY, ""): 6, (JUNE, ""): 1}
    assert batch_levels(store, dahi) == {(MAY, ""): 0, (JUNE, ""): 3}
    consistent()


def test_a_void_and_a_return_put_back_into_the_batches_the_sale_took(dairy):
    store, _, dahi = dairy
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": dahi.id, "quantity": 8}]).data["sale"]
    assert sale["lines"][0]["batches"] == [b("2027-05-31", "6.000"),
                                           b("2027-06-30", "2.000")]
    assert batch_levels(store, dahi) == {(MAY, ""): 0, (JUNE, ""): 2}
    returned = sales.return_lines(ADMIN, sale["id"], lines=[
        {"product_id": dahi.id, "quantity": 3}]).data
    # the batch that expires last comes back first
    assert batch_levels(store, dahi) == {(MAY, ""): 1, (JUNE, ""): 4}
    assert returned["return"]["lines"][0]["batches"] == [
        b("2027-06-30", "2.000"),
        b("2027-05-31", "1.000")]
    sales.void_sale(ADMIN, sale["id"])
    assert batch_levels(store, dahi) == {(MAY, ""): 6, (JUNE, ""): 4}
    consistent()


def test_a_store_that_sells_past_its_batches_records_the_part_without_one(dairy):
    store, _, dahi = dairy
    catalog.update_store(ADMIN, store.id, {"allow_negative_stock": True})
    sold = sell(store, dahi, 12)
    assert sold["movement"]["batches"] == [
        b("2027-05-31", "6.000"),
        b("2027-06-30", "4.000"),
        b(None, "2.000")]
    assert sold["level"]["quantity"] == "-2.000"
    consistent()
    # the next delivery makes up the 2 first: the batches again add up to the level
    arrived = stock_in(store, dahi, 5, expires_on=JULY).data["movement"]
    assert arrived["batches"] == [b(None, "2.000"),
                                  b("2027-07-31", "3.000")]
    assert batch_levels(store, dahi)[(JULY, "")] == 3
    consistent()


def test_counting_takes_down_first_expiring_and_adds_up_to_a_date_or_the_latest(dairy):
    store, _, dahi = dairy
    down = ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": dahi.id, "quantity": 7}])).data["adjustments"][0]
    assert down["batches"] == [b("2027-05-31", "3.000")]
    up = ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": dahi.id, "quantity": 9}])).data["adjustments"][0]
    assert up["batches"] == [b("2027-06-30", "2.000")]
    dated = ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": dahi.id, "quantity": 10, "expires_on": "2027-07-31"}]))
    assert dated.data["adjustments"][0]["batches"] == [
        b("2027-07-31", "1.000")]
    assert batch_levels(store, dahi) == {(MAY, ""): 3, (JUNE, ""): 6, (JULY, ""): 1}
    consistent()
    empty = make_store()
    with pytest.raises(DomainError) as undated:
        ledger.apply_count(ADMIN, commands.Count.parse(store_id=empty.id, counts=[
            {"product_id": dahi.id, "quantity": 2}]))
    assert "expires_on" in undated.value.fields


def test_a_delivery_line_of_a_tracked_product_needs_its_date(dairy):
    from tests.factories import make_supplier, make_user
    from webapp.services import purchasing
    store, _, dahi = dairy
    manager = make_user(role="manager")
    order = purchasing.create_order(ADMIN, manager, store_id=store.id,
                                    supplier_id=make_supplier().id,
                                    lines=[{"product_id": dahi.id, "packs": "10"}])
    purchasing.change_status(ADMIN, manager, order.id, "sent")
    with pytest.raises(DomainError) as undated:
        purchasing.receive(ADMIN, order.id, [{"product_id": dahi.id, "quantity": "10"}])
    assert undated.value.fields.keys() == {"lines.0.expires_on"}
    received = purchasing.receive(ADMIN, order.id, [
        {"product_id": dahi.id, "quantity": "10", "expires_on": "2027-07-31",
         "batch_code": "B12"}]).data
    assert received["movements"][0]["batches"] == [
        b("2027-07-31", "10.000", "B12")]
    assert batch_levels(store, dahi)[(JULY, "B12")] == 10
    consistent()


def test_opening_stock_takes_an_expiry_column_and_refuses_a_tracked_row_without_it(app):
    from tests.factories import make_user
    from tests.test_imports import _codes, _run
    store = make_store(code="KHI-0077")
    dahi = make_product(sku="DAHI-1", unit="piece", tracks_expiry=True)
    milk = make_product(sku="MILK-1", unit="piece", tracks_expiry=True)
    make_product(sku="ATTA-1", unit="kg")
    csv = ("sku,store_code,quantity,expiry date,batch\nDAHI-1,KHI-0077,12,31/05/2027,L9\n"
           "MILK-1,KHI-0077,6,,\nATTA-1,KHI-0077,40,,\n")
    dry, _done = _run(make_user(role="manager"), "opening_stock", csv.encode())
    assert _codes(dry) == {(3, "expiry date", "invalid")}  # the file's own heading
    assert batch_levels(store, dahi) == {(MAY, "L9"): 12}
    assert batch_levels(store, milk) == {}
    consistent()


def test_a_plain_movement_is_built_and_hashed_as_before_and_a_dated_one_round_trips():
    plain = commands.Movement.parse(store_id=1, product_id=2, type="sale", quantity="1")
    assert type(plain) is commands.Movement and "expires_on" not in vars(plain)
    assert plain.expires_on is None and plain.batch_code is None
    dated = commands.Movement.parse(store_id=1, product_id=2, type="stock_in", quantity="3",
                                    expires_on="۲۰۲۷-۰۵-۳۱", batch_code=" L9 ")
    assert type(dated) is commands.DatedMovement
    assert (dated.expires_on, dated.batch_code) == (MAY, "L9")
    assert commands.Movement.load(dated.dump()) == dated
    assert commands.Movement.load(plain.dump()) == plain
    for bad in ("31-05-2027", "2027-02-30", "1999-12-31"):
        with pytest.raises(DomainError) as refused:
            commands.Movement.parse(store_id=1, product_id=2, type="stock_in", quantity="3",
                                    expires_on=bad)
        assert refused.value.fields.keys() == {"expires_on"}


def test_the_api_records_a_dated_stock_in_and_shows_a_sales_batches(admin):
    store, dahi = make_store(), make_product(unit="piece", tracks_expiry=True)
    body = {"store_id": store.id, "product_id": dahi.id, "type": "stock_in", "quantity": "5"}
    undated = admin.post("/api/v1/movements", json=body)
    assert undated.status_code == 422 and "expires_on" in undated.json["error"]["fields"]
    assert admin.post("/api/v1/movements", json={**body, "expires_on": "2027-06-30"}) \
        .status_code == 201
    assert admin.post("/api/v1/movements", json={**body, "expires_on": "2027-05-31"}) \
        .status_code == 201
    sold = admin.post("/api/v1/movements", json={**body, "type": "sale", "quantity": "7"})
    assert sold.status_code == 201
    assert sold.json["movement"]["batches"] == [
        b("2027-05-31", "5.000"),
        b("2027-06-30", "2.000")]
    named = admin.post("/api/v1/movements", json={**body, "type": "sale", "quantity": "1",
                                                  "expires_on": "2027-06-30"})
    assert named.status_code == 422 and "expires_on" in named.json["error"]["fields"]
    listed = admin.get(f"/api/v1/movements?store_id={store.id}&type=sale").json["items"]
    assert listed[0]["batches"] == sold.json["movement"]["batches"]


def test_the_store_page_receives_with_a_date_and_shows_a_sales_batches(app, client):
    from tests.factories import login, make_user
    store = make_store()
    dahi = make_product(unit="piece", name="Dahi", tracks_expiry=True)
    login(client, make_user(role="manager"))
    url = f"/stores/{store.id}/movements"
    htmx = {"HX-Request": "true"}
    base = {"product_id": dahi.id, "quantity": "4", "type": "stock_in"}
    undated = client.post(url, data={**base, "key": "k1"}, headers=htmx)
    assert undated.status_code == 422
    assert b'id="stock_in-expires_on-error"' in undated.data
    assert b'type="date"' in undated.data
    for key, day in (("k2", "2027-06-30"), ("k3", "2027-05-31")):
        assert client.post(url, data={**base, "key": key, "expires_on": day},
                           headers=htmx).status_code == 200
    sold = client.post(url, data={**base, "type": "sale", "quantity": "6", "key": "k4"},
                       headers=htmx)
    assert sold.status_code == 200
    text = sold.get_data(as_text=True)
    assert "Batches: 31 May 2027 × 4 · 30 Jun 2027 × 2" in text
    history = client.get(f"/history?store={store.id}&type=sale").get_data(as_text=True)
    assert "data-batches" in history and "31 May 2027" in history
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": dahi.id, "quantity": 1}]).data["sale"]
    receipt = client.get(f"/stores/{store.id}/sales/{sale['id']}")
    assert receipt.status_code == 200
    assert "30 Jun 2027" in receipt.get_data(as_text=True)


def test_a_count_date_by_date_sets_each_batch(dairy):
    from flask import current_app
    admin = api_as(current_app._get_current_object(), "admin")
    store, _, dahi = dairy  # May 6, June 4
    body = {"counts": [{"product_id": dahi.id, "quantity": "9", "batches": [
        {"expires_on": "2027-05-31", "quantity": "2"},
        {"expires_on": "2027-06-30", "quantity": "5"},
        {"expires_on": "2027-07-31", "quantity": "2", "batch_code": "N1"}]}]}
    counted = admin.post(f"/api/v1/stores/{store.id}/counts", json=body)
    assert counted.status_code == 201, counted.json
    adjustment = counted.json["adjustments"][0]
    assert adjustment["delta"] == "-1.000"
    assert adjustment["batches"] == [b("2027-05-31", "-4.000"), b("2027-06-30", "1.000"),
                                     b("2027-07-31", "2.000", "N1")]
    assert batch_levels(store, dahi) == {(MAY, ""): 2, (JUNE, ""): 5, (JULY, "N1"): 2}
    consistent()
    # a batch left out is counted as gone; the dates must add up to the line's quantity
    ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": dahi.id, "quantity": 5, "batches": [
            {"expires_on": "2027-06-30", "quantity": 5}]}]))
    assert batch_levels(store, dahi) == {(MAY, ""): 0, (JUNE, ""): 5, (JULY, "N1"): 0}
    consistent()
    wrong = admin.post(f"/api/v1/stores/{store.id}/counts", json={"counts": [
        {"product_id": dahi.id, "quantity": "3", "batches": [
            {"expires_on": "2027-06-30", "quantity": "2"}]}]})
    assert wrong.status_code == 422 and "counts.0.batches" in wrong.json["error"]["fields"]


def test_a_count_date_by_date_keeps_a_sale_made_while_counting(dairy):
    store, _, dahi = dairy  # 10 on the shelf when the count began
    sell(store, dahi, 3)  # sold during the count: May 6 -> 3
    ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": dahi.id, "quantity": 10, "expected": 10, "batches": [
            {"expires_on": "2027-05-31", "quantity": 6},
            {"expires_on": "2027-06-30", "quantity": 4}]}]))
    # the shelf as counted, less the sale since, taken first-expiring-first-out
    assert batch_levels(store, dahi) == {(MAY, ""): 3, (JUNE, ""): 4}
    consistent()
