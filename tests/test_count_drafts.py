"""The shelf count kept on the server while counting (services/count_drafts.py, issue 11).

Service rules on SQLite: what a save writes (only changes; blank removes; all or nothing with
a reason per product), the level each line is compared with, review and apply through the
ledger's count (one transaction that also clears the count), idempotency, discard. The pages
on SQLite: paging, the category filter, "N of M counted", the no-JavaScript form and the htmx
row save. On PostgreSQL: a save and an apply meeting on the same line, either way round.
"""
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, login, make_product, make_store, make_user
from tests.test_ledger_concurrency import assert_ledger_consistent
from webapp.extensions import db
from webapp.models import AuditOutbox, CountDraft, StockLevel, StockMovement
from webapp.services import audit, catalog, commands, count_drafts, ledger
from webapp.services.errors import Conflict, DomainError


def stock_in(store, product, quantity):
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity))


def sell(store, product, quantity):
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="sale", quantity=quantity))


def level(store, product):
    value = db.session.get(StockLevel, (store.id, product.id)).quantity
    db.session.rollback()
    return value


def draft(store):
    """{product id: (counted, expected, user id)} of the store's count in progress."""
    rows = db.session.execute(select(CountDraft.product_id, CountDraft.quantity,
                                     CountDraft.expected, CountDraft.user_id)
                              .where(CountDraft.store_id == store.id)).all()
    db.session.rollback()
    return {r.product_id: (r.quantity, r.expected, r.user_id) for r in rows}


def adjustments():
    rows = db.session.scalars(select(StockMovement).where(StockMovement.type == "adjustment")
                              .order_by(StockMovement.id)).all()
    result = [(m.product_id, m.delta, m.balance_after, m.expected_quantity, m.counted_quantity,
               m.reason) for m in rows]
    db.session.rollback()
    return result


def actor_of(user):
    return audit.Actor(user_id=user.id, source="web", ip="127.0.0.1")


@pytest.fixture
def shop(app):
    """A store with rice (kg, 20 in stock), atta (packs, 10) and oil (litre, 5)."""
    store = make_store(code="KHI-0001")
    rice = make_product(sku="RICE", name="Basmati Chawal", unit="kg", category="Grain")
    atta = make_product(sku="ATTA", name="Chakki Atta", unit="pack", category="Grain")
    oil = make_product(sku="OIL", name="Dalda Oil", unit="litre", category="Oil")
    for product, quantity in ((rice, 20), (atta, 10), (oil, 5)):
        stock_in(store, product, quantity)
    ali, sara = make_user("shopkeeper", [store], username="ali"), \
        make_user("shopkeeper", [store], username="sara")
    return {"store": store, "rice": rice, "atta": atta, "oil": oil, "ali": actor_of(ali),
            "sara": actor_of(sara)}


# --- saving ------------------------------------------------------------------------------------

def test_a_count_is_kept_with_the_level_it_was_counted_against(shop):
    store, rice = shop["store"], shop["rice"]
    count_drafts.save(shop["ali"], store.id, [(rice.id, "18.5", "")])
    assert draft(store) == {rice.id: (Decimal("18.5"), Decimal("20"), shop["ali"].user_id)}
    # A sale after the shelf was counted, then a typo corrected: the level it is compared
    # with stays the one at the count, so the sale is not counted twice.
    sell(store, rice, 2)
    count_drafts.save(shop["ali"], store.id, [(rice.id, "17.5", "18.5")])
    assert draft(store)[rice.id][:2] == (Decimal("17.5"), Decimal("20"))


def test_only_changes_are_written_so_an_older_page_never_overwrites_another_phone(shop):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    count_drafts.save(shop["sara"], store.id, [(rice.id, "19", "")])
    # Ali's page was opened before Sara counted rice: it showed it blank and he left it so.
    written = count_drafts.save(shop["ali"], store.id, [(rice.id, "", ""), (atta.id, "9", "")])
    assert written == [atta.id]
    assert draft(store)[rice.id] == (Decimal("19"), Decimal("20"), shop["sara"].user_id)
    # A count he does change is his (the last one typed wins), and a blank removes a line.
    count_drafts.save(shop["ali"], store.id, [(rice.id, "18", ""), (atta.id, "", "9")])
    assert draft(store) == {rice.id: (Decimal("18"), Decimal("20"), shop["ali"].user_id)}


def test_typed_numbers_go_through_the_one_parser(shop):
    store, rice = shop["store"], shop["rice"]
    count_drafts.save(shop["ali"], store.id, [(rice.id, "۱۸٫۵", "")])
    assert draft(store)[rice.id][0] == Decimal("18.5")
    count_drafts.save(shop["ali"], store.id, [(rice.id, "0", "18.5")])
    assert draft(store)[rice.id][0] == Decimal("0")  # an empty shelf is a count


@pytest.mark.parametrize("typed, message", [
    ("-1", "Count cannot be negative."),
    ("abc", "Count must be a number."),
    ("1,500", "Count: 1,500 could mean 1500 or 1.5"),
    ("1.2345", "Count can have at most 3 decimals."),
    ("2.5", "This product is counted in whole packs."),
])
def test_a_bad_count_names_its_product_and_nothing_of_the_save_is_written(shop, typed, message):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    with pytest.raises(DomainError) as caught:
        count_drafts.save(shop["ali"], store.id, [(rice.id, "18", ""), (atta.id, typed, "")])
    assert list(caught.value.fields) == [f"counts.{atta.id}"]
    assert caught.value.fields[f"counts.{atta.id}"].startswith(message)
    assert draft(store) == {}


def test_an_unknown_or_archived_product_cannot_be_counted(shop):
    store, oil = shop["store"], shop["oil"]
    catalog.update_product(ADMIN, oil.id, {"archived": True})
    with pytest.raises(DomainError) as caught:
        count_drafts.save(shop["ali"], store.id, [(oil.id, "5", ""), (999_999, "1", "")])
    assert caught.value.fields == {f"counts.{oil.id}": "This product is archived; restore it "
                                                       "first.",
                                   "counts.999999": "Product not found"}
    assert draft(store) == {}


def test_a_count_holds_at_most_what_one_apply_can_take(shop, monkeypatch):
    monkeypatch.setattr(count_drafts, "MAX_LINES", 2)
    store = shop["store"]
    count_drafts.save(shop["ali"], store.id, [(shop["rice"].id, "1", ""),
                                              (shop["atta"].id, "1", "")])
    with pytest.raises(DomainError) as caught:
        count_drafts.save(shop["ali"], store.id, [(shop["oil"].id, "1", "")])
    assert caught.value.code == "count_too_large"
    count_drafts.save(shop["ali"], store.id, [(shop["rice"].id, "2", "1")])  # changing is fine
    assert len(draft(store)) == 2


# --- listing and progress ------------------------------------------------------------------------

def test_rows_page_by_name_filter_by_category_and_say_how_far_the_count_is(shop):
    store = shop["store"]
    for n in range(22):
        stock_in(store, make_product(sku=f"MASALA-{n:02d}", name=f"Masala {n:02d}",
                                     category="Spice"), 1)
    count_drafts.save(shop["ali"], store.id, [(shop["rice"].id, "20", ""),
                                              (shop["oil"].id, "4", "")])
    first = count_drafts.rows(store.id)
    assert (len(first.items), first.total, first.has_next, first.pages) == (20, 25, True, 2)
    assert [r["name"] for r in first.items[:3]] == ["Basmati Chawal", "Chakki Atta",
                                                    "Dalda Oil"]
    rice, atta, oil = first.items[:3]
    assert (rice["counted"], rice["difference"], atta["counted"], oil["difference"]) == \
        (Decimal("20"), Decimal("0"), None, Decimal("-1"))
    assert len(count_drafts.rows(store.id, page=2).items) == 5
    grain = count_drafts.rows(store.id, category="Grain")
    assert [r["name"] for r in grain.items] == ["Basmati Chawal", "Chakki Atta"]
    assert [r["name"] for r in count_drafts.rows(store.id, q="dalda").items] == ["Dalda Oil"]
    summary = count_drafts.summary(store.id)
    assert (summary["counted"], summary["total"], summary["lines"]) == (2, 25, 2)
    assert summary["categories"] == [{"name": "Grain", "counted": 1, "total": 2},
                                     {"name": "Oil", "counted": 1, "total": 1},
                                     {"name": "Spice", "counted": 0, "total": 22}]


# --- review, apply, discard ----------------------------------------------------------------------

def test_review_then_apply_writes_the_count_through_the_ledger_and_clears_it(shop):
    store, rice, atta, oil = shop["store"], shop["rice"], shop["atta"], shop["oil"]
    count_drafts.save(shop["ali"], store.id, [(rice.id, "18.5", ""), (oil.id, "5", "")])
    count_drafts.save(shop["sara"], store.id, [(atta.id, "12", "")])
    sell(store, rice, 1)  # sold after rice was counted: stays recorded
    review = count_drafts.review(store.id)
    assert [(line["name"], line["difference"], line["moved"], line["counted_by"])
            for line in review["lines"]] == [
        ("Basmati Chawal", Decimal("-1.5"), True, "ali"),
        ("Chakki Atta", Decimal("2"), False, "sara"),
        ("Dalda Oil", Decimal("0"), False, "ali")]
    assert review["differ"] == 2
    result = count_drafts.apply(shop["ali"], store.id, review["version"], "month end", "k-1")
    assert result.status_code == 201 and not result.replayed
    assert result.data["changed_during_count"] == [rice.id]
    assert adjustments() == [
        (rice.id, Decimal("-1.5"), Decimal("17.5"), Decimal("20"), Decimal("18.5"), "count"),
        (atta.id, Decimal("2"), Decimal("12"), Decimal("10"), Decimal("12"), "count")]
    assert (level(store, rice), level(store, atta), level(store, oil)) == \
        (Decimal("17.5"), Decimal("12"), Decimal("5"))
    assert draft(store) == {}
    # A second tap of Apply (same key) replays the first answer and writes nothing.
    again = count_drafts.apply(shop["ali"], store.id, review["version"], "month end", "k-1")
    assert again.replayed and len(adjustments()) == 2
    assert_ledger_consistent()


def test_a_count_changed_since_the_review_is_not_applied(shop):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    count_drafts.save(shop["ali"], store.id, [(rice.id, "18", "")])
    reviewed = count_drafts.review(store.id)["version"]
    count_drafts.save(shop["sara"], store.id, [(atta.id, "9", "")])  # another phone, meanwhile
    with pytest.raises(Conflict) as caught:
        count_drafts.apply(shop["ali"], store.id, reviewed)
    assert caught.value.code == "count_changed"
    assert adjustments() == [] and len(draft(store)) == 2
    count_drafts.apply(shop["ali"], store.id, count_drafts.review(store.id)["version"])
    assert len(adjustments()) == 2 and draft(store) == {}


def test_nothing_counted_and_a_product_archived_since_are_refused_with_nothing_written(shop):
    store, rice, oil = shop["store"], shop["rice"], shop["oil"]
    with pytest.raises(DomainError) as caught:
        count_drafts.apply(shop["ali"], store.id, count_drafts.review(store.id)["version"])
    assert caught.value.code == "nothing_counted"
    count_drafts.save(shop["ali"], store.id, [(rice.id, "18", ""), (oil.id, "4", "")])
    catalog.update_product(ADMIN, oil.id, {"archived": True})
    with pytest.raises(DomainError) as caught:
        count_drafts.apply(shop["ali"], store.id, count_drafts.review(store.id)["version"])
    assert caught.value.fields == {f"counts.{oil.id}": "This product is archived; restore it "
                                                       "first."}
    assert adjustments() == [] and len(draft(store)) == 2


def test_discard_throws_the_count_away_and_says_so_in_the_audit_log(shop):
    store = shop["store"]
    assert count_drafts.discard(shop["ali"], store.id) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditOutbox).where(
        AuditOutbox.action == "count.discard")) == 0  # nothing there: nothing recorded
    count_drafts.save(shop["ali"], store.id, [(shop["rice"].id, "1", ""),
                                              (shop["oil"].id, "2", "")])
    assert count_drafts.discard(shop["sara"], store.id) == 2
    assert draft(store) == {} and adjustments() == []
    event = db.session.scalars(select(AuditOutbox).where(
        AuditOutbox.action == "count.discard")).one()
    assert (event.actor_id, event.entity_id, event.after) == \
        (shop["sara"].user_id, str(store.id), {"lines": 2})


# --- the pages -----------------------------------------------------------------------------------

@pytest.fixture
def page(shop, client):
    login(client, "ali")
    return client


def count_url(shop, suffix=""):
    return f"/stores/{shop['store'].id}/count{suffix}"


def test_the_form_saves_before_every_button_goes_anywhere(shop, page):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    for n in range(22):
        stock_in(store, make_product(sku=f"DAL-{n:02d}", name=f"Dal {n:02d}",
                                     category="Pulse"), 1)
    html = page.get(count_url(shop)).get_data(as_text=True)
    assert "0 of 25 counted" in html and "Page 1 of 2" in html
    assert 'value="Grain">Grain (0/2)</option>' in html
    # Next page, with a count typed: saved, then page 2 (no JavaScript needed).
    response = page.post(count_url(shop), data={
        f"count-{rice.id}": "19", f"was-{rice.id}": "", f"count-{atta.id}": "",
        f"was-{atta.id}": "", "category": "", "q": "", "shown_category": "", "shown_q": "",
        "page": "1", "goto": "2"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(count_url(shop, "?page=2"))
    assert draft(store)[rice.id][0] == Decimal("19")
    # A new filter goes to its first page; the count typed before it is saved too.
    response = page.post(count_url(shop), data={
        f"count-{atta.id}": "9", "category": "Grain", "q": "", "shown_category": "",
        "shown_q": "", "page": "2", "action": "show"})
    assert response.headers["Location"].endswith(count_url(shop, "?category=Grain"))
    html = page.get(count_url(shop, "?category=Grain")).get_data(as_text=True)
    assert "2 of 25 counted" in html and f'name="count-{atta.id}"' in html
    assert 'value="9"' in html and "Dal 00" not in html
    # Review goes to the review page.
    response = page.post(count_url(shop), data={"action": "review"})
    assert response.headers["Location"].endswith(count_url(shop, "/review"))


def test_a_bad_count_comes_back_inline_with_what_was_typed(shop, page):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    response = page.post(count_url(shop), data={
        f"count-{rice.id}": "19", f"count-{atta.id}": "2.5", "goto": "2"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This product is counted in whole packs." in html
    assert 'value="2.5"' in html and 'value="19"' in html and 'aria-invalid="true"' in html
    assert draft(store) == {}


def test_htmx_saves_one_row_and_updates_the_progress_out_of_band(shop, page):
    store, rice = shop["store"], shop["rice"]
    headers = {"HX-Request": "true"}
    response = page.post(count_url(shop), headers=headers,
                         data={f"count-{rice.id}": "۱۹", f"was-{rice.id}": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="count-row-{rice.id}"' in html and 'value="19"' in html
    assert 'id="count-progress"' in html and 'hx-swap-oob="true"' in html
    assert "1 of 3 counted" in html and "-1" in html
    response = page.post(count_url(shop), headers=headers,
                         data={f"count-{rice.id}": "lots", f"was-{rice.id}": "19"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Count must be a number." in html and 'value="lots"' in html
    assert draft(store)[rice.id][0] == Decimal("19")
    # A product archived after the page opened keeps its row, which says why.
    catalog.update_product(ADMIN, shop["oil"].id, {"archived": True})
    response = page.post(count_url(shop), headers=headers,
                         data={f"count-{shop['oil'].id}": "4", f"was-{shop['oil'].id}": ""})
    assert response.status_code == 422
    assert f'id="count-row-{shop["oil"].id}"' in response.get_data(as_text=True)
    assert "This product is archived" in response.get_data(as_text=True)


def test_review_apply_and_discard_pages(shop, page):
    store, rice, atta = shop["store"], shop["rice"], shop["atta"]
    html = page.get(count_url(shop, "/review")).get_data(as_text=True)
    assert "Nothing is counted yet." in html
    count_drafts.save(shop["sara"], store.id, [(rice.id, "18", ""), (atta.id, "10", "")])
    html = page.get(count_url(shop, "/review")).get_data(as_text=True)
    assert "1 differ, 1 match" in html and "by sara" in html
    version = count_drafts.review(store.id)["version"]
    # A stale review (the count changed since) is refused with a message, nothing written.
    response = page.post(count_url(shop, "/review"), data={"version": "stale", "key": "a"})
    assert response.status_code == 422
    assert "The count changed since this review was opened" in response.get_data(as_text=True)
    response = page.post(count_url(shop, "/review"), data={"version": version, "key": "b"},
                         follow_redirects=True)
    assert "Count applied: 1 adjustment, 1 unchanged." in response.get_data(as_text=True)
    assert level(store, rice) == Decimal("18") and draft(store) == {}
    count_drafts.save(shop["sara"], store.id, [(rice.id, "1", "")])
    response = page.post(count_url(shop, "/discard"), follow_redirects=True)
    assert "Discarded the count of 1 product." in response.get_data(as_text=True)
    assert draft(store) == {} and level(store, rice) == Decimal("18")


def test_a_shopkeeper_cannot_count_another_store(shop, page):
    other = make_store(code="LHE-0001")
    stock_in(other, shop["rice"], 5)
    for method, suffix in (("get", ""), ("post", ""), ("get", "/review"), ("post", "/review"),
                           ("post", "/discard")):
        response = getattr(page, method)(f"/stores/{other.id}/count{suffix}",
                                         data={f"count-{shop['rice'].id}": "1"}
                                         if method == "post" else None)
        assert response.status_code == 404, suffix
    assert draft(other) == {}


# --- PostgreSQL: a save and an apply meeting on one line -----------------------------------------

@pytest.fixture
def pg_shop(pg_app):
    store = make_store()
    rice = make_product(unit="kg")
    stock_in(store, rice, 20)
    user = make_user("shopkeeper", [store])
    ids = {"store": store.id, "rice": rice.id, "actor": actor_of(user)}
    db.session.remove()
    return pg_app, ids


def _in_thread(app, work, done):
    def run():
        with app.app_context():
            try:
                done["result"] = work()
            except Exception as error:  # asserted on by the test
                done["error"] = error
            finally:
                done["at"] = time.monotonic()
                db.session.remove()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _state(ids):
    lvl = db.session.get(StockLevel, (ids["store"], ids["rice"])).quantity
    line = db.session.get(CountDraft, (ids["store"], ids["rice"]))
    result = (lvl, (line.quantity, line.expected) if line else None, len(adjustments()))
    db.session.rollback()
    return result


@pytest.mark.postgres
def test_a_save_meeting_an_apply_waits_and_counts_against_the_new_level(pg_shop, monkeypatch):
    app, ids = pg_shop
    actor, store_id, rice = ids["actor"], ids["store"], ids["rice"]
    count_drafts.save(actor, store_id, [(rice, "15", "")])  # 20 expected: -5
    version = count_drafts.review(store_id)["version"]
    db.session.remove()
    locked, real, held = threading.Event(), ledger.write_count, {}

    def slow_write(*args, **kwargs):  # the apply holds the count's lines for a moment
        held["from"] = time.monotonic()
        locked.set()
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(count_drafts.ledger, "write_count", slow_write)
    applied, saved = {}, {}
    first = _in_thread(app, lambda: count_drafts.apply(actor, store_id, version), applied)
    assert locked.wait(5)
    second = _in_thread(app, lambda: count_drafts.save(actor, store_id, [(rice, "14", "15")]),
                        saved)
    first.join(10), second.join(10)
    assert "error" not in applied and "error" not in saved, (applied, saved)
    # It waited for the apply to commit: it cannot end before the apply's hold did. (Comparing
    # the two threads' end times races: the apply's thread may be the slower to get back.)
    assert saved["at"] >= held["from"] + 0.5
    # Applied 15 (level 15); the new count is compared with 15, not with the old 20.
    assert _state(ids) == (Decimal("15"), (Decimal("14"), Decimal("15")), 1)


@pytest.mark.postgres
def test_an_apply_meeting_a_save_refuses_because_the_count_changed(pg_shop, monkeypatch):
    app, ids = pg_shop
    actor, store_id, rice = ids["actor"], ids["store"], ids["rice"]
    count_drafts.save(actor, store_id, [(rice, "15", "")])
    version = count_drafts.review(store_id)["version"]
    db.session.remove()
    locked, real, paused = threading.Event(), count_drafts.utcnow, []

    def slow_now():  # the save holds its line for a moment (once)
        if not paused:
            paused.append(True)
            locked.set()
            time.sleep(0.5)
        return real()

    monkeypatch.setattr(count_drafts, "utcnow", slow_now)
    saved, applied = {}, {}
    first = _in_thread(app, lambda: count_drafts.save(actor, store_id, [(rice, "14", "15")]),
                       saved)
    assert locked.wait(5)
    second = _in_thread(app, lambda: count_drafts.apply(actor, store_id, version), applied)
    first.join(10), second.join(10)
    assert "error" not in saved, saved
    assert isinstance(applied.get("error"), Conflict), applied
    assert applied["error"].code == "count_changed"
    assert _state(ids) == (Decimal("20"), (Decimal("14"), Decimal("20")), 0)
    assert_ledger_consistent()


# --- a tracked product with more than one batch is counted date by date (issue 26 item 5) -------

def test_a_tracked_product_is_counted_per_date_kept_across_reloads_and_applied(shop, page):
    from tests.test_batches import JUNE, MAY, batch_levels, consistent
    store = shop["store"]
    dahi = make_product(sku="DAHI", name="Dahi", unit="piece", category="Dairy",
                        tracks_expiry=True)
    for quantity, day in ((4, JUNE), (6, MAY)):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=dahi.id, type="stock_in", quantity=quantity,
            expires_on=day, batch_code="B7" if day == JUNE else None))
    html = page.get(count_url(shop, "?category=Dairy")).get_data(as_text=True)
    assert f'name="count-{dahi.id}"' not in html  # one field per date instead
    assert f'name="batch-{dahi.id}-0"' in html and f'name="batch-{dahi.id}-1"' in html
    assert "31 May 2027" in html and "30 Jun 2027" in html and "B7" in html
    form = {f"bkey-{dahi.id}-0": "2027-05-31|", f"wasb-{dahi.id}-0": "",
            f"bkey-{dahi.id}-1": "2027-06-30|B7", f"wasb-{dahi.id}-1": ""}
    headers = {"HX-Request": "true"}
    # A bad date's count comes back inline, what was typed kept, nothing written.
    bad = page.post(count_url(shop), headers=headers, data={
        **form, f"batch-{dahi.id}-0": "lots", f"batch-{dahi.id}-1": "3"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Count must be a number." in html and 'value="lots"' in html and 'value="3"' in html
    assert draft(store) == {}
    saved = page.post(count_url(shop), headers=headers, data={
        **form, f"batch-{dahi.id}-0": "5", f"batch-{dahi.id}-1": ""})
    assert saved.status_code == 200
    assert draft(store)[dahi.id][0] == Decimal("5")  # the sum of the dates
    # The dates survive a reload (kept on the server with the line).
    html = page.get(count_url(shop, "?category=Dairy")).get_data(as_text=True)
    assert f'id="batch-{dahi.id}-0"' in html
    assert f'name="wasb-{dahi.id}-0" value="5"' in html
    assert f'name="wasb-{dahi.id}-1" value="0"' in html
    # Correcting one date (the no-JavaScript form) changes the sum.
    page.post(count_url(shop), data={**form, f"wasb-{dahi.id}-0": "5",
                                     f"wasb-{dahi.id}-1": "0", f"batch-{dahi.id}-0": "5",
                                     f"batch-{dahi.id}-1": "2", "action": "review"})
    assert draft(store)[dahi.id][0] == Decimal("7")
    review = page.get(count_url(shop, "/review")).get_data(as_text=True)
    assert "Batches:" in review and "30 Jun 2027" in review
    version = count_drafts.review(store.id)["version"]
    applied = page.post(count_url(shop, "/review"), data={"version": version, "key": "d1"},
                        follow_redirects=True)
    assert "Count applied: 1 adjustment" in applied.get_data(as_text=True)
    assert draft(store) == {} and level(store, dahi) == Decimal("7")
    assert batch_levels(store, dahi) == {(MAY, ""): 5, (JUNE, "B7"): 2}
    consistent()  # invariant 9 (batches add up to the level) and invariant 1
