"""The pages through the test client: who may see what, CSRF, escaping, limits, bad input."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from config import TestingConfig
from tests.factories import ADMIN, PASSWORD, login, make_product, make_store, make_supplier, make_user
from webapp import create_app
from webapp.extensions import db, limiter
from webapp.models import (
    ApiToken,
    AuditOutbox,
    Product,
    StockLevel,
    StockMovement,
    Store,
    User,
)
from webapp.services import accounts, commands, count_drafts, ledger

XSS = "<script>alert(1)</script>"


@pytest.fixture
def world(app):
    """Two stores, a product with stock in each, a supplier and one user per role."""
    a, b = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    product = make_product(sku="ATTA-10", name="Chakki Atta", unit="pack")
    for store in (a, b):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id,
                                                              type="stock_in", quantity=20))
    users = {
        "shopkeeper": make_user("shopkeeper", [a], username="dukan"),
        "manager": make_user("manager", username="manager"),
        "admin": make_user("admin", username="admin"),
    }
    other_token = accounts.issue_token(ADMIN, users["manager"], "manager's", 30)[1]
    return {"a": a.id, "b": b.id, "p": product.id, "s": make_supplier().id,
            "u": users["shopkeeper"].id, "t": other_token.id, "users": users}


def movements():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def level(store_id, product_id):
    return db.session.get(StockLevel, (store_id, product_id)).quantity


# --- the authorization matrix -----------------------------------------------------------------

ANON, SHOP, MANAGER, ADMIN_ROLE = "anonymous", "shopkeeper", "manager", "admin"
ROLES = (ANON, SHOP, MANAGER, ADMIN_ROLE)


def everyone(status):
    return {ANON: 302, SHOP: status, MANAGER: status, ADMIN_ROLE: status}


def managers(status, shopkeeper=403):
    return {ANON: 302, SHOP: shopkeeper, MANAGER: status, ADMIN_ROLE: status}


def admins(status):
    return {ANON: 302, SHOP: 403, MANAGER: 403, ADMIN_ROLE: status}


SALE = {"product_id": "{p}", "type": "sale", "quantity": "1"}

# (method, url, form data, expected status per role). Reads first, then writes.
MATRIX = [
    ("GET", "/", None, everyone(302)),
    ("GET", "/stores/", None, everyone(200)),
    ("GET", "/stores/{a}/", None, everyone(200)),
    ("GET", "/stores/{a}/?product={p}", None, everyone(200)),
    ("GET", "/stores/{a}/picker?q=atta", None, everyone(200)),
    ("GET", "/stores/{a}/stock", None, everyone(200)),
    ("GET", "/stores/{a}/count", None, everyone(200)),
    ("GET", "/stores/{a}/transfer?product={p}", None, everyone(200)),
    ("GET", "/stores/{b}/", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{b}/?product={p}", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{b}/picker?q=atta", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{b}/stock", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{b}/count", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{a}/count/review", None, everyone(200)),
    ("GET", "/stores/{b}/count/review", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/{b}/transfer", None, managers(200, shopkeeper=404)),
    ("GET", "/stores/999999/", None, managers(404, shopkeeper=404)),
    ("GET", "/history", None, everyone(200)),
    ("GET", "/history?store={a}", None, everyone(200)),
    ("GET", "/history?store={b}", None, managers(200, shopkeeper=404)),
    ("GET", "/products/", None, everyone(200)),
    ("GET", "/products/new", None, managers(200)),
    ("GET", "/products/{p}/edit", None, managers(200)),
    ("GET", "/stores/new", None, managers(200)),
    ("GET", "/stores/{a}/edit", None, managers(200)),
    ("GET", "/suppliers/", None, managers(200)),
    ("GET", "/suppliers/new", None, managers(200)),
    ("GET", "/suppliers/{s}/edit", None, managers(200)),
    ("GET", "/users/", None, admins(200)),
    ("GET", "/users/new", None, admins(200)),
    ("GET", "/users/{u}/edit", None, admins(200)),
    ("GET", "/tokens/", None, everyone(200)),
    ("POST", "/stores/{a}/movements", SALE, everyone(303)),
    ("POST", "/stores/{b}/movements", SALE, managers(303, shopkeeper=404)),
    ("POST", "/stores/{b}/count", {"count-{p}": "5", "action": "apply"},
     managers(303, shopkeeper=404)),
    ("POST", "/stores/{b}/count/review", {"version": "x"}, managers(422, shopkeeper=404)),
    ("POST", "/stores/{b}/count/discard", {}, managers(303, shopkeeper=404)),
    ("POST", "/stores/{a}/transfer", {"product": "{p}", "to_store_id": "{b}", "quantity": "1"},
     managers(303, shopkeeper=422)),
    ("POST", "/products/new", {"sku": "NEW-1", "name": "New", "unit": "piece",
                               "sale_price": "10"}, managers(303)),
    ("POST", "/products/{p}/edit", {"sku": "ATTA-10", "name": "Atta", "unit": "pack",
                                    "sale_price": "10"}, managers(303)),
    ("POST", "/stores/new", {"code": "ISB-0001", "name": "Islamabad"}, managers(303)),
    ("POST", "/stores/{b}/edit", {"code": "LHE-0001", "name": "Lahore", "active": "y"},
     managers(303)),
    ("POST", "/suppliers/new", {"name": "Metro"}, managers(303)),
    ("POST", "/users/new", {"username": "new-user", "password": "long-enough-1",
                            "role": "shopkeeper", "stores": "{a}", "active": "y"}, admins(303)),
    ("POST", "/users/{u}/edit", {"role": "shopkeeper", "stores": "{a}", "active": "y"},
     admins(303)),
    ("POST", "/tokens/", {"name": "mine", "ttl_days": "30", "password": PASSWORD},
     everyone(201)),
    ("POST", "/tokens/{t}/revoke", {}, {ANON: 302, SHOP: 404, MANAGER: 303, ADMIN_ROLE: 404}),
    ("POST", "/products/{p}/archive", {"archived": "1"}, managers(303)),
    ("POST", "/logout", {}, everyone(303)),
]


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(client, world, role):
    """Every page and action for one role; a shopkeeper gets 404 for another store's URLs."""
    if role != ANON:
        assert login(client, world["users"][role].username).status_code == 303
    wrong = []
    for method, url, data, expected in MATRIX:
        url = url.format(**world)
        form = {k.format(**world): v.format(**world) for k, v in (data or {}).items()}
        response = client.open(url, method=method, data=form)
        if response.status_code != expected[role]:
            wrong.append(f"{method} {url}: {response.status_code}, expected {expected[role]}")
        if role == ANON and response.status_code == 302:
            assert "/login" in response.headers["Location"]
    assert wrong == []


def test_a_shopkeeper_sees_only_their_stores_in_lists_and_history(client, world):
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["b"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=1))
    login(client, "dukan")
    stores = client.get("/stores/").get_data(as_text=True)
    assert "KHI-0001" in stores and "LHE-0001" not in stores
    history = client.get("/history").get_data(as_text=True)
    assert "LHE-0001" not in history and "KHI-0001" in history
    transfer = client.get(f"/stores/{world['a']}/transfer?product={world['p']}")
    assert "LHE-0001" not in transfer.get_data(as_text=True)


def test_inactive_user_cannot_log_in_and_loses_an_open_session(client, world):
    assert login(client, "dukan").status_code == 303
    accounts.update_user(ADMIN, world["u"], active=False)
    assert client.get("/stores/").status_code == 302
    response = login(client, "dukan")
    assert response.status_code == 422
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_login_redirects_only_to_local_paths(client, world):
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": "manager", "password": PASSWORD})
    assert response.headers["Location"] == "/stores/"
    client.post("/logout")
    response = client.post(f"/login?next=/stores/{world['a']}/",
                           data={"username": "manager", "password": PASSWORD})
    assert response.headers["Location"] == f"/stores/{world['a']}/"


def test_remember_me_sets_a_persistent_cookie(client, world):
    response = client.post("/login", data={"username": "dukan", "password": PASSWORD,
                                           "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("remember_token=") and "HttpOnly" in c for c in cookies)
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_shopkeeper_with_one_store_lands_on_it(client, world):
    login(client, "dukan")
    assert client.get("/").headers["Location"] == f"/stores/{world['a']}/"


def test_expired_session_on_htmx_request_redirects_the_whole_page(client, world):
    response = client.get(f"/stores/{world['a']}/stock", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"


# --- security headers, CSRF, escaping ---------------------------------------------------------

def test_security_headers_on_every_response(client, world):
    for url in ("/login", "/static/css/app.css", "/stores/", "/no-such-page"):
        headers = client.get(url).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


@pytest.fixture
def csrf_client(app):
    """A client of an app with CSRF checks on, over the same database."""
    config = type("Config", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "WTF_CSRF_ENABLED": True})
    csrf_app = create_app(config)
    with csrf_app.app_context():
        yield csrf_app.test_client()
        db.session.remove()


def _token(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_forms_without_a_csrf_token_are_refused(csrf_client, world):
    assert csrf_client.post("/login", data={"username": "dukan", "password": PASSWORD}
                            ).status_code == 400
    token = _token(csrf_client.get("/login").get_data(as_text=True))
    assert csrf_client.post("/login", data={"username": "dukan", "password": PASSWORD,
                                            "csrf_token": token}).status_code == 303
    before = movements()
    sale = {"product_id": world["p"], "type": "sale", "quantity": "1"}
    response = csrf_client.post(f"/stores/{world['a']}/movements", data=sale)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert movements() == before
    page = csrf_client.get(f"/stores/{world['a']}/?product={world['p']}").get_data(as_text=True)
    header = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = csrf_client.post(f"/stores/{world['a']}/movements", data=sale,
                                headers={"HX-Request": "true", "X-CSRFToken": header})
    assert response.status_code == 200 and movements() == before + 1


def test_product_name_with_a_script_tag_is_escaped_everywhere(client, world):
    product = make_product(sku="XSS-1", name=XSS, category=XSS, unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                          product_id=product.id, type="stock_in",
                                                          quantity=5, note=XSS))
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                          product_id=product.id, type="sale",
                                                          quantity=1))
    make_supplier(name=XSS, notes=XSS)
    login(client, "admin")
    a = world["a"]
    urls = [f"/stores/{a}/", f"/stores/{a}/?q=XSS", f"/stores/{a}/?product={product.id}",
            f"/stores/{a}/picker?q=script", f"/stores/{a}/stock", f"/stores/{a}/count",
            f"/stores/{a}/transfer?product={product.id}", f"/stores/{a}/transfer?q=script",
            "/history", f"/history?product={product.id}", "/products/", "/products/?q=script",
            f"/products/{product.id}/edit", "/suppliers/"]
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    response = client.post(f"/stores/{a}/movements", headers={"HX-Request": "true"},
                           data={"product_id": product.id, "type": "sale", "quantity": "1"})
    assert XSS not in response.get_data(as_text=True)
    client.post(f"/stores/{a}/count", data={f"count-{product.id}": "1"})
    review = client.get(f"/stores/{a}/count/review").get_data(as_text=True)
    assert XSS not in review and "&lt;script&gt;alert(1)&lt;/script&gt;" in review


# --- rate limit -------------------------------------------------------------------------------

@pytest.fixture
def limited_client(app):
    """A client of an app with the login limit on; the shared limiter is switched back after."""
    config = type("Config", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "5 per minute"})
    limited_app = create_app(config)
    with limited_app.app_context():
        limiter.reset()
        yield limited_app.test_client()
        limiter.reset()
        limiter.enabled = False
        db.session.remove()


def test_login_is_rate_limited_with_a_friendly_page(limited_client, world):
    for _ in range(5):
        assert login(limited_client, "dukan", "wrong-password").status_code == 422
    response = login(limited_client, "dukan", PASSWORD)
    assert response.status_code == 429
    assert "Too many login attempts" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers
    # Per username as well as per address: another address cannot keep guessing.
    response = limited_client.post("/login", data={"username": "DUKAN", "password": "x"},
                                   environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 429
    assert login(limited_client, "manager").status_code == 429  # same address, other user
    response = limited_client.post("/login", data={"username": "manager", "password": PASSWORD},
                                   environ_base={"REMOTE_ADDR": "10.9.9.10"})
    assert response.status_code == 303


# --- bad input: inline errors, nothing written ------------------------------------------------

def _nothing_written(check):
    before = (movements(), db.session.scalar(select(func.count()).select_from(AuditOutbox)))
    check()
    db.session.expire_all()
    assert (movements(), db.session.scalar(select(func.count()).select_from(AuditOutbox))) \
        == before


@pytest.mark.parametrize("data, message", [
    ({"quantity": "999"}, "Only 20 in stock"),
    ({"quantity": "0"}, "Quantity must be more than zero."),
    ({"quantity": "-2"}, "Quantity must be more than zero."),
    ({"quantity": "abc"}, "Quantity must be a number."),
    ({"quantity": "1.5"}, "This product is counted in whole packs."),
    ({"quantity": "1.0001"}, "Quantity can have at most 3 decimals."),
    ({"quantity": ""}, "Quantity is required."),
    ({"type": "removal", "reason": ""}, "Reason must be one of"),
    ({"type": "stock_in", "unit_cost": "-1"}, "Unit cost cannot be negative."),
    ({"type": "stock_in", "supplier_id": "987654"}, "Supplier not found"),
    ({"type": "teleport"}, "Choose sale, stock in or removal."),
    ({"note": "x" * 600, "type": "removal", "reason": "damaged"}, "at most 500 characters"),
])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_bad_movement_input_shows_an_inline_error_and_writes_nothing(client, world, data,
                                                                     message, htmx):
    login(client, "dukan")
    form = {"product_id": world["p"], "type": "sale", "quantity": "1", **data}
    headers = {"HX-Request": "true"} if htmx else {}

    def post():
        response = client.post(f"/stores/{world['a']}/movements", data=form, headers=headers)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert message in html
        assert ("<html" in html) is not htmx  # a fragment for htmx, the whole page without JS
        assert "HX-Trigger" not in response.headers

    _nothing_written(post)
    assert level(world["a"], world["p"]) == Decimal(20)


def test_a_good_sale_answers_htmx_with_the_new_level_and_a_trigger(client, world):
    login(client, "dukan")
    response = client.post(f"/stores/{world['a']}/movements", headers={"HX-Request": "true"},
                           data={"product_id": world["p"], "type": "sale", "quantity": "3"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "stock-changed" in response.headers["HX-Trigger"]
    movement = db.session.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
    # Unit, amount (3 × Rs 100), level and the entry number: a second sale reads differently.
    assert 'data-quantity="17"' in html
    assert (f"Sold 3 pack Chakki Atta = Rs 300 · 17 pack left · entry {movement.id}") in html
    assert level(world["a"], world["p"]) == Decimal(17)


def test_the_htmx_answer_to_a_sale_builds_the_panel_only(app, client, world):
    login(client, "dukan")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = client.post(f"/stores/{world['a']}/movements", headers={"HX-Request": "true"},
                               data={"product_id": world["p"], "type": "sale", "quantity": "1"})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 200 and 'id="panel"' in response.get_data(as_text=True)
    assert statements and not [s for s in statements if "count(" in s]  # no stock-list page


def test_a_retried_post_with_the_same_key_sells_once(client, world):
    login(client, "dukan")
    form = {"product_id": world["p"], "type": "sale", "quantity": "2", "key": "tap-1"}
    for _ in range(2):
        assert client.post(f"/stores/{world['a']}/movements", data=form).status_code == 303
    assert level(world["a"], world["p"]) == Decimal(18)


@pytest.mark.parametrize("url, data, message", [
    ("/products/new", {"sku": "", "name": "X", "sale_price": "1"}, "SKU is required."),
    ("/products/new", {"sku": "atta-10", "name": "X", "sale_price": "1"},
     "Another product already has this SKU."),
    ("/products/new", {"sku": "N-1", "name": "X", "sale_price": "1.234"}, "at most 2 decimals"),
    ("/products/new", {"sku": "N-1", "name": "X", "sale_price": "1", "unit": "barrel"},
     "Unit must be one of"),
    ("/stores/new", {"code": "bad code!", "name": "X"}, "Code may use letters"),
    ("/stores/new", {"code": "KHI-0001", "name": "X"}, "Another store already has this code."),
    ("/suppliers/new", {"name": ""}, "Name is required."),
    ("/users/new", {"username": "x y", "password": "long-enough-1", "role": "shopkeeper"},
     "Username may use letters"),
    ("/users/new", {"username": "new", "password": "short", "role": "shopkeeper"},
     "at least 10 characters"),
    ("/users/new", {"username": "DUKAN", "password": "long-enough-1", "role": "shopkeeper"},
     "This username is taken."),
    ("/tokens/", {"name": "", "ttl_days": "30", "password": PASSWORD}, "Name is required."),
    ("/tokens/", {"name": "x", "ttl_days": "0"}, "At least 1 day."),
    ("/tokens/", {"name": "x", "ttl_days": "366", "password": PASSWORD},
     "A token lives between 1 and 365 days."),
])
def test_bad_catalog_and_account_input_shows_inline_errors(client, world, url, data, message):
    login(client, "admin")
    counts = lambda: [db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
                      for model in (Product, Store, User, ApiToken)]
    before = counts()
    response = client.post(url, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'class="error-text"' in html or 'class="form-error"' in html
    assert counts() == before


def test_bad_count_lines_are_shown_per_product_and_nothing_is_applied(client, world):
    login(client, "dukan")
    before = movements()
    response = client.post(f"/stores/{world['a']}/count",
                           data={f"count-{world['p']}": "-1", "action": "review"})
    assert response.status_code == 422
    assert "Count cannot be negative." in response.get_data(as_text=True)
    response = client.post(f"/stores/{world['a']}/count/review", data={"version": "x"})
    assert response.status_code == 422
    assert "Nothing is counted yet" in response.get_data(as_text=True)
    assert movements() == before


def test_count_review_then_apply_keeps_sales_made_during_the_count(client, world):
    """The count is compared with the level when it was typed (20); a sale rung up after
    that stays recorded, and the difference is applied to the level now."""
    login(client, "dukan")
    a, p = world["a"], world["p"]
    saved = client.post(f"/stores/{a}/count", data={f"count-{p}": "15", "action": "review"})
    assert saved.status_code == 303
    review = client.get(f"/stores/{a}/count/review")
    assert review.status_code == 200 and "-5" in review.get_data(as_text=True)
    assert movements() == 2
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=a, product_id=p, type="sale",
                                                          quantity=2))
    version = count_drafts.review(a)["version"]
    response = client.post(f"/stores/{a}/count/review", data={"version": version},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Count applied: 1 adjustment" in html and "Stock moved while you were counting" in html
    assert level(a, p) == Decimal(13)


def test_transfer_errors_are_inline(client, world):
    login(client, "manager")
    a, b, p = world["a"], world["b"], world["p"]
    for data, message in (
            ({"to_store_id": str(a), "quantity": "1"}, "Choose two different stores."),
            ({"to_store_id": "", "quantity": "1"}, "Choose the store to send to."),
            ({"to_store_id": str(b), "quantity": "500"}, "Only 20 in stock"),
            ({"to_store_id": "424242", "quantity": "1"}, "Choose one of the stores listed.")):
        before = movements()
        response = client.post(f"/stores/{a}/transfer", data={"product": p, **data})
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True)
        assert movements() == before
    response = client.post(f"/stores/{a}/transfer",
                           data={"product": p, "to_store_id": b, "quantity": "4"})
    assert response.status_code == 303
    assert (level(a, p), level(b, p)) == (Decimal(16), Decimal(24))


def test_history_filters_and_bad_dates(client, world):
    login(client, "manager")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=1))
    html = client.get(f"/history?store={world['a']}&type=sale").get_data(as_text=True)
    assert html.count("data-movement-id") == 1
    html = client.get("/history?type=stock_in").get_data(as_text=True)
    assert html.count("data-movement-id") == 2
    html = client.get("/history?sku=atta-10").get_data(as_text=True)
    assert html.count("data-movement-id") == 3
    response = client.get("/history?date_from=2026-02-30")
    assert response.status_code == 422 and "Not a valid date value." in response.get_data(
        as_text=True)
    response = client.get("/history?date_from=2026-05-02&date_to=2026-05-01")
    assert response.status_code == 422
    assert "The start date is after the end date." in response.get_data(as_text=True)
    response = client.get("/history?sku=NOPE")
    assert response.status_code == 422 and "No product has this SKU" in response.get_data(
        as_text=True)


# --- live refresh -----------------------------------------------------------------------------

def test_stock_list_answers_304_until_the_store_changes(client, world):
    login(client, "dukan")
    url = f"/stores/{world['a']}/stock?page=1"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert f"data-etag='{etag}'" in first.get_data(as_text=True)
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    # The answer a phone gets every 4 s stays small: no document headers (RFC 9110 §15.4.5),
    # but still never stored.
    assert "Content-Security-Policy" not in unchanged.headers
    assert unchanged.headers["Cache-Control"] == "no-store"
    # A change in another store does not wake this one.
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["b"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=1))
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=1))
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and 'data-quantity="19"' in changed.get_data(as_text=True)


def test_negative_and_low_levels_are_flagged(client, world):
    from webapp.services import catalog

    catalog.update_store(ADMIN, world["a"], {"allow_negative_stock": True})
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=25))
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["b"],
                                                          product_id=world["p"], type="sale",
                                                          quantity=16))
    login(client, "manager")
    home = client.get(f"/stores/{world['a']}/").get_data(as_text=True)
    assert 'data-quantity="-5"' in home and "badge-negative" in home
    other = client.get(f"/stores/{world['b']}/").get_data(as_text=True)
    assert 'data-quantity="4"' in other and "badge-low" in other


def test_history_is_paginated(client, world):
    for _ in range(55):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=world["a"],
                                                              product_id=world["p"],
                                                              type="stock_in", quantity=1))
    login(client, "dukan")
    first = client.get(f"/history?store={world['a']}").get_data(as_text=True)
    assert first.count("data-movement-id") == 50 and "page=2" in first
    second = client.get(f"/history?store={world['a']}&page=2").get_data(as_text=True)
    assert second.count("data-movement-id") == 6 and "page=3" not in second


def test_history_filters_by_user(client, world):
    login(client, "dukan")
    client.post(f"/stores/{world['a']}/movements",
                data={"product_id": world["p"], "type": "sale", "quantity": "1"})
    client.post("/logout")
    login(client, "manager")
    mine = client.get(f"/history?user={world['u']}").get_data(as_text=True)
    assert mine.count("data-movement-id") == 1 and "dukan" in mine
    nobody = client.get(f"/history?user={world['users']['admin'].id}").get_data(as_text=True)
    assert nobody.count("data-movement-id") == 0


def test_archived_products_leave_the_picker_but_keep_their_history(client, world):
    login(client, "manager")
    assert "Chakki Atta" in client.get(f"/stores/{world['a']}/picker?q=atta").get_data(
        as_text=True)
    client.post(f"/products/{world['p']}/archive", data={"archived": "1"})
    assert "Chakki Atta" not in client.get(f"/stores/{world['a']}/picker?q=atta").get_data(
        as_text=True)
    assert "Chakki Atta" in client.get("/products/?archived=1").get_data(as_text=True)
    assert client.get(f"/history?product={world['p']}").get_data(as_text=True).count(
        "data-movement-id") == 2
    client.post(f"/products/{world['p']}/archive", data={"archived": "0"})
    assert "Chakki Atta" in client.get("/products/").get_data(as_text=True)


# --- date shortcuts and folded filters (managers' pages) ----------------------------------------

def test_history_date_shortcuts_keep_the_other_filters(client, world, monkeypatch):
    from datetime import date

    from webapp.services import reports

    monkeypatch.setattr(reports, "today", lambda: date(2026, 11, 29))  # a Sunday
    login(client, "manager")
    html = client.get(f"/history?store={world['a']}&type=sale&page=2").get_data(as_text=True)
    links = dict((label, href) for href, label in re.findall(
        r'<a href="([^"]+)"[^>]*>(Today|Yesterday|This week|This month)</a>', html))
    assert links["Today"] == \
        f"/history?store={world['a']}&amp;type=sale&amp;date_from=2026-11-29&amp;date_to=2026-11-29"
    assert "date_from=2026-11-28&amp;date_to=2026-11-28" in links["Yesterday"]
    assert "date_from=2026-11-23&amp;date_to=2026-11-29" in links["This week"]  # from Monday
    assert "date_from=2026-11-01&amp;date_to=2026-11-29" in links["This month"]
    chosen = client.get(links["This week"].replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(r'aria-current="true">This week<', chosen)


@pytest.mark.parametrize("url", ["/reports/sales", "/reports/movements", "/reports/stock",
                                 "/reports/low-stock", "/reports/valuation", "/audit/"])
def test_manager_pages_fold_their_filters_and_say_what_is_chosen(client, world, url):
    login(client, "manager")
    html = client.get(url).get_data(as_text=True)
    fold = re.search(r'<details class="fold" data-fold>\s*<summary>(.*?)</summary>', html, re.S)
    assert fold, url
    assert re.sub(r"<[^>]+>|\s+", " ", fold.group(1)).split()[0] == "Filters"
    start = html.index('class="fold"')
    assert html.index('<form method="get"', start) < html.index("</details>", start)
    dated = url in ("/reports/sales", "/reports/movements", "/audit/")
    assert ('class="date-shortcuts"' in html) == dated, url
