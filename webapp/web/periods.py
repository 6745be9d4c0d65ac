"""Date shortcuts for every page with a from/to filter: today, yesterday, this week, this month.

Pakistan days (services/reports.period; a week starts on Monday). Each shortcut is a plain link
that keeps the page's other filters and sets its from/to, so it takes one tap and needs no
JavaScript. `span_words` says a range the way the folded filters' summary shows it.
"""
from dataclasses import dataclass
from datetime import date

from flask import url_for
from flask_babel import gettext

from webapp.services import reports
from webapp.services.errors import N_
from webapp.web.filters import day
from webapp.web.i18n import translate

LABELS = {"today": N_("Today"), "yesterday": N_("Yesterday"), "this_week": N_("This week"),
          "this_month": N_("This month")}


@dataclass(frozen=True)
class Shortcut:
    label: str
    url: str
    active: bool


def _iso(value):
    return value.isoformat() if isinstance(value, date) else (value or "")


def shortcuts(endpoint, args, from_name="from", to_name="to", **values):
    """The four shortcut links for `endpoint`, each keeping `args` but page, from and to."""
    today = reports.today()
    kept = {k: v for k, v in args.items() if k not in ("page", from_name, to_name) and v}
    chosen = (_iso(args.get(from_name)), _iso(args.get(to_name)))
    links = []
    for name in reports.PERIODS:
        span = reports.period(name, today)
        bounds = (span.start.isoformat(), span.end.isoformat())
        links.append(Shortcut(translate(LABELS[name]), url_for(
            endpoint, **values, **kept, **{from_name: bounds[0], to_name: bounds[1]}),
            chosen == bounds))
    return links


def _day(value):
    """A date from a date or an ISO string; None for nothing or for what is not a date."""
    if isinstance(value, date) or not value:
        return value or None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def span_words(start, end):
    """"This week" when the range is a shortcut's, else "1 Mar 2026 – 3 Mar 2026" (or one day)."""
    start, end = _day(start), _day(end)
    if start and end:
        for name in reports.PERIODS:
            span = reports.period(name)
            if (span.start, span.end) == (start, end):
                return translate(LABELS[name])
        if start == end:
            return day(start)
        return gettext("%(start)s – %(end)s", start=day(start), end=day(end))
    if start:
        return gettext("from %(day)s", day=day(start))
    if end:
        return gettext("until %(day)s", day=day(end))
    return ""


def register(app):
    app.add_template_global(shortcuts, "date_shortcut_links")
    app.add_template_global(span_words, "span_words")
