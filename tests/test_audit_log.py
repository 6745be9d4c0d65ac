"""The audit trail: every state change leaves an event; the page and the API find them."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_client import PASSWORD, api_as
from tests.factories import ADMIN, login, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import AuditLog, AuditOutbox
from webapp.models.types import utcnow
from webapp.services import accounts, audit, catalog, commands, ledger
from webapp.services.validation import pakistan_day


def actions():
    audit.drain_all()
    return sorted(db.session.scalars(select(AuditLog.action)).all())


def test_every_kind_of_state_change_is_audited(app, client):
    store, other = make_store(), make_store()
    product = make_product(unit="piece")
    supplier = make_supplier()
    user = make_user("manager", password=PASSWORD)
    catalog.update_product(ADMIN, product.id, {"name": "Renamed"})
    catalog.update_store(ADMIN, store.id, {"name": "Renamed store"})
    catalog.update_supplier(ADMIN, supplier.id, {"name": "Renamed supplier"})
    accounts.update_user(ADMIN, user.id, full_name="Ayesha")
    _, token = accounts.issue_token(ADMIN, user, "pos", 30)
    accounts.revoke_token(ADMIN, token.id)
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=10))
    ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=store.id, to_store_id=other.id,
                                                   product_id=product.id, quantity=2))
    ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id,
                                                   counts=[{"product_id": product.id,
                                                          "quantity": 7}]))
    login(client, user, "wrong-password")
    login(client, user)
    assert set(actions()) >= {
        "store.create", "store.update", "product.create", "product.update", "supplier.create",
        "supplier.update", "user.create", "user.update", "token.create", "token.revoke",
        "movement.create", "transfer.create", "count.apply", "user.login", "user.login_failed"}


def test_a_request_that_writes_drains_the_outbox_in_process_without_redis(app, client):
    user = make_user("manager", password=PASSWORD)
    assert db.session.scalar(select(func.count()).select_from(AuditOutbox)) == 1
    login(client, user)
    assert db.session.scalar(select(func.count()).select_from(AuditOutbox)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 2


def test_draining_twice_writes_each_event_once(app):
    make_store()
    audit.drain_all()
    assert audit.drain_all() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 1


@pytest.fixture
def events(app):
    """Three products and one store, by two actors, on two days."""
    alice = make_user("admin", username="alice", password=PASSWORD)
    bob = make_user("manager", username="bob", password=PASSWORD)
    for name in ("Sugar", "Atta", "Daal"):
        catalog.create_product(audit.Actor(alice.id, "web", "10.0.0.1"),
                               {"sku": name.upper(), "name": name, "unit": "kg",
                                "sale_price": "100"})
    catalog.create_store(audit.Actor(bob.id, "api"), {"code": "LHR-0001", "name": "Lahore"})
    audit.drain_all()
    old = db.session.scalars(select(AuditLog).where(AuditLog.action == "store.create")).one()
    old.created_at = utcnow() - timedelta(days=10)
    db.session.commit()
    return alice, bob


@pytest.mark.parametrize("query, expected", [
    ("", 6),
    ("?actor=ALICE", 3),
    ("?action=product", 3),
    ("?action=product.create", 3),
    ("?action=store.create", 1),
    ("?entity_type=user", 2),
    ("?entity_type=product&entity_id=2", 1),
    ("?from={today}", 5),
    ("?to={ten_days_ago}", 1),
    ("?from={ten_days_ago}&to={ten_days_ago}&actor=bob", 1),
])
def test_the_audit_api_filters(app, events, query, expected):
    today = pakistan_day(utcnow())
    query = query.format(today=today, ten_days_ago=today - timedelta(days=10))
    response = api_as(app, "manager").get(f"/api/v1/audit{query}")
    assert response.status_code == 200, response.json
    # api_as made one more user and token: count only the events of this fixture.
    items = [e for e in response.json["items"] if e["action"] != "token.create"
             and not (e["action"] == "user.create" and e["entity_id"] not in ("1", "2"))]
    assert len(items) == expected


def test_the_audit_api_is_for_managers_and_admins_and_paginates(app, events):
    assert api_as(app, "shopkeeper").get("/api/v1/audit").status_code == 403
    page = api_as(app, "admin").get("/api/v1/audit?per_page=2&page=2").json
    assert (page["page"], page["per_page"], len(page["items"])) == (2, 2, 2)
    assert page["total"] >= 6
    first = api_as(app, "admin").get("/api/v1/audit?action=product.create&per_page=1").json
    event = first["items"][0]
    assert event["actor"] == "alice" and event["ip"] == "10.0.0.1"
    assert event["after"]["name"] == "Daal"  # newest first


def test_the_audit_page_filters_and_rejects_bad_dates_inline(app, client, events):
    alice, _ = events
    login(client, alice)
    page = client.get("/audit/?actor=bob")
    assert page.status_code == 200
    assert b"store.create" in page.data and b"product.create" not in page.data
    bad = client.get("/audit/?from=2026-02-30")
    assert bad.status_code == 422 and b"Use a date like" in bad.data
    reversed_range = client.get("/audit/?from=2026-03-02&to=2026-03-01")
    assert reversed_range.status_code == 422


def test_shopkeepers_cannot_open_the_audit_page(app, client):
    login(client, make_user("shopkeeper", stores=[make_store()], password=PASSWORD))
    assert client.get("/audit/").status_code == 403


def test_upgrading_sqlite_never_hands_out_an_outbox_id_already_drained(tmp_path):
    """0003 makes audit_outbox AUTOINCREMENT and starts it after every id ever used."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.conftest import _config
    from webapp import create_app

    app = create_app(_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="0001")
        db.session.execute(text("INSERT INTO audit_log (outbox_id, action, entity_type, "
                                "created_at) VALUES (41, 'store.create', 'store', '2026-01-01')"))
        db.session.commit()
        upgrade()
        audit.record(db.session.connection(), ADMIN, "store.update", "store", 1)
        db.session.commit()
        assert db.session.scalar(select(AuditOutbox.id)) == 42
        assert audit.drain_all() == 1
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 2
        db.engine.dispose()


# --- the audit log in words -------------------------------------------------------------------

def page_text(html):
    """The page's visible words: tags dropped, entities read, spaces folded."""
    import html as entities
    import re
    return re.sub(r"\s+", " ", entities.unescape(re.sub(r"<[^>]+>", "", html)))


@pytest.fixture
def shop_day(app):
    """A manager (ali) and a shopkeeper (dukan) at KHI-0001 go through a day at the counter."""
    from webapp.services import count_drafts, sales

    store = make_store(code="KHI-0001", name="Saddar")
    ali = make_user("manager", username="ali", password=PASSWORD)
    dukan = make_user("shopkeeper", username="dukan", stores=[store], password=PASSWORD)
    cheeni = make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150.00")
    soap = make_product(sku="SOAP", name='Soap <b>"Lux"</b>', unit="piece", sale_price="50.00")
    as_ali, as_dukan = audit.Actor(ali.id, "web"), audit.Actor(dukan.id, "web")
    for product in (cheeni, soap):
        ledger.record_movement(as_ali, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=24))
    ledger.record_movement(as_dukan, commands.Movement.parse(
        store_id=store.id, product_id=cheeni.id, type="sale", quantity="1.5"))
    first = sales.complete_sale(as_dukan, store_id=store.id, lines=[
        {"product_id": cheeni.id, "quantity": "2"}]).data["sale"]
    second = sales.complete_sale(as_dukan, store_id=store.id, lines=[
        {"product_id": cheeni.id, "quantity": "1"}, {"product_id": soap.id, "quantity": "3"}]
    ).data["sale"]
    sales.void_sale(as_ali, first["id"])
    sales.return_lines(as_ali, second["id"], lines=[{"product_id": soap.id, "quantity": "1"}])
    catalog.update_product(as_ali, cheeni.id, {"sale_price": "160.00"})
    count_drafts.save(as_dukan, store.id, [(soap.id, "20", "")])
    count_drafts.apply(as_ali, store.id, count_drafts.review(store.id)["version"])
    count_drafts.save(as_dukan, store.id, [(cheeni.id, "5", "")])
    count_drafts.discard(as_ali, store.id)
    audit.drain_all()
    return {"ali": ali, "first": first, "second": second}


def test_the_audit_log_tells_each_event_in_words(client, shop_day):
    login(client, shop_day["ali"])
    response = client.get("/audit/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(html)
    first, second = shop_day["first"]["number"], shop_day["second"]["number"]
    for sentence in (
            "ali received 24 piece Soap <b>\"Lux\"</b> at KHI-0001",
            "ali received 24 kg Cheeni at KHI-0001",
            "dukan sold 1.5 kg Cheeni at KHI-0001",
            f"dukan sold 2 kg Cheeni at KHI-0001 (sale #{first}, Rs 300)",
            f"dukan sold 2 products at KHI-0001 (sale #{second}, Rs 300)",
            f"ali voided sale #{first} at KHI-0001; its goods went back to stock",
            f"ali took back 1 piece Soap <b>\"Lux\"</b> from sale #{second} at KHI-0001 "
            "(Rs 50 back)",
            "ali changed the product Cheeni: sale price",
            "ali applied a shelf count at KHI-0001: 1 adjustment",
            "ali threw away the count in progress at KHI-0001 (1 product counted)",
            "ali logged in"):
        assert sentence in text, sentence
    # User data is escaped; codes and names are isolated for right-to-left pages.
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "<bdi>KHI-0001</bdi>" in html
    # The raw event is one tap away, as JSON, for every event.
    events = html.count('<li class="event"')
    assert events >= 10 and html.count("<summary>Raw event</summary>") == events
    assert '&#34;action&#34;: &#34;sale.void&#34;' in html or '"action": "sale.void"' in \
        page_text(html)


def test_the_audit_log_speaks_urdu(client, shop_day):
    shop_day["ali"].language = "ur"
    db.session.commit()
    login(client, shop_day["ali"])
    text = page_text(client.get("/audit/").get_data(as_text=True))
    assert "dukan نے KHI-0001 پر 1.5 کلو Cheeni فروخت کیا" in text
    assert f"ali نے KHI-0001 پر فروخت نمبر {shop_day['first']['number']} منسوخ کی" in text
    assert "ali نے لاگ اِن کیا" in text and "sold" not in text


def test_an_unknown_or_odd_event_still_reads(client, app):
    manager = make_user("manager", username="noor", password=PASSWORD)
    audit.record_now(audit.Actor(manager.id), "widget.polish", "widget", 7)
    audit.record_now(audit.Actor(None), "movement.create", "stock_movement", 9,
                     after={"type": "sale", "quantity": "2", "store_id": "x"})
    audit.drain_all()
    login(client, manager)
    text = page_text(client.get("/audit/").get_data(as_text=True))
    assert "noor: widget.polish, widget #7" in text
    assert "system sold 2 #None at #x" in text


def test_the_audit_filters_fold_into_words_with_date_shortcuts(client, app, monkeypatch):
    from datetime import date

    from webapp.services import reports

    today, monday = date(2026, 11, 26), date(2026, 11, 23)  # a Thursday and its Monday
    monkeypatch.setattr(reports, "today", lambda: today)
    manager = make_user("manager", username="sana", password=PASSWORD)
    login(client, manager)
    html = client.get(f"/audit/?actor=sana&from={monday}&to={today}").get_data(as_text=True)
    assert '<details class="fold" data-fold>' in html
    assert "This week · sana" in page_text(html)
    assert f'href="/audit/?actor=sana&amp;from={today}&amp;to={today}"' in html
    assert f'from={monday}&amp;to={today}" aria-current="true">This week' in html
    bad = client.get("/audit/?from=2026-02-30").get_data(as_text=True)
    assert '<details class="fold" data-fold open>' in bad


@pytest.mark.postgres
def test_a_fast_path_movement_is_drained_in_process_without_redis(pg_app):
    """PostgreSQL's one-statement movement writes its audit event in that statement; the request
    still has it drained at once, as every other write's."""
    store_id, product_id = make_store().id, make_product(unit="piece").id
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="stock_in", quantity=5))
    api = api_as(pg_app)
    audit.drain_all()
    audit.take_pending()  # the setup's writes are drained: only the sale may ask again
    db.session.remove()
    response = api.post("/api/v1/movements", json={
        "store_id": store_id, "product_id": product_id, "type": "sale", "quantity": "1"})
    assert response.status_code == 201, response.json
    assert db.session.scalar(select(func.count()).select_from(AuditOutbox)) == 0
    assert db.session.scalar(select(AuditLog.entity_id).where(
        AuditLog.action == "movement.create").order_by(AuditLog.id.desc()).limit(1)) == \
        str(response.json["movement"]["id"])


@pytest.mark.postgres
@pytest.mark.redis
def test_a_fast_path_sale_asks_for_a_drain_in_its_one_redis_call(redis_pg_app):
    """With Redis, the drain request rides in the stock cache's invalidation script: a sale still
    makes one Redis round trip, and a drainer is woken (audit.DRAIN_WAKE) only when no drain
    was asked for already."""
    import redis.connection

    from webapp.infra import redisconn

    store, product = make_store(), make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=5))
    api = api_as(redis_pg_app)
    flag, wake = redisconn.prefixed(audit.DRAIN_FLAG), redisconn.prefixed(audit.DRAIN_WAKE)

    def wakeups():
        return redisconn.run(lambda r: r.llen(wake))

    def sell():
        sent = []
        real = redis.connection.AbstractConnection.send_packed_command

        def counted(self, command, check_health=True):
            sent.append(command)
            return real(self, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counted
        try:
            response = api.post("/api/v1/movements", json={
                "store_id": store.id, "product_id": product.id, "type": "sale",
                "quantity": "1"})
        finally:
            redis.connection.AbstractConnection.send_packed_command = real
        assert response.status_code == 201, response.json
        return len(sent)

    sell()  # the first: the rate limit's batch, and a drainer woken
    assert redisconn.run(lambda r: r.get(flag)) == b"1"
    assert wakeups() == 1
    assert sell() == 1  # the second: the invalidation script only, a wake-up is waiting
    assert wakeups() == 1
    redisconn.run(lambda r: r.delete(flag))  # a drain started (drain_audit clears the flag)
    assert sell() >= 2 and wakeups() == 2  # the script, then the wake-up
