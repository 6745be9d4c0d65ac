"""Every route × every role answers as services/policy.py says.

Each page and API route that needs a permission declares it with one decorator
(web/access.page_permission, api/auth.api_permission), whose name the view keeps; the roles
holding each permission are policy.PERMISSIONS. This walks app.url_map (so a new route cannot
be missed) as each role and compares the answer with that table: a role without the permission
gets 403 on every method, nobody logged in is sent to the login page (401 on the API), and a
role with it (or any logged-in role on a route that declares none) is never refused on GET.
"""
import pytest
from flask import g, url_for

from tests.api_client import ApiClient, token_for
from tests.factories import (
    ADMIN,
    PASSWORD,
    make_product,
    make_store,
    make_supplier,
    make_user,
)
from webapp.blueprints.api.auth import PUBLIC
from webapp.services import commands, ledger, policy, sales

ROLES = ("admin", "manager", "shopkeeper")
REFUSED = {"page": 403, "api": 403}
UPLOADS = {"/api/v1/imports"}  # multipart, not JSON (api/hooks answers 415 to anything else)


@pytest.fixture
def world(app):
    store = make_store()
    product = make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity="5"))
    sales.complete_sale(ADMIN, store_id=store.id, lines=[{"product_id": product.id,
                                                          "quantity": "1"}])
    users = {role: make_user(role, stores=[store] if role == "shopkeeper" else [])
             for role in ROLES}
    ids = {"store_id": store.id, "product_id": product.id, "supplier_id": make_supplier().id,
           "user_id": users["shopkeeper"].id, "sale_id": 1, "order_id": 999_999,
           "job_id": "no-such-job", "customer_id": 999_999, "closing_id": 999_999,
           "token_id": 999_999,
           "queue": "default", "index": 0, "endpoint_id": 999_999, "webhook_id": 999_999,
           "delivery_id": "no-such-delivery"}
    return users, ids


def _routes(app, ids):
    """(endpoint, method, url, declared permission or None) for every route but static files."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            view = app.view_functions[rule.endpoint]
            url = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method, url, getattr(view, "permission", None),
                              getattr(view, PUBLIC, False)))
    return found


def _send(client, method, url, api):
    g.pop("_login_user", None)  # the tests share one app context
    g.pop("api_user", None)
    if api:  # an ApiClient: the token in its headers; a body of the kind the route reads
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        body = {} if method == "GET" else \
            {"data": {}, "content_type": "multipart/form-data"} if url in UPLOADS else {"json": {}}
        return client.client.open(url, method=method, headers=headers, **body)
    return client.open(url, method=method, **({"data": {}} if method != "GET" else {}))


def test_every_route_as_every_role_answers_as_the_table_says(app, world):
    users, ids = world
    pages = {role: app.test_client() for role in ROLES}
    for role, client in pages.items():
        g.pop("_login_user", None)
        assert client.post("/login", data={"username": users[role].username,
                                           "password": PASSWORD}).status_code == 303
    apis = {role: ApiClient(app, token_for(users[role])) for role in ROLES}
    anonymous = {"page": app.test_client(), "api": ApiClient(app)}
    mismatches, checked, declared = [], 0, set()
    for endpoint, method, url, permission, public in _routes(app, ids):
        api = url.startswith("/api/")
        if permission is not None:
            declared.add(permission)
        allowed = ROLES if permission is None else policy.PERMISSIONS[permission]
        for role in ROLES:
            client = apis[role] if api else pages[role]
            if role in allowed:
                if method != "GET":  # a write by a role that may: not sent (it would write)
                    continue
                status = _send(client, method, url, api).status_code
                if status in (401, 403):
                    mismatches.append((endpoint, method, role, status, "allowed"))
            else:
                status = _send(client, method, url, api).status_code
                if status != REFUSED["api" if api else "page"]:
                    mismatches.append((endpoint, method, role, status, "refused"))
            checked += 1
        if permission is not None and not public:
            response = _send(anonymous["api" if api else "page"], method, url, api)
            expected = (401,) if api else (302, 303)
            if response.status_code not in expected or \
                    (not api and "/login" not in response.headers.get("Location", "")):
                mismatches.append((endpoint, method, "anonymous", response.status_code, "login"))
    assert mismatches == []
    assert checked > 200
    # Every permission a route can ask for is a row of the table, and the table has no row
    # that only the navigation or a service asks (those are listed here).
    asked_elsewhere = {"reports.view", "history.view_all_users", "sync.view_all_jobs",
                       "imports.view_all_jobs"}
    assert declared | asked_elsewhere == set(policy.PERMISSIONS)


def test_the_decorators_refuse_a_permission_the_table_does_not_have():
    from webapp.blueprints.api.auth import api_permission
    from webapp.web.access import page_permission

    for decorator in (page_permission, api_permission):
        with pytest.raises(KeyError):
            decorator("catalog.manag")


def test_command_rules_cover_every_command_and_name_real_fields():
    """The commands' rows of the table: each names fields its command has, and permissions
    the table has."""
    import dataclasses

    for command, rule in policy.COMMAND_RULES.items():
        fields = {f.name for f in dataclasses.fields(command)}
        assert set(rule.stores) <= fields, command
        assert rule.owner is None or rule.owner[1] in fields, command
        assert rule.backdated is None or rule.backdated in fields, command
        assert rule.permission is None or rule.permission in policy.PERMISSIONS, command
    assert commands.Movement in policy.COMMAND_RULES
