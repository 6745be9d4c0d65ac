"""Hostile input over every route (issue 13): no 500, nothing written.

Every page route (GET and POST) is called as each role, and every API route with each token,
with NUL bytes, control characters, huge integers, deeply nested JSON, 10,000-character strings
and wrong types in every parameter and field. The routes come from the app's own URL map, so a
new route is swept without editing this file. Each request also goes out with non-UTF-8 bytes
(query and form) and, for every POST, as multipart with hostile file names. The whole sweep runs
on SQLite and on PostgreSQL (where NUL bytes and out-of-range integers raise in the driver, and
where a review found six 500s that SQLite never showed: issue 23); each prints its request
count.
"""
import io
import json
from contextlib import contextmanager

import pytest
from flask import g, url_for
from sqlalchemy import func, select

from tests.api_client import PASSWORD, ApiClient, token_for
from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import (
    ApiToken,
    AuditLog,
    AuditOutbox,
    IdempotencyRecord,
    Product,
    StockLevel,
    StockMovement,
    Store,
    Supplier,
    SyncJob,
    User,
)
from webapp.services import accounts, commands, ledger

ROLES = ("anonymous", "shopkeeper", "manager", "admin")
# Query parameters any page or list reads; each gets the hostile value.
PARAMS = ("q", "page", "per_page", "store", "store_id", "product", "product_id", "type", "user",
          "user_id", "actor", "action", "entity", "entity_type", "entity_id", "sku", "barcode",
          "from", "to", "sort", "desc", "by", "city", "category", "cover_days", "archived",
          "low", "next", "reason", "source", "include_inactive")
# Form fields any page form reads.
FIELDS = ("username", "password", "remember", "full_name", "role", "stores", "active", "name",
          "sku", "barcode", "category", "unit", "sale_price", "cost", "reorder_level", "archived",
          "code", "city", "address", "phone", "allow_negative_stock", "notes", "product_id",
          "type", "quantity", "reason", "note", "unit_price", "unit_cost", "supplier_id",
          "occurred_at", "to_store_id", "product", "key", "action", "ttl_days",
          "current_password", "new_password", "confirm", "q")
NUMERIC = {"page", "per_page", "store_id", "product_id", "product", "user_id", "supplier_id",
           "to_store_id", "quantity", "sale_price", "cost", "reorder_level", "unit_price",
           "unit_cost", "ttl_days", "cover_days", "stores", "entity_id"}
HUGE = "9" * 25

# (name, value for a text field, value for a numeric field); None leaves the field out.
TEXT_VARIANTS = {
    "nul": ("a\x00b", "1\x00"),
    "control": ("a\x1b[2J\r\nSet-Cookie: x=1\x07", "\x081"),
    "long": ("x" * 10_000, "9" * 10_000),
    "huge": ("", HUGE),
    # A repeated field: forms read the first value, so it must be the refused one.
    "wrong_type": (["", "a"], ["x", "1"]),
}
JSON_BODIES = {
    "deep_list": "[" * 50_000,
    "deep_object": '{"a":' * 20_000 + "1" + "}" * 20_000,
    "not_an_object": "[1, 2, 3]",
    "lone_surrogate": '{"name": "\\ud800", "username": "\\udfff"}',
    "nul_escape": '{"name": "a\\u0000b", "q": "\\u0000"}',
}
PAGE_JSON_BODIES = {name: JSON_BODIES[name] for name in ("deep_list", "not_an_object")}
JSON_VALUES = {
    "nul": "a\x00b", "control": "\x1b[31m", "long": "x" * 10_000, "huge": 10**20,
    "negative_huge": -(10**20), "bigint": 2**63, "float": 1e308, "list": [1, [2]],
    "object": {"$gt": ""}, "bool": True, "surrogate": "\ud800",
}
# Endpoints that act without any input, so a request to them is a legitimate write whatever
# junk comes with it (the sweep still checks they do not fail).
NO_INPUT_WRITES = {"auth.logout", "auth.logout_everywhere", "catalog.archive"}
# Bytes that are not UTF-8, percent-encoded into a query string or a form body.
NOT_UTF8 = "%FF%FE%C0%80"
# Uploaded file names: a NUL and a header break; a long path that climbs out.
HOSTILE_FILENAMES = ("a\x00b\r\nSet-Cookie: x=1.csv", "../" * 40 + "x" * 3000 + ".xlsx")


def not_utf8_query(names):
    return "&".join(f"{name}={NOT_UTF8}" for name in names)


def hostile_upload(name):
    """A multipart body: a file of junk bytes under a hostile name, the import's `kind`, and a
    NUL in `note` (without any field, an edit form would rightly save its blanks)."""
    return {"kind": "products", "note": "\x00",
            "file": (io.BytesIO(b"\xff\xfe\x00sku,name\n\x00,\xff\n"), name)}


def rows():
    """What a request may not change, in one query: every business table's row count, the
    stock on hand, and every audit event except failed logins (refused logins are recorded on
    purpose)."""
    counted = [StockMovement, StockLevel, Product, Store, Supplier, User, ApiToken,
               IdempotencyRecord, SyncJob]
    columns = [select(func.count()).select_from(m).scalar_subquery() for m in counted]
    # Outbox and log together: a drain moves events from one to the other.
    columns.append(sum(select(func.count()).select_from(m).where(m.action != "user.login_failed")
                       .scalar_subquery() for m in (AuditOutbox, AuditLog)))
    columns.append(select(func.sum(StockLevel.quantity)).scalar_subquery())
    return tuple(db.session.execute(select(*columns)).one())


@pytest.fixture
def world(app):
    return build_world()


def build_world():
    a, b = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    product = make_product(sku="ATTA-10", name="Atta", unit="pack", barcode="8961000000011")
    for store in (a, b):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=20))
    users = {"shopkeeper": make_user("shopkeeper", [a], username="dukan"),
             "manager": make_user("manager", username="manager"),
             "admin": make_user("admin", username="admin")}
    stranger = make_user("manager", username="stranger")
    token = accounts.issue_token(ADMIN, stranger, "someone else's", 30)[1]
    ids = {"store_id": a.id, "product_id": product.id, "supplier_id": make_supplier().id,
           "user_id": stranger.id, "token_id": token.id, "queue": "default",
           "job_id": "no-such-job",
           # Sales, orders and basket lines that do not exist: each route must still refuse
           # hostile input (or answer 404), never 500.
           "sale_id": 999_999, "order_id": 999_999, "index": 0}
    return {"ids": ids, "a": a.id, "b": b.id, "p": product.id, "users": users}


def fresh(client):
    """Tests share one app context, so Flask-Login's user in g must be dropped per request."""
    g.pop("_login_user", None)
    return client


def page_clients(app, world):
    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            fresh(client)
            response = client.post("/login", data={"username": role if role != "shopkeeper"
                                                   else "dukan", "password": PASSWORD})
            assert response.status_code == 303, role
        clients[role] = client
    return clients


def routes(app, api):
    """(endpoint, method, url) for every route of the pages (api=False) or the API."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static" or rule.rule.startswith("/api/") != api:
                continue
            # An argument the world has no id for (a new route's): one that does not exist.
            values = {name: app.config["SWEEP_IDS"].get(name, 999_999)
                      for name in rule.arguments}
            url = url_for(rule.endpoint, **values)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method, url))
    return sorted(found)


def form_data(variant, world):
    text, number = TEXT_VARIANTS[variant]
    data = {name: number if name in NUMERIC else text for name in FIELDS}
    data[f"count-{world['p']}"] = number
    return data


def query(variant):
    text, number = TEXT_VARIANTS[variant]
    return {name: number if name in NUMERIC else text for name in PARAMS}


class Sweep:
    """Sends requests, collecting every 5xx at once and checking for writes per group (one
    route as one role), so the check costs two queries a group, not two a request."""

    def __init__(self):
        self.failures = []
        self.sent = 0

    def send(self, label, call):
        g.pop("_login_user", None)  # the test app context outlives each request
        self.sent += 1
        try:
            status = call().status_code
        except Exception as error:  # an exception escaping the app is as bad as a 500
            self.failures.append(f"{label}: raised {error!r}"[:300])
            db.session.rollback()
            return
        if status >= 500:
            self.failures.append(f"{label}: {status}")

    @contextmanager
    def group(self, label, may_write=False):
        before = rows()
        yield
        if not may_write and rows() != before:
            self.failures.append(f"{label}: wrote something")

    def check(self, what=""):
        print(f"hostile sweep {what}: {self.sent} requests, {len(self.failures)} failures")
        assert self.sent > 0
        assert not self.failures, f"{len(self.failures)} of {self.sent}:\n" + \
            "\n".join(self.failures[:60])


def sweep_pages(app, world, variants, roles=ROLES, with_json=True):
    app.config["SWEEP_IDS"] = world["ids"]
    clients = page_clients(app, world)
    sweep = Sweep()
    for endpoint, method, url in routes(app, api=False):
        may_write = endpoint in NO_INPUT_WRITES
        for role in roles:
            client = clients[role]
            if may_write and role != "anonymous" and method == "POST":
                continue  # it would log this client out or archive for real; nothing to refuse
            with sweep.group(f"{role} {method} {url}"):
                for variant in variants:
                    label = f"{role} {method} {url} [{variant}]"
                    if method == "GET":
                        sweep.send(label, lambda: client.get(url, query_string=query(variant)))
                    else:
                        data = form_data(variant, world)
                        sweep.send(label, lambda: client.open(url, method=method, data=data,
                                                              query_string=query(variant)))
                if method == "GET":
                    sweep.send(f"{role} GET {url} [not utf-8]", lambda: client.get(
                        url, query_string=not_utf8_query(PARAMS)))
                else:
                    # Werkzeug keeps an undecodable %FF as the text "%FF", which a form may
                    # rightly store: a NUL in `note` keeps the request from writing.
                    sweep.send(f"{role} {method} {url} [not utf-8]", lambda: client.open(
                        url, method=method, data=not_utf8_query(FIELDS) + "&note=%00",
                        content_type="application/x-www-form-urlencoded"))
                    for name in HOSTILE_FILENAMES:
                        sweep.send(f"{role} {method} {url} [upload {name[:20]!r}]",
                                   lambda: client.open(url, method=method,
                                                       data=hostile_upload(name),
                                                       content_type="multipart/form-data"))
                if method == "POST" and with_json:
                    for name, body in PAGE_JSON_BODIES.items():
                        sweep.send(f"{role} {method} {url} [json {name}]", lambda: client.open(
                            url, method=method, data=body,
                            headers={"Content-Type": "application/json"}))
                big = url.replace(f"/{world['a']}/", f"/{10**20}/").replace(
                    f"/{world['p']}/", f"/{10**20}/")
                if big != url:
                    sweep.send(f"{role} {method} {big}", lambda: client.open(big, method=method))
    return sweep


def api_templates(world):
    a, b, p = world["a"], world["b"], world["p"]
    movement = {"store_id": a, "product_id": p, "type": "sale", "quantity": "1", "note": "n"}
    return {
        "/api/v1/auth/token": {"username": "nobody", "password": "wrong-password", "name": "n",
                               "ttl_days": 1},
        "/api/v1/movements": movement,
        "/api/v1/products": {"sku": "NEW-1", "name": "N", "sale_price": "1", "barcode": "1",
                             "category": "c", "unit": "kg"},
        f"/api/v1/products/{p}": {"name": "N", "sale_price": "1"},
        "/api/v1/stores": {"code": "NEW-1", "name": "N", "city": "c"},
        f"/api/v1/stores/{a}": {"name": "N", "city": "c"},
        f"/api/v1/stores/{a}/counts": {"counts": [{"product_id": p, "quantity": "1"}],
                                       "note": "n"},
        "/api/v1/suppliers": {"name": "N", "phone": "1"},
        "/api/v1/sync": {"movements": [{"id": "c1", **movement}]},
        "/api/v1/transfers": {"from_store_id": a, "to_store_id": b, "product_id": p,
                              "quantity": "1"},
        "/api/v1/sales": {"store_id": a, "lines": [{"product_id": p, "quantity": "1"}],
                          "note": "n"},
        "/api/v1/sales/999999/void": {},
        "/api/v1/sales/999999/returns": {"lines": [{"product_id": p, "quantity": "1"}]},
        "/api/v1/purchase-orders": {"store_id": a, "supplier_id": 1,
                                    "lines": [{"product_id": p, "packs": "1"}]},
        "/api/v1/purchase-orders/999999": {"status": "sent"},
        "/api/v1/purchase-orders/999999/receipts": {"lines": [{"product_id": p,
                                                               "quantity": "1"}]},
        "/api/v1/imports": {"kind": "products", "dry_run": True},
        "/api/v1/imports/no-such-job/confirm": {},
    }


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, path + (index,))
    else:
        yield path


def replaced(value, path, new):
    copy = json.loads(json.dumps(value))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


def sweep_api(app, world, values, bodies=JSON_BODIES, text_variants=TEXT_VARIANTS):
    app.config["SWEEP_IDS"] = world["ids"]
    clients = {"anonymous": ApiClient(app)}
    for role in ("shopkeeper", "admin"):
        clients[role] = ApiClient(app, token_for(world["users"][role]))
    templates = api_templates(world)
    sweep = Sweep()

    def send_json(label, client, method, url, text):
        headers = {**client._headers(None), "Content-Type": "application/json",
                   "Idempotency-Key": "sweep"}
        sweep.send(label, lambda: client.client.open(url, method=method, data=text,
                                                     headers=headers))

    for endpoint, method, url in routes(app, api=True):
        for role, client in clients.items():
            with sweep.group(f"{role} {method} {url}"):
                if method == "GET":
                    for variant in text_variants:
                        sweep.send(f"{role} GET {url} [{variant}]",
                                   lambda: client.get(url, query_string=query(variant)))
                    continue
                if role != "anonymous":  # anonymous is refused at the door: raw bodies only
                    # A route newer than this list gets a generic body to poison.
                    template = templates.get(url, {"store_id": world["a"], "name": "N",
                                                   "amount": "1", "note": "n"})
                    for path in leaves(template):
                        for name, value in values.items():
                            send_json(f"{role} {method} {url} {'.'.join(map(str, path))}={name}",
                                      client, method, url,
                                      json.dumps(replaced(template, path, value)))
                for name, body in bodies.items():
                    send_json(f"{role} {method} {url} [json {name}]", client, method, url, body)
                send_json(f"{role} {method} {url} [json not utf-8]", client, method, url,
                          b'{"name": "\xff\xfe", "username": "\xc0"}')
                for name in HOSTILE_FILENAMES:
                    sweep.send(f"{role} {method} {url} [upload {name[:20]!r}]",
                               lambda: client.client.open(
                                   url, method=method, data=hostile_upload(name),
                                   headers=client._headers(None),
                                   content_type="multipart/form-data"))
    return sweep


# --- The whole sweep, on SQLite and on PostgreSQL ---------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request):
    """The app on either database (emptied), with the sweep's world in it."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    return request.param, app, build_world()


@pytest.mark.slow  # minutes of CPU: in `make test`, not in `make test-fast`
@pytest.mark.parametrize("role", ROLES)
def test_every_page_route_as_each_role_refuses_hostile_input(database, role):
    name, app, world = database
    sweep_pages(app, world, TEXT_VARIANTS, roles=(role,)).check(f"pages {role} {name}")


@pytest.mark.slow
def test_every_api_route_refuses_hostile_input(database):
    name, app, world = database
    sweep_api(app, world, JSON_VALUES).check(f"api {name}")


