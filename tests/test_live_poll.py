"""The live stock list's poll (stock/polls.py): an unchanged poll is answered 304 before any
SQL, and only to the session the ETag was handed to."""
import time

import pytest
from sqlalchemy import event

from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.services import commands, ledger

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def shop(redis_pg_app):
    store, other = make_store(), make_store()
    product = make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=20))
    keeper = make_user("shopkeeper", stores=[store])
    stranger = make_user("shopkeeper", stores=[other])
    db.session.commit()
    ids = {"store": store.id, "product": product.id, "keeper": keeper.username,
           "stranger": stranger.username}
    db.session.remove()
    return redis_pg_app, ids


class _Client:
    """A test client whose every request has its own app context (and so its own `g`): the
    fixture's app context would otherwise keep the first request's user for the next client."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def get(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.post(*args, **kwargs)


def _statements(app):
    sent = []

    def count(*args):
        sent.append(args[2])
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    return sent, lambda: event.remove(engine, "before_cursor_execute", count)


def test_an_unchanged_poll_is_answered_before_any_sql(shop):
    app, ids = shop
    phone = _Client(app)
    assert login(phone, ids["keeper"]).status_code in (302, 303)
    url = f"/stores/{ids['store']}/stock"
    first = phone.get(url, headers={"HX-Request": "true"})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    sent, stop = _statements(app)
    try:
        unchanged = phone.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
    finally:
        stop()
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag
    assert unchanged.headers["Cache-Control"] == "no-store"
    assert sent == []  # no user, store or membership loaded: one Redis round trip
    assert "Cookie" in unchanged.headers["Vary"]
    # Another query string is another list: the whole way.
    assert phone.get(url + "?low=1", headers={"If-None-Match": etag}).status_code == 200
    # A sale in the store: the same ETag no longer holds.
    with app.app_context():
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=ids["store"], product_id=ids["product"], type="sale", quantity=1))
        db.session.remove()
    changed = phone.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_the_etag_is_only_good_for_the_session_it_was_handed_to(shop):
    app, ids = shop
    phone = _Client(app)
    login(phone, ids["keeper"])
    url = f"/stores/{ids['store']}/stock"
    etag = phone.get(url).headers["ETag"]
    # Another shop's keeper presenting it goes through the checks: not their store.
    stranger = _Client(app)
    assert login(stranger, ids["stranger"]).status_code in (302, 303)
    assert stranger.get(url, headers={"If-None-Match": etag}).status_code == 404
    # No session at all: the login page, not a 304.
    assert _Client(app).get(url, headers={"If-None-Match": etag}).status_code in (302, 303)
    # The same user logged in again (a new login time, kept to the second: wait for the next
    # one, or two logins within one second share an id) is a new session: one full answer.
    time.sleep(1.05)
    again = _Client(app)
    login(again, ids["keeper"])
    assert again.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_the_middleware_knows_the_lists_address(app):
    from flask import url_for

    from webapp.blueprints.stock.polls import EarlyAnswer

    with app.test_request_context():
        path = url_for("stock.stock_list", store_id=123456789)
    assert EarlyAnswer.PATH.fullmatch(path)
    assert not EarlyAnswer.PATH.fullmatch(path + "/x")
