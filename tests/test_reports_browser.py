# ruff: noqa: F811 (the fixtures imported from test_web_browser are parameters here)
"""Manager pages in Chromium at 360×640: on the sales report the filters are folded away and
the first result row is on the first screen; a date shortcut is one tap; the audit log reads as
sentences with the raw event one tap away. On a laptop-wide screen the filters stand open.

Screenshots: test-artifacts/reports-sales*.png, test-artifacts/audit-log*.png.
"""
import pytest
from sqlalchemy import select

from tests.test_counter_browser import assert_on_screen
from tests.live_site import ARTIFACTS
from tests.test_web_browser import (  # noqa: F401 (fixtures)
    Watched,
    browser,
    shot,
    site,
)
from webapp.extensions import db
from webapp.models import User
from webapp.services import audit, reports, sales

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture(scope="module")
def day_at_the_counter(site):  # noqa: F811
    """dukan sells three baskets at KHI-0001; the manager voids one, a customer returns rice."""
    with site["app"].app_context():
        users = dict(db.session.execute(select(User.username, User.id)).all())
        dukan, manager = audit.Actor(users["dukan"]), audit.Actor(users["manager"])
        baskets = [
            [{"product_id": site["chawal"], "quantity": "2"},
             {"product_id": site["cheeni"], "quantity": "1.5"}],
            [{"product_id": site["atta"], "quantity": "1"}],
            [{"product_id": site["chawal"], "quantity": "5"}],
        ]
        sold = [sales.complete_sale(dukan, store_id=site["khi"], lines=lines).data["sale"]
                for lines in baskets]
        sales.void_sale(manager, sold[1]["id"])
        sales.return_lines(manager, sold[2]["id"],
                           lines=[{"product_id": site["chawal"], "quantity": "1"}])
        audit.drain_all()
        # 200 + 150 + 100 + 500 sold, 100 voided and 100 returned; cost is 80 % of the price.
        [today] = reports.sales_by_day(None, reports.period("today"))
        db.session.remove()
    assert (str(today["amount"]), str(today["profit"])) == ("750.00", "150.00")
    return sold


@pytest.fixture(scope="module")
def manager(browser, site, day_at_the_counter):  # noqa: F811
    watched = Watched(browser, site, "manager")
    yield watched
    watched.close()


def test_sales_report_shows_its_first_row_on_the_first_screen(manager, site):  # noqa: F811
    page = manager.page
    page.goto(site["url"] + "/reports/sales")
    fold = page.locator("details.fold")
    assert fold.get_attribute("open") is None
    assert page.locator("details.fold summary").inner_text().split("\n")[0] == "Filters"
    assert not page.locator("form.rp-filters").is_visible()
    assert_on_screen(page, "#sales-per-day tbody tr")
    shot(page, "reports-sales")
    page.locator("#sales-per-day tbody tr").first.screenshot(
        path=str(shot_path("reports-sales-first-row")))
    # One tap on a shortcut: today's figures, the shortcut marked, the row still on screen.
    page.get_by_role("link", name="Today", exact=True).click()
    page.wait_for_url(lambda url: "from=" in url and "to=" in url)
    # (On a Monday "This week" is today too, and says so.)
    assert "Today" in page.locator('.date-shortcuts a[aria-current="true"]').all_inner_texts()
    first_row = page.locator("#sales-per-day tbody tr").first.inner_text()
    assert "750" in first_row and "150" in first_row
    assert "Today" in page.locator("details.fold summary").inner_text()
    assert_on_screen(page, "#sales-per-day tbody tr")
    # The filters are one tap away.
    page.locator("details.fold summary").click()
    assert page.locator("form.rp-filters button[type=submit]").is_visible()
    shot(page, "reports-sales-filters-open")


def test_on_a_wide_screen_the_filters_stand_open(browser, site, day_at_the_counter):  # noqa: F811
    wide = Watched(browser, site, "manager")
    wide.page.set_viewport_size({"width": 1280, "height": 800})
    wide.page.goto(site["url"] + "/reports/sales")
    assert wide.page.locator("details.fold").get_attribute("open") is not None
    assert wide.page.locator("form.rp-filters button[type=submit]").is_visible()
    shot(wide.page, "reports-sales-wide")
    wide.close()


def test_audit_log_reads_as_sentences(manager, site, day_at_the_counter):  # noqa: F811
    page = manager.page
    page.goto(site["url"] + "/audit/")
    assert page.locator("details.fold").get_attribute("open") is None
    words = page.locator(".event-words").all_inner_texts()
    voided = day_at_the_counter[1]["number"]
    assert f"manager voided sale #{voided} at KHI-0001; its goods went back to stock" in words
    assert any(w.startswith("dukan sold 2 products at KHI-0001 (sale #") for w in words)
    assert "manager logged in" in words
    assert_on_screen(page, ".event")
    shot(page, "audit-log")
    raw = page.locator(".event").first.locator("details")
    raw.locator("summary").click()
    assert '"action": "user.login"' in raw.locator("pre").inner_text()
    shot(page, "audit-log-raw-event")


def test_audit_log_in_urdu(browser, site, day_at_the_counter):  # noqa: F811
    urdu = Watched(browser, site, "manager")
    urdu.context.add_cookies([{"name": "lang", "value": "ur", "url": site["url"]}])
    urdu.page.goto(site["url"] + "/audit/")
    assert urdu.page.get_attribute("html", "dir") == "rtl"
    words = urdu.page.locator(".event-words").all_inner_texts()
    assert any("منسوخ" in w and "KHI-0001" in w for w in words)
    shot(urdu.page, "audit-log-urdu")
    urdu.page.goto(site["url"] + "/reports/sales")
    assert_on_screen(urdu.page, "#sales-per-day tbody tr")
    shot(urdu.page, "reports-sales-urdu")
    urdu.close()


def shot_path(name):
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
