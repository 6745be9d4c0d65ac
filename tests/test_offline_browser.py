"""The shop app with no signal, in Debian's Chromium at 360×640 (persistent profiles, so the
service worker, its caches and IndexedDB survive a browser restart like on a phone).

One real server (werkzeug in a thread, CSRF on) on a fresh PostgreSQL database for the module;
a byte-counting middleware tells what each load cost over the network.
"""
import json
import re
import socket
import time
from decimal import Decimal
from urllib.parse import unquote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from tests import services
from tests.factories import (
    ADMIN,
    PASSWORD,  # noqa: E402
    make_product,
    make_store,
    make_user,
)
from tests.live_site import ARTIFACTS, CHROMIUM_ARGS, VIEWPORT, live_site  # noqa: E402
from webapp.extensions import db
from webapp.models import Sale, StockLevel, StockMovement, User
from webapp.services import commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

KNOWN_EAN = "8961000000013"     # valid EAN-13 (check digit 3), Cheeni's barcode
UNKNOWN_EAN = "8961000000006"   # valid EAN-13 that no product has


class Network:
    """WSGI middleware: counts the bytes of response bodies per path, and can play "no signal".

    Chromium's offline emulation covers pages but not always their service worker; with the
    signal cut here too, every request from that browser fails at the socket, like on a phone.
    """

    def __init__(self, app):
        self.app = app
        self.sent = []
        self.cut = False

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.cut:
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return []
        for chunk in self.app(environ, start_response):
            self.sent.append((path, len(chunk)))
            yield chunk

    def reset(self):
        self.sent = []

    def total(self, exclude=()):
        return sum(n for path, n in self.sent if not any(path.startswith(x) for x in exclude))


def _fill():
    """A store, four products (one with a known barcode), two shopkeepers and a manager."""
    khi = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    products = {
        "chawal": make_product(sku="CHAWAL-BAS", name="Basmati Chawal", unit="kg"),
        "atta": make_product(sku="ATTA-10", name="Sunridge Chakki Atta 10kg", unit="pack"),
        "cheeni": make_product(sku="CHEENI", name="Cheeni (loose)", unit="kg",
                               barcode=KNOWN_EAN, sale_price="150.10"),
        "ghee": make_product(sku="GHEE-1", name="Dalda Ghee 1kg", unit="pack"),
    }
    for name, product in products.items():
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=khi.id, product_id=product.id, type="stock_in",
            quantity=5 if name == "ghee" else 50))
    users = {"dukan": make_user("shopkeeper", [khi], username="dukan"),
             "rival": make_user("shopkeeper", [khi], username="rival"),
             "urdu": make_user("shopkeeper", [khi], username="urdu"),
             "manager": make_user("manager", username="manager")}
    return {"khi": khi.id, **{k: p.id for k, p in products.items()},
           "users": {k: u.id for k, u in users.items()}}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill, middleware=Network) as site:
        site["bytes"] = site["app"].wsgi_app
        yield site


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


class Phone:
    """A persistent Chromium profile (a phone): storage survives close() and reopen()."""

    def __init__(self, playwright, site, profile, extra_args=(), service_workers="allow"):
        self.playwright, self.site, self.profile = playwright, site, profile
        self.extra_args = list(extra_args)
        self.service_workers = service_workers
        self.problems = []
        self.open()

    def open(self, offline=False):
        self.site["bytes"].cut = offline
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.profile), executable_path=services.CHROMIUM,
            args=CHROMIUM_ARGS + self.extra_args, viewport=VIEWPORT, offline=offline,
            service_workers=self.service_workers)
        self.context.set_default_timeout(8000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("console", lambda m: self.problems.append(f"{m.text} at {m.location}")
                     if m.type == "error" and not _expected_console_error(m.text) else None)

    def close(self):
        self.context.close()

    def login(self, username):
        if "/login" in self.page.url:
            # Already there (after a logout): a second navigation could abort the first.
            self.page.wait_for_load_state("load")
        else:
            self.page.goto(self.site["url"] + "/login")
        for attempt in (1, 2):
            self.page.fill("#username", username)
            self.page.fill("#password", PASSWORD)
            self.page.click("button[type=submit]")
            try:
                self.page.wait_for_url(lambda u: "/login" not in u)
                return
            except PlaywrightTimeout:
                # Under CI load the login page can load a second time after a logout (the
                # worker taking control) and lose what was typed; a wrong password fails twice.
                if attempt == 2:
                    raise
                self.page.wait_for_load_state("load")

    def store_url(self, product=None):
        suffix = f"?product={self.site[product]}" if product else ""
        return f"{self.site['url']}/stores/{self.site['khi']}/{suffix}"

    def ready_offline(self):
        """Wait until the service worker runs and this page is saved for offline use. On a busy
        machine the worker may take control only after this page loaded, past the worker, so
        it was never saved: a reload (as the shopkeeper's next visit) goes through it."""
        def controlled():
            return self.page.evaluate("""async () => {
                const reg = await navigator.serviceWorker.ready;
                return !!(reg.active && navigator.serviceWorker.controller);
            }""")

        try:   # installing caches every shell file: slow on a busy machine
            self.until(controlled, timeout=20.0)
        except AssertionError:
            self.page.reload()   # active, but this page was never claimed: the next load is
            self.until(controlled, timeout=30.0)
        saved = """async () => {
            const cache = await caches.open("kiryana-pages");
            return !!(await cache.match(location.pathname + location.search));
        }"""
        try:
            self.until(lambda: self.page.evaluate(saved), timeout=3.0)
        except AssertionError:
            self.page.reload()
            self.until(lambda: self.page.evaluate(saved))

    def until(self, check, timeout=10.0):
        """Poll check() (a Python callable; Playwright's wait_for_function does not await
        promises, and IndexedDB only answers with one) until it is truthy."""
        deadline = time.time() + timeout
        while True:
            value = check()
            if value:
                return value
            assert time.time() < deadline, "timed out waiting"
            self.page.wait_for_timeout(100)

    def go_offline(self):
        self.site["bytes"].cut = True
        self.context.set_offline(True)
        self.page.wait_for_function("() => !navigator.onLine")

    def go_online(self):
        self.site["bytes"].cut = False
        self.context.set_offline(False)

    def queue(self):
        return self.page.evaluate("KiryanaQueue.all()")

    def tap_sell(self, quantity):
        self.page.fill("#sale-quantity", str(quantity))
        self.page.click("#sell-form button[type=submit]")

    def basket_url(self):
        return f"{self.site['url']}/stores/{self.site['khi']}/basket"

    def tap_add(self, product):
        """Tap a product in the basket page's stock list ("Tap to add")."""
        lines = self.page.locator(".basket-line").count()
        already = self.page.locator(f".basket-line[data-product-id='{self.site[product]}']")
        self.page.locator(f"section:not(#basket) button.add[data-product-id='{self.site[product]}']"
                          ).click()
        if already.count():
            return
        expect(self.page.locator(".basket-line")).to_have_count(lines + 1)

    def finish(self):
        self.close()
        assert self.problems == [], "\n".join(self.problems)


def _expected_console_error(text):
    # Offline, the browser logs the failed fetches we expect (and handle).
    return any(s in text for s in ("ERR_INTERNET_DISCONNECTED", "status of 409", "status of 401",
                                   "status of 422", "Failed to fetch", "ERR_FAILED",
                                   "net::ERR", "htmx:sendError", "htmx:afterRequest"))


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def movements_with_keys(site, keys):
    with site["app"].app_context():
        rows = db.session.execute(select(StockMovement).where(
            StockMovement.idempotency_key.in_(keys))).scalars().all()
        result = [(m.idempotency_key, m.type, m.quantity, m.occurred_at) for m in rows]
        db.session.remove()
    return result


def level(site, product):
    with site["app"].app_context():
        value = db.session.get(StockLevel, (site["khi"], site[product])).quantity
        db.session.remove()
    return value


def sell_elsewhere(site, product, quantity):
    with site["app"].app_context():
        from webapp.services.audit import Actor
        rival = Actor(user_id=site["users"]["rival"], source="web", ip="127.0.0.1")
        ledger.record_movement(rival, commands.Movement.parse(
            store_id=site["khi"], product_id=site[product], type="sale", quantity=quantity))
        db.session.remove()


def restock(site, product, quantity):
    """Bring a product's level to exactly `quantity` (tests in this module share the site)."""
    missing = Decimal(quantity) - level(site, product)
    if missing > 0:
        with site["app"].app_context():
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=site["khi"], product_id=site[product], type="stock_in",
                quantity=missing))
            db.session.remove()
    assert level(site, product) == Decimal(quantity)


def wait_for_queue(phone, count, status="waiting"):
    phone.until(lambda: len([i for i in phone.queue() if i["status"] == status]) == count)


# --- installing, reading offline --------------------------------------------------------------


def test_service_worker_installs_and_the_store_page_reopens_offline(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    assert phone.page.url == phone.store_url()
    phone.ready_offline()
    phone.page.wait_for_function("() => document.querySelector('link[rel=manifest]').href"
                                 ".includes('store=')")
    manifest = phone.page.evaluate("""fetch(document.querySelector('link[rel=manifest]').href)
        .then(r => r.json())""")
    assert manifest["start_url"] == f"/stores/{site['khi']}/"
    phone.go_offline()
    response = phone.page.reload()
    assert response.from_service_worker
    banner = phone.page.locator("#offline-banner")
    banner.wait_for()
    assert banner.inner_text().startswith("offline · levels as of ")
    assert phone.page.locator("#stock-list").inner_text().count("Basmati Chawal") == 1
    # A page never saved still answers, with the server's offline page.
    phone.page.goto(site["url"] + "/history")
    assert "Offline" in phone.page.locator("h1").inner_text()
    phone.page.goto(phone.store_url())
    shot(phone.page, "offline-store-page")
    phone.finish()


# --- writing offline --------------------------------------------------------------------------


def test_offline_sales_a_basket_and_a_stock_in_wait_then_land_once_each(playwright, site,
                                                                        tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.basket_url())     # opened once with signal: kept for offline use
    phone.ready_offline()
    phone.page.goto(phone.store_url("chawal"))
    phone.ready_offline()
    chawal, atta = level(site, "chawal"), level(site, "atta")
    phone.go_offline()
    phone.page.reload()
    for quantity in (1, 2, 1):
        phone.tap_sell(quantity)
    wait_for_queue(phone, 3)
    # Another product, chosen from the saved stock list with no signal; a stock-in.
    phone.page.click(f"#stock-list a[data-product-id='{site['atta']}']")
    assert phone.page.locator("#panel [data-field=name]").inner_text() == \
        "Sunridge Chakki Atta 10kg"
    phone.page.click("text=Stock in (received)")
    phone.page.eval_on_selector("#receive-form", "form => { form.closest('details').open = true; }")
    phone.page.fill("#stock_in-quantity", "5")
    phone.page.click("#receive-form button[type=submit]")
    wait_for_queue(phone, 4)
    badge = phone.page.locator("#queue-badge")
    expect(badge).to_have_text("4 waiting to send")
    expect(phone.page.locator("#queue-waiting li")).to_have_count(4)
    shot(phone.page, "offline-waiting-badge")
    # A 2-line basket on the basket page, still with no signal (the page from the phone).
    phone.page.goto(phone.basket_url())
    expect(phone.page.locator("#basket[data-local]")).to_have_count(1)
    phone.tap_add("chawal")
    phone.tap_add("atta")
    phone.tap_add("chawal")
    expect(phone.page.locator(".basket-line .line-qty").first).to_have_value("2")
    # Lines changed with no signal are priced on the phone (bill.js, the server's rules) and
    # say so; the server prices the sale again when it lands (below: the same figure).
    expect(phone.page.locator("#bill-total")).to_have_text("Rs 300")
    expect(phone.page.locator("#bill-here")).to_have_text("priced on this phone")
    expect(phone.page.locator(".basket-line .line-total").first).to_have_text("Rs 200")
    # 1,5 typed with no signal reads as the server reads it.
    phone.page.fill(".basket-line:nth-child(1) .line-qty", "1,5")
    phone.page.click(".basket-line:nth-child(1) button.set")
    expect(phone.page.locator(".basket-line .line-qty").first).to_have_value("1.5")
    phone.page.fill(".basket-line:nth-child(1) .line-qty", "2")
    phone.page.click(".basket-line:nth-child(1) button.set")
    expect(phone.page.locator(".basket-line .line-qty").first).to_have_value("2")
    shot(phone.page, "offline-basket-lines")
    phone.page.click("#checkout button[type=submit]")
    wait_for_queue(phone, 5)
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    expect(badge).to_have_text("5 waiting to send")
    expect(phone.page.locator("#basket")).to_contain_text(
        "Saved on this phone: Sell 2 kg Basmati Chawal, 1 pack Sunridge Chakki Atta 10kg")
    shot(phone.page, "offline-basket-waiting")
    items = phone.queue()
    keys = [i["key"] for i in items]
    assert len(set(keys)) == 5
    assert movements_with_keys(site, keys) == []
    phone.go_online()
    badge.wait_for(state="hidden")
    wait_for_queue(phone, 0)
    landed = movements_with_keys(site, keys)
    expected = [(i["key"], i["payload"]["type"], Decimal(i["payload"]["quantity"]))
                for i in items if i["kind"] == "movement"]
    basket = items[-1]
    assert basket["kind"] == "sale"
    expected += [(basket["key"], "sale", Decimal(2)), (basket["key"], "sale", Decimal(1))]
    assert sorted((k, t, q) for k, t, q, _ in landed) == sorted(expected)
    with site["app"].app_context():   # the server priced it when it landed: 2 × 100 + 1 × 100
        assert db.session.scalar(select(Sale.total).where(
            Sale.idempotency_key == basket["key"])) == Decimal("300.00")
        db.session.remove()
    assert all(when is not None for *_, when in landed)
    assert level(site, "chawal") == chawal - 4 - 2
    assert level(site, "atta") == atta + 5 - 1
    # The server's basket is empty too: the page shows the server's render again.
    expect(phone.page.locator("#basket:not([data-local])")).to_have_count(1)
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    phone.page.reload()
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    phone.finish()


def _sales_by_reference(site, prefix):
    with site["app"].app_context():
        rows = db.session.execute(select(Sale.id, Sale.reference, Sale.idempotency_key, Sale.total)
                                  .where(Sale.reference.like(prefix + "%"))
                                  .order_by(Sale.reference)).all()
        db.session.remove()
    return rows


def test_a_basket_sold_offline_gets_a_provisional_receipt_that_the_landed_sale_keeps(
        playwright, site, tmp_path):
    """Issue 24, item 6: sold with no signal, a 2-line basket shows its receipt at once with a
    provisional number (store code, this phone, a sequence), printable and shareable; after a
    reload the next basket takes the next number, and a second tab never takes one already
    given; with signal again each lands once under its number, and the landed receipt says it."""
    assert level(site, "chawal") >= 2 and level(site, "atta") >= 2
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    phone.go_offline()
    phone.page.reload()
    expect(phone.page.locator("#basket[data-local]")).to_have_count(1)
    phone.tap_add("chawal")
    phone.tap_add("atta")
    # A quarter kilo of Cheeni at Rs 150.10: 37.525, rounded half up once to Rs 37.53.
    phone.tap_add("cheeni")
    phone.page.fill(".basket-line:nth-child(3) .line-qty", "0,250")
    phone.page.click(".basket-line:nth-child(3) button.set")
    expect(phone.page.locator(".basket-line:nth-child(3) .line-total")).to_have_text("Rs 37.53")
    bar = phone.page.locator("#bill-total")
    expect(bar).to_have_text("Rs 237.53")
    expect(phone.page.locator("#bill-here")).to_be_visible()
    shown = bar.get_attribute("data-total")
    shot(phone.page, "offline-basket-priced-here")
    phone.page.click("#checkout button[type=submit]")
    receipt = phone.page.locator("#provisional-receipt")
    expect(receipt).to_be_visible()
    reference = receipt.locator("[data-field=reference]").inner_text()
    device = phone.page.evaluate("localStorage.getItem('kiryana-device')")
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}", device), device
    assert reference == f"KHI-0001-{device}-0001"
    # At once, on the first screen, marked provisional, every line with the bill the phone
    # worked out, and one line saying the shop's receipt (priced when it lands) is final.
    box = receipt.bounding_box()
    assert box["y"] < 640 and box["width"] <= 360, box
    expect(receipt.locator(".stamp")).to_have_text("PROVISIONAL")
    expect(receipt.locator("tbody tr")).to_have_count(3)
    expect(receipt.locator("tbody")).to_contain_text("Basmati Chawal")
    expect(receipt.locator("tbody")).to_contain_text("1 pack")
    expect(receipt.locator("tbody tr").nth(2)).to_contain_text("0.25 kg")
    expect(receipt.locator("tbody tr").nth(2)).to_contain_text("Rs 37.53")
    expect(receipt.locator("[data-field=total]")).to_have_text("Rs 237.53")
    expect(receipt.locator("[data-field=priced-here]")).to_have_text(
        "Priced on this phone. The shop prices the sale again when it is sent: that receipt "
        "is final.")
    share = unquote(receipt.locator("[data-field=share]").get_attribute("href"))
    assert share.startswith("https://wa.me/?text=Al-Madina Kiryana (KHI-0001)\n"
                            f"Provisional receipt {reference} · "), share
    assert "Basmati Chawal: 1 kg = Rs 100" in share and \
        "Sunridge Chakki Atta 10kg: 1 pack = Rs 100" in share, share
    assert "Cheeni (loose): 0.25 kg = Rs 37.53\nTotal: Rs 237.53\nPriced on this phone." in share
    expect(receipt.locator("[data-print]")).to_be_visible()
    shot(phone.page, "offline-provisional-receipt")
    phone.page.screenshot(path=str(ARTIFACTS / "offline-provisional-receipt-screen.png"))
    phone.page.evaluate("window.scrollBy(0, 320)")   # the bill and the line under it
    phone.page.screenshot(path=str(ARTIFACTS / "offline-provisional-receipt-bill.png"))
    # Printing shows the receipt alone (58 mm paper).
    phone.page.emulate_media(media="print")
    assert phone.page.locator("#basket").is_hidden()
    assert receipt.is_visible()
    phone.page.emulate_media(media="screen")
    # The waiting list names the basket by its number.
    expect(phone.page.locator("#queue-waiting .queue-ref")).to_have_text([reference])
    receipt.locator("[data-close]").click()
    expect(receipt).to_have_count(0)

    # A reload (still no signal), another basket: the next number.
    phone.page.reload()
    phone.tap_add("chawal")
    phone.page.click("#checkout button[type=submit]")
    expect(receipt.locator("[data-field=reference]")).to_have_text(f"KHI-0001-{device}-0002")

    # A second tab on the same phone sells too: the next number, never one already given.
    other = phone.context.new_page()
    other.goto(phone.basket_url())
    other.locator(f"section:not(#basket) button.add[data-product-id='{site['atta']}']").click()
    expect(other.locator(".basket-line")).to_have_count(1)
    other.click("#checkout button[type=submit]")
    expect(other.locator("#provisional-receipt [data-field=reference]")).to_have_text(
        f"KHI-0001-{device}-0003")
    # Both tabs keeping baskets at the same moment (straight into the queue, for another user,
    # so nothing is sent): 40 numbers, none twice, none already given.
    burst = """([who, n]) => { window.__burst = Promise.all(Array.from({length: n}, (_, i) =>
        KiryanaQueue.enqueue({kind: "sale", store_id: 0, user_id: -1, label: who + i,
                              payload: {lines: []},
                              numbered: (s) => KiryanaReceiptNumber.format("KHI-0001", "TEST", s)}))
        ); return true; }"""
    other.evaluate("() => { if (!window.KiryanaReceiptNumber) { throw new Error('not loaded'); } }")
    phone.page.evaluate(burst, ["a", 20])
    other.evaluate(burst, ["b", 20])
    taken = (phone.page.evaluate("window.__burst.then(rs => rs.map(r => r.receipt.sequence))") +
             other.evaluate("window.__burst.then(rs => rs.map(r => r.receipt.sequence))"))
    assert sorted(taken) == list(range(4, 44)), sorted(taken)
    phone.page.evaluate("""KiryanaQueue.all().then(items => Promise.all(items
        .filter(i => i.user_id === -1).map(i => KiryanaQueue.remove(i.seq))))""")
    other.close()
    sent = [i for i in phone.queue() if i["kind"] == "sale"]
    assert [i["payload"]["reference"] for i in sent] == [
        f"KHI-0001-{device}-000{n}" for n in (1, 2, 3)]
    assert _sales_by_reference(site, f"KHI-0001-{device}-") == []

    # Signal again: each lands once, under its number.
    phone.go_online()
    wait_for_queue(phone, 0)
    landed = _sales_by_reference(site, f"KHI-0001-{device}-")
    assert [(r.reference, r.idempotency_key) for r in landed] == [
        (i["payload"]["reference"], i["key"]) for i in sent]
    # Priced again by the server when it landed, at the same prices: the bill the phone showed.
    assert landed[0].total == Decimal(shown) == Decimal("237.53")
    phone.page.evaluate("KiryanaQueue.flush()")    # again: nothing more
    assert len(_sales_by_reference(site, f"KHI-0001-{device}-")) == 3
    # The landed receipt shows the number the customer holds, beside the shop's own.
    phone.page.goto(f"{site['url']}/stores/{site['khi']}/sales/{landed[0].id}")
    expect(phone.page.locator("#receipt-ref")).to_have_text(reference)
    expect(phone.page.locator("#receipt-total")).to_have_text("Rs 237.53")
    expect(phone.page.locator(".receipt-number")).to_contain_text(f"Ref {reference}")
    shot(phone.page, "offline-provisional-landed")
    # The sales page finds it by the number on the paper.
    phone.page.goto(f"{site['url']}/stores/{site['khi']}/sales?q={device}-0001")
    expect(phone.page.locator("ul.rows a.row")).to_have_count(1)
    expect(phone.page.locator("ul.rows a.row")).to_contain_text(reference)
    phone.finish()


def test_the_provisional_receipt_in_urdu_keeps_its_number_left_to_right(playwright, site,
                                                                         tmp_path):
    with site["app"].app_context():
        db.session.get(User, site["users"]["urdu"]).language = "ur"
        db.session.commit()
        db.session.remove()
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("urdu")
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    phone.go_offline()
    phone.page.reload()
    phone.tap_add("chawal")
    # ۱۰۰ rupees of Cheeni at Rs 150.10 a kg: 0.666 kg (half up to grams) at Rs 100.
    phone.tap_add("cheeni")
    phone.page.fill(".basket-line:nth-child(2) .line-amount", "۱۰۰")
    phone.page.click(".basket-line:nth-child(2) button.set")
    expect(phone.page.locator(".basket-line:nth-child(2) .line-qty")).to_have_value("0.666")
    expect(phone.page.locator("#bill-total")).to_have_text("200 روپے")
    expect(phone.page.locator("#bill-here")).to_have_text("اس فون کا حساب")
    phone.page.screenshot(path=str(ARTIFACTS / "offline-basket-priced-here-urdu.png"))
    phone.page.click("#checkout button[type=submit]")
    receipt = phone.page.locator("#provisional-receipt")
    expect(receipt).to_be_visible()
    assert phone.page.locator("html").get_attribute("dir") == "rtl"
    expect(receipt.locator("[data-field=total]")).to_have_text("200 روپے")
    expect(receipt.locator("tbody tr").nth(1)).to_contain_text("0.666 کلو")
    expect(receipt.locator("[data-field=priced-here]")).to_be_visible()
    number = receipt.locator("[data-field=reference]")
    assert re.fullmatch(r"KHI-0001-[A-HJ-NP-Z2-9]{4}-0001", number.inner_text())
    assert number.get_attribute("dir") == "ltr"
    expect(receipt.locator(".receipt-number")).to_contain_text("عارضی رسید")
    expect(receipt.locator("tbody")).to_contain_text("1 کلو")
    share = unquote(receipt.locator("[data-field=share]").get_attribute("href"))
    assert f"عارضی رسید {number.inner_text()}" in share, share
    phone.page.screenshot(path=str(ARTIFACTS / "offline-provisional-receipt-urdu.png"))
    phone.page.evaluate("window.scrollBy(0, 320)")   # the bill and the line under it
    phone.page.screenshot(path=str(ARTIFACTS / "offline-provisional-receipt-urdu-bill.png"))
    reference = number.inner_text()
    phone.go_online()
    wait_for_queue(phone, 0)
    landed = _sales_by_reference(site, reference)
    assert [row.total for row in landed] == [Decimal("200.00")]   # the bill the phone showed
    phone.finish()


def test_a_basket_completed_as_the_reply_is_lost_lands_once(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    before = level(site, "chawal")
    phone.tap_add("chawal")
    key = phone.page.locator("#checkout input[name=key]").input_value()
    answered = []

    def lose_the_reply(route):
        # The server records the sale; the phone never hears back.
        answered.append(route.fetch().status)
        route.abort()

    replays = []

    def note_the_replay(route):
        response = route.fetch()
        replays.append((route.request.post_data_json["key"], response.json().get("replayed")))
        route.fulfill(response=response)

    phone.page.route("**/basket/complete", lose_the_reply)
    phone.context.route("**/offline/stores/*/sales", note_the_replay)
    phone.page.click("#checkout button[type=submit]")
    # Queued with the page's key and sent at once: the server answers the first sale.
    phone.until(lambda: replays)
    assert answered and answered[0] < 400    # recorded (204 + HX-Redirect to the receipt)
    assert replays == [(key, True)]
    wait_for_queue(phone, 0)
    assert [(k, q) for k, _, q, _ in movements_with_keys(site, [key])] == [(key, Decimal(1))]
    assert level(site, "chawal") == before - 1
    with site["app"].app_context():
        assert len(db.session.scalars(select(Sale).where(Sale.idempotency_key == key)).all()) == 1
        db.session.remove()
    phone.page.unroute("**/basket/complete")
    phone.context.unroute("**/offline/stores/*/sales")
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    phone.page.reload()
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    phone.finish()


def test_a_lost_acknowledgement_writes_nothing_twice(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.store_url("chawal"))
    phone.ready_offline()
    before = level(site, "chawal")
    phone.go_offline()
    phone.tap_sell(1)
    phone.tap_sell(2)
    wait_for_queue(phone, 2)
    keys = [i["key"] for i in phone.queue()]
    dropped, seen = [], []

    def drop_first_acknowledgement(route):
        key = route.request.post_data_json["key"]
        seen.append(key)
        if key in dropped:
            route.continue_()
            return
        # The server gets and applies the item; the phone never hears back.
        response = route.fetch()
        assert response.status == 201
        dropped.append(key)
        route.abort()

    phone.context.route("**/offline/stores/*/movements", drop_first_acknowledgement)
    phone.go_online()
    for _ in range(10):
        if not phone.queue():
            break
        phone.page.evaluate("KiryanaQueue.flush()")
    assert phone.queue() == []
    assert sorted(dropped) == sorted(keys)           # every acknowledgement was lost once
    assert all(seen.count(k) >= 2 for k in keys)     # so every item was sent again
    landed = movements_with_keys(site, keys)
    assert sorted(k for k, *_ in landed) == sorted(keys)   # and written once
    assert level(site, "chawal") == before - 3
    phone.context.unroute("**/offline/stores/*/movements")
    phone.finish()


def test_an_offline_oversell_waits_under_needs_attention(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.store_url("ghee"))
    phone.ready_offline()
    assert level(site, "ghee") == 5
    phone.go_offline()
    phone.tap_sell(4)
    wait_for_queue(phone, 1)
    sell_elsewhere(site, "ghee", 3)    # another phone sells 3 while this one has no signal
    phone.go_online()
    wait_for_queue(phone, 1, "attention")
    item = phone.page.locator("#queue-attention li")
    item.wait_for()
    text = item.inner_text()
    assert "Sell 4 × Dalda Ghee 1kg" in text
    assert "Only 2 in stock; cannot take 4." in text
    assert item.locator("text=Record anyway").count() == 0   # the store forbids negatives
    assert level(site, "ghee") == 2
    shot(phone.page, "offline-needs-attention")
    # Edit the quantity and send again: it lands, and leaves the list.
    item.locator("input[name=quantity]").fill("2")
    first = phone.queue()[0]["seq"]
    item.locator("button[type=submit]").click()
    phone.until(lambda: all(i["seq"] != first and i["status"] != "waiting"
                            for i in phone.queue()))
    assert [(i["status"], i["error"]) for i in phone.queue()] == []
    assert level(site, "ghee") == 0
    phone.finish()


def test_discarding_needs_two_taps(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.store_url("ghee"))
    phone.ready_offline()
    phone.go_offline()
    phone.tap_sell(99)
    phone.go_online()
    wait_for_queue(phone, 1, "attention")
    discard = phone.page.locator("#queue-attention li button.danger")
    discard.click()
    expect(discard).to_have_text("Tap again to discard")
    wait_for_queue(phone, 1, "attention")
    discard.click()
    wait_for_queue(phone, 0, "attention")
    phone.page.locator("#offline-queue").wait_for(state="hidden")
    phone.finish()


def test_an_offline_basket_with_a_short_line_waits_under_needs_attention(playwright, site,
                                                                         tmp_path):
    restock(site, "ghee", 5)
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    chawal = level(site, "chawal")
    phone.go_offline()
    phone.tap_add("chawal")
    phone.tap_add("ghee")
    phone.page.fill(".basket-line:nth-child(2) .line-qty", "4")
    phone.page.click(".basket-line:nth-child(2) button.set")
    expect(phone.page.locator(".basket-line:nth-child(2) .line-qty")).to_have_value("4")
    phone.page.click("#checkout button[type=submit]")
    wait_for_queue(phone, 1)
    sell_elsewhere(site, "ghee", 3)    # another phone sells 3 while this one has no signal
    phone.go_online()
    wait_for_queue(phone, 1, "attention")
    item = phone.page.locator("#queue-attention li")
    item.wait_for()
    text = item.inner_text()
    assert "Sell 1 kg Basmati Chawal, 4 pack Dalda Ghee 1kg" in text
    assert "Not enough stock for some lines; nothing was recorded." in text
    assert "Only 2 in stock; cannot take 4." in text
    assert item.locator("text=Record anyway").count() == 0   # the store forbids negatives
    assert level(site, "ghee") == 2 and level(site, "chawal") == chawal
    ghee = item.locator("input[aria-invalid=true]")
    expect(ghee).to_have_value("4")
    shot(phone.page, "offline-basket-needs-attention")
    ghee.fill("2")
    item.locator("button[type=submit]").click()
    phone.until(lambda: phone.queue() == [])
    assert level(site, "ghee") == 0 and level(site, "chawal") == chawal - 1
    phone.finish()


def test_the_queue_survives_closing_the_browser(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.store_url("chawal"))
    phone.ready_offline()
    before = level(site, "chawal")
    phone.go_offline()
    phone.tap_sell(3)
    wait_for_queue(phone, 1)
    key = phone.queue()[0]["key"]
    phone.close()
    phone.open(offline=True)                 # reopened, still no signal
    phone.page.goto(phone.store_url("chawal"))
    expect(phone.page.locator("#queue-badge")).to_have_text("1 waiting to send")
    assert movements_with_keys(site, [key]) == []
    phone.go_online()
    # A restart drops the session cookie (no "remember me"): the page asks to log in again,
    # and the same user's queue is sent right after.
    phone.page.wait_for_url(lambda u: "/login" in u)
    assert movements_with_keys(site, [key]) == []
    phone.login("dukan")
    phone.until(lambda: phone.queue() == [])
    assert len(movements_with_keys(site, [key])) == 1
    assert level(site, "chawal") == before - 3
    phone.finish()


def test_after_the_session_expired_the_same_user_sends_and_no_one_else(playwright, site,
                                                                        tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.store_url("atta"))
    phone.ready_offline()
    before = level(site, "atta")
    phone.go_offline()
    phone.tap_sell(2)
    wait_for_queue(phone, 1)
    key = phone.queue()[0]["key"]
    phone.context.clear_cookies()             # the session expired meanwhile
    phone.go_online()
    status = phone.page.locator("#queue-status")
    status.wait_for()
    assert "Log in again to send what is waiting." in status.inner_text()
    assert movements_with_keys(site, [key]) == []
    # Someone else logs in on this phone: dukan's sale is not theirs to send.
    phone.login("rival")
    phone.page.locator("#queue-others").wait_for()
    assert "saved by another user" in phone.page.locator("#queue-others").inner_text()
    phone.page.wait_for_timeout(500)
    assert movements_with_keys(site, [key]) == []
    phone.page.click("text=Menu")
    phone.page.click("text=Log out rival")
    phone.page.wait_for_url(lambda u: "/login" in u)
    phone.login("dukan")
    phone.until(lambda: phone.queue() == [])
    landed = movements_with_keys(site, [key])
    assert len(landed) == 1
    with site["app"].app_context():
        movement = db.session.execute(select(StockMovement).where(
            StockMovement.idempotency_key == key)).scalar_one()
        assert movement.user_id == site["users"]["dukan"]
        db.session.remove()
    assert level(site, "atta") == before - 2
    phone.finish()


# --- weight -----------------------------------------------------------------------------------


def test_cold_load_bytes_with_and_without_the_service_worker(playwright, site, tmp_path):
    """Bytes the server sent for the shopkeeper page: a first visit, then with the worker."""
    counter = site["bytes"]
    # A first visit: no worker (blocked, as before one ever installed) and no HTTP cache.
    first = Phone(playwright, site, tmp_path / "first", service_workers="block")
    first.login("dukan")
    first.page.goto(site["url"] + "/stores/")  # leave, so the next load is a whole page
    cdp = first.context.new_cdp_session(first.page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    counter.reset()
    first.page.goto(first.store_url())
    first.page.wait_for_load_state("load")
    cold = counter.total(exclude=("/stores/%d/stock" % site["khi"],))
    page_paths = sorted({p for p, _ in counter.sent})
    assert not any("scanner" in p or "vendor" in p for p in page_paths), page_paths
    first.finish()
    # The same page on a phone whose worker has run once: the page's own bytes, no files.
    fresh = Phone(playwright, site, tmp_path / "fresh")
    fresh.login("dukan")
    fresh.page.goto(fresh.store_url())
    fresh.ready_offline()
    # On a busy machine the page may have loaded before the worker took control (and been saved
    # since), its scripts from the network: load it once through the worker, then wait until
    # the worker has filed every /static/ file (cacheFirst's cache.put does not hold the page
    # up). Clean-clone runs saw the counted reload fetch live.js, then this wait time out.
    fresh.page.reload()
    fresh.page.wait_for_load_state("load")
    fresh.until(lambda: fresh.page.evaluate("""async () => {
        const files = [...document.querySelectorAll("script[src], link[rel=stylesheet]")]
            .map(e => new URL(e.src || e.href, location.href))
            .filter(u => u.origin === location.origin && u.pathname.startsWith("/static/"));
        const filed = await Promise.all(files.map(u => caches.match(u.pathname + u.search)));
        return files.length > 0 && filed.every(Boolean);
    }"""))
    fresh.page.wait_for_timeout(300)
    counter.reset()
    fresh.page.reload()
    fresh.page.wait_for_load_state("load")
    fresh.page.wait_for_timeout(300)   # anything the worker fetched behind the page counts too
    warm = counter.total(exclude=("/stores/%d/stock" % site["khi"],))
    warm_paths = sorted({p for p, _ in counter.sent})
    assert not any(p.startswith("/static/") for p in warm_paths), warm_paths
    # Open the scanner's code (the decoder too) as Scan would, and count it.
    counter.reset()
    fresh.page.evaluate("""() => new Promise((resolve, reject) => {
        const s = document.createElement('script'); s.src = '/static/js/scanner.js';
        s.onload = resolve; s.onerror = reject; document.head.append(s); })""")
    fresh.page.evaluate("""() => new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = '/static/vendor/barcode-detector-3.2.2/ponyfill.iife.js';
        s.onload = resolve; s.onerror = reject; document.head.append(s); })""")
    fresh.page.evaluate("fetch('/static/vendor/zxing-wasm-3.1.3/zxing_reader.wasm')"
                        ".then(r => r.arrayBuffer()).then(b => b.byteLength)")
    scanner = counter.total()
    report = {"store_page_first_visit_bytes": cold, "store_page_with_worker_bytes": warm,
              "with_worker_paths": warm_paths, "scanner_opened_bytes": scanner,
              "first_visit_paths": page_paths}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "offline-weight.json").write_text(json.dumps(report, indent=2) + "\n")
    assert cold < 120_000
    assert warm < cold / 2
    assert scanner > 1_000_000   # the WebAssembly decoder: never part of the first load
    fresh.finish()


# --- camera barcode scanning ------------------------------------------------------------------


def write_barcode_video(path, code):
    """A .y4m clip (what Chromium's fake camera plays) of an EAN-13 made here, in Python."""
    import barcode
    from barcode.writer import ImageWriter
    from PIL import Image

    symbol = barcode.get("ean13", code[:12], writer=ImageWriter())
    assert symbol.get_fullcode() == code
    picture = symbol.render({"module_width": 0.5, "module_height": 18, "quiet_zone": 8,
                             "font_size": 8, "dpi": 150})
    width, height = 640, 480
    frame = Image.new("RGB", (width, height), "white")
    picture.thumbnail((width - 40, height - 40))
    frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    data = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + data)
    return path


def camera_args(video):
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]


def test_scan_selects_the_product_online_and_offline(playwright, site, tmp_path):
    video = write_barcode_video(tmp_path / "known.y4m", KNOWN_EAN)
    phone = Phone(playwright, site, tmp_path / "phone", camera_args(video))
    requests = []
    phone.page.on("request", lambda r: requests.append(r.url))
    phone.login("dukan")
    phone.ready_offline()
    assert not any("scanner" in u or "vendor" in u for u in requests)   # not on the first load
    scan = phone.page.locator("[data-scan]")
    scan.click()
    phone.page.locator("#scanner").wait_for()
    shot(phone.page, "scanner-open")
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Cheeni (loose)",
                                                                         timeout=15000)
    assert phone.page.locator("#scanner").is_hidden()
    assert any("zxing_reader.wasm" in u for u in requests)   # no BarcodeDetector here: ZXing
    shot(phone.page, "scanner-found")
    # With no signal, the scanner, its decoder and the product list come from the phone.
    phone.page.goto(phone.store_url())
    phone.ready_offline()
    phone.go_offline()
    phone.page.reload()
    phone.page.locator("[data-scan]").click()
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Cheeni (loose)",
                                                                         timeout=15000)
    phone.page.fill("#sale-quantity", "1")
    phone.page.click("#sell-form button[type=submit]")
    wait_for_queue(phone, 1)
    assert phone.queue()[0]["payload"]["product_id"] == site["cheeni"]
    phone.go_online()
    phone.until(lambda: phone.queue() == [])
    phone.finish()


RECORD_VIBRATION = """navigator.vibrate = (pattern) => {
    (window.vibrations = window.vibrations || []).push(pattern); return true; };"""


def test_scan_adds_the_product_to_the_basket_online_and_offline(playwright, site, tmp_path):
    video = write_barcode_video(tmp_path / "known.y4m", KNOWN_EAN)
    phone = Phone(playwright, site, tmp_path / "phone", camera_args(video))
    phone.context.add_init_script(RECORD_VIBRATION)
    phone.login("dukan")
    # From the store page by its (boosted) Basket link: the basket's offline side loads too.
    phone.page.locator(".store-head a", has_text="Basket").click()
    phone.page.wait_for_url(phone.basket_url())
    phone.ready_offline()
    before = level(site, "cheeni")
    line = phone.page.locator(f".basket-line[data-product-id='{site['cheeni']}']")
    phone.page.locator("[data-scan]").click()
    expect(line).to_have_count(1, timeout=15000)
    expect(line.locator(".line-qty")).to_have_value("1")
    assert phone.page.evaluate("window.vibrations") == [80]
    assert phone.page.locator("#basket[data-local]").count() == 0   # the server added it
    shot(phone.page, "basket-scanned")
    # With no signal: the scanner, its decoder and the product list come from the phone.
    phone.go_offline()
    phone.page.reload()
    phone.page.locator("[data-scan]").click()
    expect(phone.page.locator("#basket[data-local] .basket-line .line-qty")).to_have_value(
        "2", timeout=15000)
    phone.page.click("#checkout button[type=submit]")
    wait_for_queue(phone, 1)
    assert phone.queue()[0]["payload"]["lines"] == [{"product_id": site["cheeni"],
                                                    "quantity": "2"}]
    phone.go_online()
    phone.until(lambda: phone.queue() == [])
    assert level(site, "cheeni") == before - 2
    phone.finish()


def test_scanning_an_unknown_code_says_so_and_offers_add_product(playwright, site, tmp_path):
    video = write_barcode_video(tmp_path / "unknown.y4m", UNKNOWN_EAN)
    phone = Phone(playwright, site, tmp_path / "phone", camera_args(video))
    phone.login("manager")
    # On the basket page too; nothing is added.
    phone.page.goto(phone.basket_url())
    phone.page.locator("[data-scan]").click()
    expect(phone.page.locator("#scan-result")).to_contain_text(
        f"No product has barcode {UNKNOWN_EAN}", timeout=15000)
    assert phone.page.locator(".basket-line").count() == 0
    phone.page.goto(phone.store_url())
    phone.page.locator("[data-scan]").click()
    result = phone.page.locator("#scan-result")
    expect(result).to_contain_text(f"No product has barcode {UNKNOWN_EAN}", timeout=15000)
    shot(phone.page, "scanner-unknown")
    result.locator("text=Add product").click()
    phone.page.wait_for_url(lambda u: "/products/new" in u)
    assert phone.page.locator("#barcode").input_value() == UNKNOWN_EAN
    phone.finish()


# --- issue 24: the product list kept on the phone, one fetch of the page, a conditional first
# poll, and the decoder's size said before a metered download -----------------------------------


def test_offline_search_finds_products_without_ever_opening_scan(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    statuses = []
    phone.page.on("response", lambda r: statuses.append((r.url.split("?")[0], r.status)))
    catalog = f"/offline/stores/{site['khi']}/catalog"
    phone.login("dukan")   # lands on the store page
    saved = """async (url) => {
        const cache = await caches.open("kiryana-data");
        return !!(await cache.match(url));
    }"""
    phone.until(lambda: phone.page.evaluate(saved, catalog))
    phone.until(lambda: phone.page.evaluate("""async () => {
        const cache = await caches.open("kiryana-pages");
        return !!(await cache.match(location.pathname + location.search));
    }"""))
    store_path = f"/stores/{site['khi']}/"
    # The first visit fetched the store page once: the copy kept for offline use came from
    # the page the phone already had.
    page_fetches = sum(1 for url, _s in statuses if url.endswith(store_path))
    assert page_fetches == 1, statuses
    # The first stock check is conditional on the list the page shows: 304, no list again.
    phone.until(lambda: any(u.endswith("/stock") for u, _s in statuses), timeout=15)
    assert next(s for u, s in statuses if u.endswith("/stock")) == 304
    # Opening the store page again asks for the list with the copy's ETag: 304.
    statuses.clear()
    phone.page.reload()
    phone.until(lambda: any(u.endswith(catalog) for u, _s in statuses))
    assert [s for u, s in statuses if u.endswith(catalog)] == [304]
    # No signal: search finds the product from the phone's copy, Scan never opened.
    phone.go_offline()
    phone.page.reload()
    phone.page.fill("#q", "basmati")
    row = phone.page.locator("#picker-results a.row", has_text="Basmati Chawal")
    row.wait_for()
    # With the level the phone's copy had (tests in this module share the site's stock).
    assert f"{level(site, 'chawal').normalize():f} kg" in row.inner_text()
    shot(phone.page, "offline-search")
    row.click()
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Basmati Chawal")
    phone.go_online()
    phone.finish()


METERED = """Object.defineProperty(navigator, "connection", {configurable: true,
    get: () => ({saveData: true, type: "cellular", effectiveType: "3g",
                 addEventListener() {}, removeEventListener() {}})});"""


def test_on_a_metered_connection_the_decoder_size_is_said_before_it_downloads(
        playwright, site, tmp_path):
    video = write_barcode_video(tmp_path / "known.y4m", KNOWN_EAN)
    phone = Phone(playwright, site, tmp_path / "phone", camera_args(video))
    phone.context.add_init_script(METERED)
    requests = []
    phone.page.on("request", lambda r: requests.append(r.url))
    phone.login("dukan")
    phone.ready_offline()
    phone.page.locator("[data-scan]").click()
    ask = phone.page.locator("[data-scan-download]")
    ask.wait_for()
    status = phone.page.locator("#scanner [data-scan-status]").inner_text()
    assert "one-time download of 1.1 MB" in status
    assert not any("vendor/" in u for u in requests)   # nothing fetched before the yes
    shot(phone.page, "scanner-metered-ask")
    ask.click()
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Cheeni (loose)",
                                                                         timeout=15000)
    assert any("zxing_reader.wasm" in u for u in requests)
    # Once saved on the phone, the next Scan does not ask again.
    phone.page.reload()
    phone.page.locator("[data-scan]").click()
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Cheeni (loose)",
                                                                         timeout=15000)
    assert phone.page.locator("[data-scan-download]").count() == 0
    phone.finish()


NATIVE_DETECTOR = """window.BarcodeDetector = class {
    static getSupportedFormats() {
        return Promise.resolve(["ean_13", "ean_8", "upc_a", "code_128", "qr_code"]); }
    detect() { return Promise.resolve([{rawValue: "%s"}]); }
};""" % KNOWN_EAN


def test_where_the_phone_reads_barcodes_itself_no_decoder_is_fetched(playwright, site, tmp_path):
    video = write_barcode_video(tmp_path / "known.y4m", KNOWN_EAN)
    phone = Phone(playwright, site, tmp_path / "phone", camera_args(video))
    phone.context.add_init_script(METERED + NATIVE_DETECTOR)
    requests = []
    phone.page.on("request", lambda r: requests.append(r.url))
    phone.login("dukan")
    phone.ready_offline()
    phone.page.locator("[data-scan]").click()
    expect(phone.page.locator("#panel [data-field=name]")).to_have_text("Cheeni (loose)",
                                                                         timeout=15000)
    assert not any("vendor/" in u for u in requests)
    assert phone.page.locator("[data-scan-download]").count() == 0
    phone.finish()
