"""Urdu: a complete catalogue, every page right to left with no English interface string left,
one number parser, one rupee and time format, Urdu CSV headings, the language switch."""
import csv
import functools
import io
import re
from datetime import datetime, timezone
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale, refresh

from i18n import merge_pending
from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import User
from webapp.services import closing, commands, imports, khata, ledger, purchasing, sales
from webapp.services.audit import Actor
from webapp.services.errors import DomainError
from webapp.services.validation import parse_money, parse_quantity
from webapp.web import filters

PASSWORD = "password-123"


# --- the catalogue ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template():
    return merge_pending.extract()


def test_every_msgid_has_its_urdu_including_the_pending_files(template):
    """Extract every msgid; the Urdu catalogue plus i18n/pending/*.po must translate them all."""
    catalogue = merge_pending.read(merge_pending.CATALOGUE)
    conflicts = merge_pending.merge(template, catalogue, merge_pending.pending_catalogues())
    assert merge_pending.missing(catalogue) == [], "msgids without Urdu (run make translations)"
    assert merge_pending.placeholder_problems(catalogue) == []
    # A pending file never overwrites Urdu the catalogue already has: the difference is
    # reported as a conflict and the catalogue's wording is the one kept.
    kept = {merge_pending._key(m): m.string for m in catalogue if m.id}
    assert all(kept[msgid] == ours != theirs for _, msgid, ours, theirs in conflicts)


def test_the_committed_catalogue_is_merged_already(template):
    """The .po in the repository itself (not only after a merge) covers every msgid."""
    catalogue = merge_pending.read(merge_pending.CATALOGUE)
    ours = {merge_pending._key(m) for m in catalogue if m.id and merge_pending._translated(m)}
    wanted = {merge_pending._key(m) for m in template if m.id}
    assert sorted(wanted - ours) == []


def test_pending_files_are_real_urdu_with_the_same_placeholders():
    for name, extra in merge_pending.pending_catalogues().items():
        for message in extra:
            if not message.id:
                continue
            assert merge_pending._translated(message), f"{name}: {message.id!r} has no msgstr"
            strings = [message.string] if isinstance(message.string, str) else message.string
            words = re.sub(r"%\(\w+\)[sd]", "", message.id if isinstance(message.id, str)
                           else message.id[0])
            # Layout strings ("%(a)s × %(b)s") and acronyms ("CSV") have no word to translate.
            if re.search("[a-z]", words):
                assert all(re.search("[\u0600-\u06ff]", s) for s in strings), (name, message.id)
        assert merge_pending.placeholder_problems(extra) == [], name


def test_a_missing_translation_is_caught(template, tmp_path):
    catalogue = merge_pending.read(merge_pending.CATALOGUE)
    merge_pending.merge(template, catalogue, {})
    catalogue.add("A brand new button", "")
    assert merge_pending.missing(catalogue) == ["A brand new button"]
    pending = tmp_path / "feature.po"
    pending.write_text('msgid "A brand new button"\nmsgstr "ایک نیا بٹن"\n', encoding="utf-8")
    merge_pending.merge(template, catalogue, merge_pending.pending_catalogues(tmp_path))
    assert catalogue.get("A brand new button") is None  # not in the code: dropped on update


# --- numbers people type ----------------------------------------------------------------------

@pytest.mark.parametrize("typed, value", [
    ("1.5", "1.5"), ("۱٫۵", "1.5"), ("١٫٥", "1.5"), ("۱.۵", "1.5"), ("١٢", "12"),
    ("۰٫۲۵۰", "0.25"), ("1,5", "1.5"), ("12,25", "12.25"), ("0,500", "0.5"), (" 2 ", "2"),
    ("\u00a07\u200f", "7"), ("+3", "3"), ("1500", "1500"), (".5", "0.5"), ("٫٥", "0.5"),
])
def test_quantities_in_every_digit_system(typed, value):
    assert parse_quantity(typed) == Decimal(value)


@pytest.mark.parametrize("typed, words", [
    ("1,500", "1500 or 1.5"), ("۱,۵۰۰", "1500 or 1.5"), ("1e2", "exponent"), ("1E-3", "exponent"),
    ("1 500", "without spaces"), ("-1", "more than zero"), ("-۱", "more than zero"),
    ("1.2345", "at most 3 decimals"), ("1,234.5", "thousands separators"),
    ("1,2,3", "thousands separators"), ("abc", "must be a number"), ("", "is required"),
    ("NaN", "must be a number"), ("Infinity", "must be a number"), ("0x10", "must be a number"),
    ("1.5.2", "must be a number"), ("٣٫٣٣٣٣", "at most 3 decimals"),
])
def test_bad_quantities_get_a_clear_field_error(typed, words):
    with pytest.raises(DomainError) as error:
        parse_quantity(typed, field="quantity")
    assert words in error.value.message and error.value.fields == {"quantity": error.value.message}


def test_money_uses_the_same_reading():
    assert parse_money("۱۵۰٫۵۰", "sale_price", "Sale price") == Decimal("150.50")
    assert parse_money("150,5", "sale_price", "Sale price") == Decimal("150.50")
    with pytest.raises(DomainError, match="2 decimals"):
        parse_money("1.005", "sale_price", "Sale price")
    with pytest.raises(DomainError, match="cannot be negative"):
        parse_money("-5", "sale_price", "Sale price")


def test_the_urdu_error_says_what_to_write(app):
    with app.test_request_context(headers={"Accept-Language": "ur"}):
        refresh()  # the app fixture keeps one app context (and its cached locale)
        from webapp.web.i18n import translate
        with pytest.raises(DomainError) as error:
            parse_quantity("1,500")
        text = translate(error.value.message)
        assert "مقدار" in text and "1500" in text and "1.5" in text and "Quantity" not in text


# --- money, numbers and time ------------------------------------------------------------------

@pytest.mark.parametrize("grouping, value, shown", [
    ("lakh", "2965200.52", "Rs 29,65,200.52"), ("thousands", "2965200.52", "Rs 2,965,200.52"),
    ("lakh", "150", "Rs 150"), ("lakh", "150.5", "Rs 150.50"), ("lakh", "12345678", "Rs 1,23,45,678"),
    ("lakh", "-1500", "Rs -1,500"),
])
def test_one_rupee_format_with_the_organisations_grouping(app, grouping, value, shown):
    app.config["MONEY_GROUPING"] = grouping
    try:
        with app.test_request_context():
            refresh()  # the app fixture keeps one app context (and its cached locale)
            assert filters.rupees(Decimal(value)) == shown
        with app.test_request_context(headers={"Accept-Language": "ur"}):
            refresh()  # the app fixture keeps one app context (and its cached locale)
            assert filters.rupees(Decimal(value)) == shown.removeprefix("Rs ") + " روپے"
    finally:
        app.config["MONEY_GROUPING"] = "lakh"


def test_times_are_pakistan_time_with_urdu_month_names(app):
    moment = datetime(2026, 11, 24, 2, 34, tzinfo=timezone.utc)
    with app.test_request_context():
        refresh()  # the app fixture keeps one app context (and its cached locale)
        assert filters.pakistan_time(moment) == "24 Nov 2026, 07:34"
        assert filters.pakistan_time(moment, "%d %b %Y") == "24 Nov 2026"
    with app.test_request_context(headers={"Accept-Language": "ur"}):
        refresh()  # the app fixture keeps one app context (and its cached locale)
        assert filters.pakistan_time(moment) == "24 نومبر 2026، 07:34"
        assert filters.day(moment.date()) == "24 نومبر 2026"


# --- every page in Urdu -----------------------------------------------------------------------

@pytest.fixture
def shop(app):
    store = make_store(code="KHI-0001", name="مدینہ کریانہ")
    other = make_store(code="LHE-0001", name="لاہور اسٹور")
    sugar = make_product(sku="CHEENI", name="چینی کھلی", unit="kg", reorder_level="30",
                         cost="120")
    rice = make_product(sku="CHAWAL-BAS", name="باسمتی چاول", unit="kg")
    supplier = make_supplier(name="میٹرو")
    for product, quantity in ((sugar, 10), (rice, 50)):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                               type="stock_in", quantity=quantity, supplier_id=supplier.id))
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=sugar.id, type="sale",
                           quantity=2))
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=rice.id, type="removal",
                           quantity=1, reason="damaged"))
    users = {role: make_user(role, [store, other] if role == "shopkeeper" else (),
                             username=name)
             for role, name in (("shopkeeper", "dukan"), ("manager", "manager"),
                                ("admin", "admin"))}
    for user in users.values():
        user.language = "ur"
    db.session.commit()
    keeper = Actor(user_id=users["shopkeeper"].id, source="web", ip="127.0.0.1")
    sale = sales.complete_sale(keeper, store_id=store.id, lines=[
        {"product_id": rice.id, "quantity": "2.5"}])
    sales.return_lines(keeper, sale.data["sale"]["id"],
                       lines=[{"product_id": rice.id, "quantity": 1}])
    order = purchasing.create_order(ADMIN, users["manager"], store_id=store.id,
                                    supplier_id=supplier.id,
                                    lines=[{"product_id": sugar.id, "packs": "2"}])
    manager = Actor(user_id=users["manager"].id, source="web", ip="127.0.0.1")
    job = imports.check(manager, "products", "sku,name,unit,sale price\nNAMAK,نمک,kg,60\n".encode(),
                        "products.csv")
    customer = khata.create_customer(keeper, users["shopkeeper"], store_id=store.id,
                                     name="عاصف", phone="0300 1234567").data["customer"]
    daal = make_product(sku="DAAL", name="دال", unit="piece", sale_price="100")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=daal.id,
                                                          type="stock_in", quantity=5))
    sales.complete_sale(keeper, store_id=store.id, customer_id=customer["id"],
                        lines=[{"product_id": daal.id, "quantity": 1}],
                        payments=[{"method": "credit", "amount": "100"}])
    khata.receive_payment(keeper, users["shopkeeper"], customer["id"], amount="40",
                          method="wallet")
    closed = closing.close_day(keeper, users["shopkeeper"], store.id,
                               counted_cash="0").data["closing"]
    webhook = _webhook_with_a_failed_delivery()
    return {"store": store.id, "other": other.id, "sugar": sugar.id, "rice": rice.id,
            "supplier": supplier.id, "users": {r: u.id for r, u in users.items()},
            "sale": sale.data["sale"]["id"], "order": order.id, "job": job,
            "customer": customer["id"], "closing": closed["id"], "webhook": webhook}


def _webhook_with_a_failed_delivery():
    """An endpoint (for an event nothing sends yet) and one failed delivery to list."""
    from flask import current_app
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models.types import utcnow
    from webapp.services import webhooks

    current_app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    try:
        endpoint, _ = webhooks.register(ADMIN, "http://127.0.0.1:9/hook", ["stock.expiring"])
    finally:
        current_app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    now = utcnow()
    db.session.execute(insert(webhooks.DELIVERIES).values(
        id="00000000-0000-4000-8000-000000000001", endpoint_id=endpoint["id"],
        event="stock.expiring", body="{}", status="failed", attempts=9, next_attempt_at=now,
        last_status=500, last_error="HTTP 500: Internal Server Error", created_at=now))
    db.session.commit()
    return endpoint["id"]


def login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]


# Query-string variants worth a look beyond each route's bare URL.
VARIANTS = {
    "dukan": ["/stores/{store}/?product={sugar}", "/stores/{store}/?q=zzz",
              "/stores/{store}/count?q=zzz", "/stores/{store}/transfer?product={sugar}",
              "/history?product={sugar}", "/no-such-page"],
    "manager": ["/reports/stock?store=NOPE", "/products/?archived=1",
                "/reports/sales?by=product", "/reports/low-stock?store_id={store}"],
    "admin": [],
}
IMPORT_COLUMNS = ["Sale price", "Reorder level", "Pack size", "Store code", "Name", "Category",
                  "Unit", "Cost", "Barcode", "Supplier", "Quantity"]
# Routes whose answer is not a page a person reads in the interface language.
NOT_PAGES = {"static", "offline.manifest", "offline.service_worker", "offline.catalog",
             "offline.customers",
             "offline.session", "ops.healthz", "ops.readyz", "ops.prometheus_metrics",
             "imports.progress", "imports.refused_csv", "purchasing.order_csv",
             "auth.login"}


def pages(app, shop):
    """Every page route of the app (its URL map, so a new page cannot be missed), with the
    shop's ids filled in, for each role; plus a few query-string variants."""
    from flask import url_for
    ids = {"store_id": shop["store"], "product_id": shop["sugar"],
           "supplier_id": shop["supplier"], "user_id": shop["users"]["shopkeeper"],
           "sale_id": shop["sale"], "order_id": shop["order"], "job_id": shop["job"],
           "customer_id": shop["customer"], "closing_id": shop["closing"],
           "endpoint_id": shop["webhook"]}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if (rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/")
                    or "GET" not in rule.methods or rule.rule.endswith(".csv")):
                continue
            urls.append(url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments}))
    return {user: sorted(urls) + [v.format(**shop) for v in VARIANTS[user]] for user in VARIANTS}


class Visible(HTMLParser):
    """The text a person sees (and hears: aria-label, placeholder), element by element."""

    SKIP = {"script", "style", "pre", "bdi", "code"}

    def __init__(self):
        super().__init__()
        self.texts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title") and value:
                self.texts.append(value)
            if name == "value" and tag == "option":
                continue

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(" ".join(data.split()))


def english_phrases(template):
    """Every msgid, split at its placeholders, as the phrases that must not show in Urdu."""
    phrases = set()
    for message in template:
        for msgid in ([message.id] if isinstance(message.id, str) else message.id):
            for piece in re.split(r"%\(\w+\)[sd]|\{\w*\}", msgid or ""):
                piece = piece.strip(" .,:;·—()“”/×→←…")
                if re.search(r"[A-Za-z]{2}", piece) and not re.fullmatch(r"[A-Z0-9_ -]+", piece):
                    phrases.add(piece)
    return phrases


# What may stay in Latin letters on an Urdu page: data and codes, not interface words.
ALLOWED = {"SKU", "API", "CSV", "PKT", "Rs", "English", "Kiryana", "e.g. ATTA-10"}


@functools.cache
def _matcher(phrases):
    """One regex for every phrase of a word or more (a loop of ~700 searches per text thrashed
    re's cache and took minutes), and the set of short ones that count only as a whole text."""
    long = sorted((p for p in phrases if p not in ALLOWED and (" " in p or len(p) > 3)),
                  key=len, reverse=True)
    assert long, "no phrases to look for: the check would pass anything"
    pattern = re.compile(r"(?<![A-Za-z_.])(?:%s)(?![A-Za-z_])" % "|".join(map(re.escape, long)))
    return pattern, {p for p in phrases if p not in ALLOWED and p not in long}


def untranslated(html, phrases, data):
    pattern, short = _matcher(frozenset(phrases))
    parser = Visible()
    parser.feed(html)
    found = []
    for text in parser.texts:
        bare = text
        for value in data:
            bare = bare.replace(value, " ")
        found += [(hit, text) for hit in pattern.findall(bare)]
        if bare.strip() in short:
            found.append((bare.strip(), text))
    return found


def test_every_page_in_urdu_is_right_to_left_with_no_english_interface_string(
        app, client, shop, template):
    phrases = english_phrases(template)
    data = ["KHI-0001", "LHE-0001", "CHEENI", "CHAWAL-BAS", "dukan", "manager", "admin",
            "English", "zzz", "NOPE", "Authorization: Bearer <token>"]
    problems = {}
    swept = pages(app, shop)
    assert len(swept["dukan"]) > 40  # the URL map, not a hand-written list
    for username, urls in swept.items():
        client.post("/logout")
        login(client, username)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 302, 303, 403, 404, 422), \
                (username, url, response.status_code)
            if response.status_code in (302, 303, 403):
                continue  # not this role's page (or a step that sends on): nothing to read
            html = response.get_data(as_text=True)
            # A fragment (the pickers) has no <html>; its words are checked all the same.
            assert "<html" not in html or '<html lang="ur" dir="rtl">' in html, url
            assert '<div id="page"' not in html or '<div id="page" lang="ur" dir="rtl">' in html, url
            # The audit filter's examples are the log's own codes (entity "product").
            extra = ["product"] if url == "/audit/" else []
            if url.startswith("/imports/"):
                # A file's column headings are read in English: the page names them as they
                # must be written (data, like an SKU); and the uploaded file's name.
                extra = IMPORT_COLUMNS + ["products.csv"]
            found = untranslated(html, phrases, data + extra)
            if found:
                problems[url] = found
    client.post("/logout")
    response = client.get("/login", headers={"Accept-Language": "ur"})
    assert '<html lang="ur" dir="rtl">' in response.get_data(as_text=True)
    found = untranslated(response.get_data(as_text=True), phrases, data)
    if found:
        problems["/login"] = found
    assert problems == {}


def test_the_check_would_catch_an_english_string(template):
    phrases = english_phrases(template)
    assert untranslated("<p>Receive stock</p>", phrases, [])
    assert untranslated('<input placeholder="Filter products">', phrases, [])
    assert not untranslated("<p>مال وصول کریں</p><bdi>CHEENI</bdi>", phrases, [])


def test_inline_errors_and_flashes_are_urdu(app, client, shop):
    login(client, "dukan")
    url = f"/stores/{shop['store']}/movements"
    page = client.get(f"/stores/{shop['store']}/?product={shop['sugar']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    form = {"product_id": shop["sugar"], "type": "sale", "quantity": "1,500"}
    if token:
        form["csrf_token"] = token.group(1)
    html = client.post(url, data=form).get_data(as_text=True)
    assert "1500" in html and "مقدار" in html and "could mean" not in html
    html = client.post(url, data=dict(form, quantity="۱٫۵"), follow_redirects=True)
    text = html.get_data(as_text=True)
    assert "فروخت" in text and "6.5" in text
    html = client.post(url, data=dict(form, quantity="500")).get_data(as_text=True)
    assert "اسٹاک میں صرف" in html and "Only" not in html


# --- CSV in Urdu ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, heading", [
    ("/reports/low-stock.csv", "تجویز کردہ آرڈر"), ("/reports/stock.csv", "دکان کا کوڈ"),
    ("/reports/valuation.csv", "لاگت پر مالیت"), ("/reports/sales.csv?by=product", "مقدار"),
    ("/reports/movements.csv", "مالیت"),
])
def test_csv_exports_in_urdu_have_urdu_headings_and_keep_the_bom(client, shop, path, heading):
    login(client, "manager")
    body = client.get(path).get_data()
    assert body.startswith("\ufeff".encode())
    header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert heading in header and not any(re.search("[a-z]{3}", h) for h in header), header


def test_csv_headings_stay_english_codes_in_english(client, shop):
    with db.session.begin_nested():
        db.session.get(User, shop["users"]["manager"]).language = "en"
    db.session.commit()
    login(client, "manager")
    body = client.get("/reports/low-stock.csv").get_data().decode("utf-8-sig")
    assert body.splitlines()[0].startswith("store_code,store_name,sku")


# --- the language switch ----------------------------------------------------------------------

def test_switch_before_login_sets_a_cookie(client, app):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page and 'value="ur"' in page
    response = client.post("/language", data={"lang": "ur", "next": "/login"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert "lang=ur" in response.headers["Set-Cookie"]
    assert '<html lang="ur" dir="rtl">' in client.get("/login").get_data(as_text=True)


def test_switch_after_login_is_the_users_setting(client, shop):
    login(client, "dukan")
    response = client.post("/language", data={"lang": "en", "next": "//evil.example/"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert db.session.get(User, shop["users"]["shopkeeper"]).language == "en"
    client.set_cookie("lang", "ur")  # the user's own setting wins over a cookie
    assert '<html lang="en"' in client.get("/stores/").get_data(as_text=True)
    assert client.post("/language", data={"lang": "fr"}).status_code == 400


def test_switch_needs_the_csrf_token(app, shop):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = app.test_client().post("/language", data={"lang": "ur"})
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# --- the API keeps its codes ------------------------------------------------------------------

def test_api_message_may_be_urdu_but_codes_and_fields_stay(app, shop):
    from webapp.services import accounts
    user = db.session.get(User, shop["users"]["manager"])
    token = accounts.issue_token(ADMIN, user, "pos", 30)[0]
    client = app.test_client()
    body = {"store_id": shop["store"], "product_id": shop["sugar"], "type": "sale",
            "quantity": "۱٫۵"}
    headers = {"Authorization": f"Bearer {token}"}
    ok = client.post("/api/v1/movements", json=body, headers=headers)
    assert ok.status_code == 201 and ok.json["movement"]["quantity"] == "1.500"
    english = client.post("/api/v1/movements", json=dict(body, quantity="1,500"), headers=headers)
    urdu = client.post("/api/v1/movements", json=dict(body, quantity="1,500"),
                       headers=dict(headers, **{"Accept-Language": "ur"}))
    assert english.status_code == urdu.status_code == 422
    assert english.json["error"]["code"] == urdu.json["error"]["code"] == "invalid"
    assert "could mean" in english.json["error"]["message"]
    assert set(urdu.json["error"]["fields"]) == set(english.json["error"]["fields"])
    assert "مقدار" in " ".join(urdu.json["error"]["fields"].values())


def test_force_locale_outside_a_request_is_english(app):
    with app.app_context(), force_locale("en"):
        assert filters.unit("kg") == "kg"
