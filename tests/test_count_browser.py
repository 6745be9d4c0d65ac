# ruff: noqa: F811 (the fixtures imported from test_web_browser are parameters here)
"""The shelf count in Chromium at 360×640 (issue 11): counts typed survive a filter change,
paging, a reload and a second phone; "N of M counted" follows each count; Review is always on
screen; applying the review writes the right adjustments (checked in the ledger).

Screenshots: test-artifacts/count-page*.png, count-review*.png.
"""
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, make_product
from tests.test_counter_browser import assert_on_screen
from tests.live_site import ARTIFACTS
from tests.test_web_browser import (  # noqa: F401 (fixtures)
    Watched,
    browser,
    level,
    shot,
    site,
)
from webapp.extensions import db
from webapp.models import CountDraft, StockBatch, StockMovement
from webapp.services import commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture(scope="module")
def shop(site):
    """The site's store with 24 spices more: 28 products to count, two pages of 20."""
    with site["app"].app_context():
        for n in range(24):
            product = make_product(sku=f"MASALA-{n:02d}", name=f"Masala {n:02d}", unit="pack",
                                   category="Spice")
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=site["khi"], product_id=product.id, type="stock_in", quantity=10))
            site[f"masala{n:02d}"] = product.id
        db.session.remove()
    return site


@pytest.fixture(scope="module")
def phone(browser, shop):
    watched = Watched(browser, shop, "dukan")
    yield watched
    watched.close()


def counted(site):
    """{product id: counted} of the store's count in progress."""
    with site["app"].app_context():
        rows = db.session.execute(select(CountDraft.product_id, CountDraft.quantity)
                                  .where(CountDraft.store_id == site["khi"])).all()
        db.session.remove()
    return dict(rows)


def progress(page):
    return page.locator(".count-progress strong").inner_text()


def type_count(page, product_id, value, site, leave="Tab"):
    """Type a count and leave the field: htmx saves it; wait until the server has it."""
    # A boosted navigation (the filter, Next) may still be swapping the rows in: typing into
    # the row it is about to replace would be lost with it.
    page.wait_for_function("() => !document.querySelector("
                           "'.htmx-request, .htmx-swapping, .htmx-settling')")
    page.fill(f"#count-{product_id}", value)
    page.keyboard.press(leave)
    page.wait_for_selector(f"#count-row-{product_id}.counted", timeout=15_000)  # CI load
    assert product_id in counted(site)


def test_counts_survive_filter_paging_reload_and_a_second_phone_then_apply(browser, phone,
                                                                           shop):
    page, site = phone.page, shop
    url = f"{site['url']}/stores/{site['khi']}/count"
    page.goto(url)
    assert progress(page) == "0 of 28 counted"
    assert page.locator(".count-line").count() == 20
    # The first product to count and Review are both on the first screen.
    assert_on_screen(page, ".count-line input >> nth=0")
    assert_on_screen(page, "#count-bar button[value=review]")
    page.screenshot(path=str(ARTIFACTS / "count-page-screen.png"))

    # A count saved as it is entered; the progress follows.
    type_count(page, site["chawal"], "47.5", site)
    assert progress(page) == "1 of 28 counted"
    assert "-2.5" in page.locator(f"#count-row-{site['chawal']} .sub").inner_text()
    type_count(page, site["cheeni"], "44", site)
    assert progress(page) == "2 of 28 counted"
    assert_on_screen(page, "#count-bar button[value=review]")

    # Filter by category: the counts already typed stay; count one spice there.
    page.select_option("#count-category", "Spice")
    page.click("button[value=show]")
    page.wait_for_url(lambda u: "category=Spice" in u)
    assert page.locator(".count-line").count() == 20
    type_count(page, site["masala00"], "9", site)
    assert progress(page) == "3 of 28 counted"
    # Typed and Next tapped at once: the form saves it before page 2 shows.
    page.fill(f"#count-{site['masala01']}", "8")
    page.click("button[name=goto]")
    page.wait_for_url(lambda u: "page=2" in u)
    assert counted(site)[site["masala01"]] == Decimal("8")
    assert page.locator(".count-line").count() == 4
    type_count(page, site["masala23"], "11", site)
    assert progress(page) == "5 of 28 counted"

    # A reload, then back to all categories: every count is where it was typed.
    page.reload()
    assert progress(page) == "5 of 28 counted"
    assert page.input_value(f"#count-{site['masala23']}") == "11"
    page.select_option("#count-category", "")
    page.click("button[value=show]")
    page.wait_for_url(lambda u: "category" not in u)
    assert page.input_value(f"#count-{site['chawal']}") == "47.5"
    assert page.input_value(f"#count-{site['cheeni']}") == "44"
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "count-page")

    # A second phone counting the same store sees the same count and adds to it.
    other = Watched(browser, site, "manager")
    other.page.goto(url)
    assert progress(other.page) == "5 of 28 counted"
    assert other.page.input_value(f"#count-{site['chawal']}") == "47.5"
    other.page.fill("#count-q", "sunridge")
    other.page.keyboard.press("Enter")
    other.page.wait_for_url(lambda u: "q=sunridge" in u)
    type_count(other.page, site["atta"], "50", site)
    other.close()

    # Review: every counted product with its difference; Apply on the first screen.
    page.reload()
    assert progress(page) == "6 of 28 counted"
    page.locator("#count-bar button[value=review]").click()
    page.wait_for_url(lambda u: u.endswith("/count/review"))
    rows = {int(li.get_attribute("data-product-id")): li.locator(".change").text_content().strip()
            for li in page.locator("li[data-product-id]").all()}
    assert rows == {site["chawal"]: "-2.5", site["cheeni"]: "-6", site["masala00"]: "-1",
                    site["masala01"]: "-2", site["masala23"]: "+1", site["atta"]: "0"}
    assert_on_screen(page, "button[value=apply]")
    page.screenshot(path=str(ARTIFACTS / "count-review-screen.png"))
    shot(page, "count-review")

    before = {name: level(site, name) for name in ("chawal", "atta", "cheeni")}
    with site["app"].app_context():
        last = db.session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc())
                                 .limit(1))
        db.session.remove()
    page.click("button[value=apply]")
    page.wait_for_selector(".flash-success")
    assert "Count applied: 5 adjustments, 1 unchanged." in \
        page.locator(".flash-success").inner_text()
    with site["app"].app_context():
        written = db.session.execute(
            select(StockMovement.product_id, StockMovement.type, StockMovement.reason,
                   StockMovement.delta, StockMovement.counted_quantity,
                   StockMovement.expected_quantity)
            .where(StockMovement.id > last).order_by(StockMovement.product_id)).all()
        db.session.remove()
    expected = sorted([
        (site["chawal"], "adjustment", "count", Decimal("-2.5"), Decimal("47.5"),
         before["chawal"]),
        (site["cheeni"], "adjustment", "count", Decimal("-6"), Decimal("44"), before["cheeni"]),
        (site["masala00"], "adjustment", "count", Decimal("-1"), Decimal("9"), Decimal("10")),
        (site["masala01"], "adjustment", "count", Decimal("-2"), Decimal("8"), Decimal("10")),
        (site["masala23"], "adjustment", "count", Decimal("1"), Decimal("11"), Decimal("10"))])
    assert [tuple(r) for r in written] == expected
    assert level(site, "chawal") == Decimal("47.5") and level(site, "atta") == before["atta"]
    assert counted(site) == {}
    assert progress(page) == "0 of 28 counted"
    shot(page, "count-applied")


def test_discarding_a_count_asks_once_and_says_it_cannot_be_undone(phone, shop):
    """Issue 24, item 2: Discard is behind its question (what goes, that stock does not change,
    that it cannot be brought back); only the answer inside it discards."""
    page, site = phone.page, shop
    before = level(site, "chawal")
    page.goto(f"{site['url']}/stores/{site['khi']}/count")
    type_count(page, site["chawal"], "12", site)
    page.locator("#count-bar button[value=review]").click()
    page.wait_for_url(lambda u: u.endswith("/count/review"))
    answer = page.locator("details.discard button.danger")
    assert not answer.is_visible()            # one stray tap cannot discard
    page.locator("details.discard summary").click()
    question = page.locator("details.discard p").first
    assert question.inner_text() == ("This throws away 1 count, from every phone. Stock does "
                                     "not change. A discarded count cannot be brought back.")
    assert answer.is_visible()
    assert counted(site) == {site["chawal"]: Decimal("12")}   # asking wrote nothing
    answer.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "count-discard-confirm.png"))
    answer.click()
    page.wait_for_selector(".flash-success")
    assert "Discarded the count of 1 product." in page.locator(".flash-success").inner_text()
    assert counted(site) == {} and level(site, "chawal") == before


def test_a_tracked_product_with_two_batches_is_counted_date_by_date(phone, shop):
    """Issue 26, item 5: one field per batch date, kept across a reload, applied per date."""
    from pathlib import Path

    from webapp.services.ledger.batches import NO_BATCH_VIOLATIONS, batch_violations
    page, site = phone.page, shop
    with site["app"].app_context():
        dahi = make_product(sku="DAHI-COUNT", name="Dahi Count", unit="piece",
                            category="Dairy", tracks_expiry=True).id
        for quantity, day, code in ((6, "2027-05-31", None), (4, "2027-06-30", "B7")):
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=site["khi"], product_id=dahi, type="stock_in", quantity=quantity,
                expires_on=day, batch_code=code))
        db.session.remove()
    page.goto(f"{site['url']}/stores/{site['khi']}/count?q=DAHI-COUNT")
    row = page.locator(f"#count-row-{dahi}")
    assert row.locator("input[type=text]").count() == 2
    assert "31 May 2027" in row.inner_text() and "B7" in row.inner_text()
    for n, value in ((0, "5"), (1, "3")):
        page.fill(f"#batch-{dahi}-{n}", value)
        page.keyboard.press("Tab")
        page.wait_for_selector(f"input[name='wasb-{dahi}-{n}'][value='{value}']",
                               state="attached", timeout=15_000)  # saved, the row swapped in
    assert counted(site)[dahi] == Decimal("8")
    page.reload()
    assert page.input_value(f"#batch-{dahi}-0") == "5"
    assert page.input_value(f"#batch-{dahi}-1") == "3"
    assert_on_screen(page, f"#batch-{dahi}-1")
    shots = Path("/work/wt/shots/h26c")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "count-per-date.png"))
    page.locator("#count-bar button[value=review]").click()
    page.wait_for_url(lambda u: u.endswith("/count/review"))
    assert "30 Jun 2027" in page.locator(f"li[data-product-id='{dahi}']").inner_text()
    page.screenshot(path=str(shots / "count-per-date-review.png"))
    page.click("button[value=apply]")
    page.wait_for_selector(".flash-success")
    with site["app"].app_context():
        held = dict(((str(r[0]), r[1]), r[2]) for r in db.session.execute(
            select(StockBatch.expires_on, StockBatch.batch_code, StockBatch.quantity)
            .where(StockBatch.store_id == site["khi"], StockBatch.product_id == dahi)))
        assert batch_violations(db.session.connection()) == NO_BATCH_VIOLATIONS
        db.session.remove()
    assert held == {("2027-05-31", ""): Decimal("5"), ("2027-06-30", "B7"): Decimal("3")}
    assert counted(site) == {}
