"""Issue 23: API tokens do not outlive the owner taking their account back.

A copied session cookie used to mint a token (ttl 3650 days, no password) that kept reading and
writing after "Log out all my devices" and after a password change. Now the tokens page asks
for the password every time (tests/test_security.py), a password change and "log out
everywhere" revoke every token (audited), and a token lives at most API_TOKEN_MAX_DAYS.
"""
import pytest
from flask import g
from sqlalchemy import select

from tests.api_client import ApiClient, token_for
from tests.factories import ADMIN, PASSWORD, login, make_store, make_user
from webapp.extensions import db
from webapp.models import AuditLog, AuditOutbox
from webapp.services import accounts

NEW_PASSWORD = "chai-paratha-77"


def _works(app, token):
    g.pop("_login_user", None)
    return ApiClient(app, token).get("/api/v1/stores").status_code == 200


def _revocations():
    """token.revoke_all events, drained to the log or not yet."""
    return [after for model in (AuditOutbox, AuditLog) for after in db.session.execute(
        select(model.after).where(model.action == "token.revoke_all")).scalars()]


@pytest.fixture
def owner(app):
    return make_user("manager", [make_store()], password=PASSWORD)


@pytest.mark.parametrize("how", ["logout_everywhere", "own_password", "admin_password"])
def test_taking_the_account_back_revokes_every_token(app, owner, how):
    tokens = [token_for(owner), token_for(owner)]
    other = token_for(make_user("manager"))
    assert all(_works(app, t) for t in tokens + [other])
    browser = app.test_client()
    login(browser, owner)
    if how == "logout_everywhere":
        assert browser.post("/account/logout-everywhere").status_code == 303
    elif how == "own_password":
        assert browser.post("/account/password", data={
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD}).status_code == 303
    else:
        accounts.update_user(ADMIN, owner.id, password=NEW_PASSWORD)
    assert not any(_works(app, t) for t in tokens)
    assert _works(app, other)  # someone else's tokens are theirs
    reasons = {"logout_everywhere": "logout_everywhere", "own_password": "password_change",
               "admin_password": "password_set"}
    [event] = _revocations()
    assert event["reason"] == reasons[how] and len(event["tokens"]) == 2
    admin = app.test_client()
    login(admin, make_user("admin"))
    audit_page = admin.get("/audit/").get_data(as_text=True)
    assert "revoked 2 API tokens of" in audit_page


def test_a_plain_logout_and_other_edits_keep_the_tokens(app, owner):
    token = token_for(owner)
    browser = app.test_client()
    login(browser, owner)
    assert browser.post("/logout").status_code == 303
    accounts.update_user(ADMIN, owner.id, full_name="Renamed")
    assert _works(app, token) and _revocations() == []


def test_the_tokens_page_says_so_and_caps_the_life(app, owner):
    browser = app.test_client()
    login(browser, owner)
    page = browser.get("/tokens/").get_data(as_text=True)
    assert "revokes every token" in page and "at most 365 days" in page
    too_long = browser.post("/tokens/", data={"name": "pos", "ttl_days": "3650",
                                              "password": PASSWORD})
    assert too_long.status_code == 422
    assert "between 1 and 365 days" in too_long.get_data(as_text=True)


def test_the_api_caps_a_token_life_at_the_setting(app, owner):
    client = ApiClient(app)
    body = {"username": owner.username, "password": PASSWORD, "ttl_days": 3650}
    refused = client.post("/api/v1/auth/token", json=body)
    assert refused.status_code == 422 and "ttl_days" in refused.json["error"]["fields"]
    assert client.post("/api/v1/auth/token", json={**body, "ttl_days": 365}).status_code == 201
