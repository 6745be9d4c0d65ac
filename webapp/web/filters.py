"""Template filters: quantities, rupees and Pakistan times the way a shopkeeper reads them.

One way for each, everywhere (pages, reports, flashes):
- `rupees`: "Rs 1,50,000" / "1,50,000 روپے", grouped by the organisation's MONEY_GROUPING
  (lakh: 29,65,200.52; thousands: 2,965,200.52); `money` is the same figure without "Rs",
  for table columns whose heading already says "(Rs)".
- `pkt`: a moment in Pakistan time, "24 Nov 2026, 14:05" (Urdu month names in Urdu); `day`: a
  calendar day, "24 Nov 2026"; `month`: "November 2026".
- `unit`, `movement_type`, `reason`, `role`, `job_status`: stored codes shown as words.
- `measure`: a quantity with its unit, plural where the language has one ("2 pieces",
  "2 عدد", "1.5 kg"), for every place a quantity is shown with its unit (pages, WhatsApp).
"""
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from flask import current_app, has_app_context
from markupsafe import Markup, escape

from webapp.services.errors import N_, Text
from webapp.services.validation import PAKISTAN
from webapp.web.i18n import current_language, gettext, translate, translations

GROUPING = {"lakh": "#,##,##0", "thousands": "#,##0"}

UNITS = {"piece": N_("piece"), "kg": N_("kg"), "g": N_("g"), "litre": N_("litre"),
         "ml": N_("ml"), "pack": N_("pack"), "dozen": N_("dozen")}
MOVEMENT_TYPES = {"stock_in": N_("stock in"), "sale": N_("sale"), "removal": N_("removal"),
                  "adjustment": N_("adjustment"), "transfer_out": N_("transfer out"),
                  "transfer_in": N_("transfer in")}
REASONS = {"damaged": N_("damaged"), "expired": N_("expired"), "lost": N_("lost"),
           "other": N_("other"), "count": N_("count"), "correction": N_("correction"),
           "found": N_("found"), "void": N_("void"), "return": N_("customer return")}
# Notes the system writes on movements, stored in English (the ledger keeps one language): the
# history shows them in the reader's. A note a person typed is shown as typed.
SYSTEM_NOTES = (
    (re.compile(r"^Void of sale #(\d+)$"), N_("Void of sale #%(number)s")),
    (re.compile(r"^Return from sale #(\d+)$"), N_("Return from sale #%(number)s")),
    (re.compile(r"^opening stock \(import\)$"), N_("opening stock (import)")),
)
PAYMENT_METHODS = {"cash": N_("cash"), "card": N_("card"), "wallet": N_("wallet"),
                   "credit": N_("udhaar")}
ENTRY_KINDS = {"sale": N_("udhaar sale"), "payment": N_("payment received"),
               "void": N_("sale voided"), "return": N_("goods returned"),
               "receipt": N_("goods received")}
ROLES = {"admin": N_("admin"), "manager": N_("manager"), "shopkeeper": N_("shopkeeper")}
JOB_STATUSES = {"queued": N_("queued"), "running": N_("running"), "done": N_("done"),
                "failed": N_("failed"), "finished": N_("finished")}


def quantity(value):
    """12.500 → 12.5, 10.000 → 10; blank for None."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _grouping():
    chosen = current_app.config["MONEY_GROUPING"] if has_app_context() else None
    return GROUPING.get(chosen, GROUPING["lakh"])


@lru_cache(maxsize=4096)
def _format_decimal(text, pattern):
    """Babel's format_decimal of Decimal(text), kept: it parses its pattern and finds its
    locale's symbols on every call (~0.1 ms), and a shop shows the same few prices and amounts
    over and over (the quick sale's panel and message, two each)."""
    return format_decimal(Decimal(text), format=pattern, locale="en")


def money(value):
    """A PKR figure with the organisation's grouping: 150, 1,50,000.50 (lakh) / 150,000.50."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    places = "" if number == number.to_integral_value() else ".00"
    return _format_decimal(str(number), _grouping() + places)


def rupees(value):
    """The one rupee format: "Rs 150" in English, "150 روپے" in Urdu."""
    if value is None or value == "":
        return ""
    return gettext("Rs %(amount)s", amount=money(value))


def number(value):
    """A count with the same grouping as money (no decimals)."""
    if value is None or value == "":
        return ""
    return _format_decimal(str(Decimal(str(value))), _grouping())


def ngettext(singular, plural, n, text, **names):
    """gettext's plural lookup with the figure as written ("1.5", not n): flask_babel's own
    ngettext fills %(num)s with n itself. Named ngettext so extraction finds each pair."""
    return translations().ungettext(singular, plural, n) % {"num": text, **names}


def measure(value, unit_code):
    """A quantity and its unit in the reader's language: "1 piece", "2 pieces", "1.5 kg"."""
    if value is None or value == "":
        return ""
    # Only exactly one takes the singular (1.5 kg, 0.5 litres): English and Urdu agree there.
    return _measure(quantity(value), 1 if Decimal(str(value)) == 1 else 2, unit_code)


def measure_words(units):
    """{unit: [one, many]} with "{n}" for the figure: measure's words for a phone that shows
    quantities with no signal (the provisional receipt, static/js/basket.js)."""
    return {code: [_measure("{n}", 1, code), _measure("{n}", 2, code)] for code in units}


def _measure(text, n, unit_code):
    # Each pair spelled out for extraction (a msgid built at run time cannot be found).
    if unit_code == "piece":
        return ngettext("%(num)s piece", "%(num)s pieces", n, text)
    if unit_code == "kg":
        return ngettext("%(num)s kg", "%(num)s kg", n, text)
    if unit_code == "g":
        return ngettext("%(num)s g", "%(num)s g", n, text)
    if unit_code == "litre":
        return ngettext("%(num)s litre", "%(num)s litres", n, text)
    if unit_code == "ml":
        return ngettext("%(num)s ml", "%(num)s ml", n, text)
    if unit_code == "pack":
        return ngettext("%(num)s pack", "%(num)s packs", n, text)
    if unit_code == "dozen":
        return ngettext("%(num)s dozen", "%(num)s dozen", n, text)
    return f"{text} {unit_code}"


def pack_count(packs, pack_name, units):
    """Whole packs as the receipt says them: "1 carton (12)", the figure in brackets the units
    in one pack (units ÷ packs); blank for a line not sold by the pack."""
    if packs is None or packs == "":
        return ""
    count = Decimal(str(packs))
    text, size = quantity(count), quantity(Decimal(str(units)) / count)
    n = 1 if count == 1 else 2
    # Each pair spelled out for extraction; a product without a pack name says "pack".
    if pack_name == "carton":
        return ngettext("%(num)s carton (%(size)s)", "%(num)s cartons (%(size)s)", n, text,
                        size=size)
    if pack_name == "box":
        return ngettext("%(num)s box (%(size)s)", "%(num)s boxes (%(size)s)", n, text,
                        size=size)
    if pack_name == "bag":
        return ngettext("%(num)s bag (%(size)s)", "%(num)s bags (%(size)s)", n, text, size=size)
    if pack_name == "tray":
        return ngettext("%(num)s tray (%(size)s)", "%(num)s trays (%(size)s)", n, text,
                        size=size)
    return ngettext("%(num)s pack (%(size)s)", "%(num)s packs (%(size)s)", n, text, size=size)


def _locale():
    return current_language()


def pakistan_time(moment, fmt=None):
    """A moment in Pakistan time: "24 Nov 2026, 14:05" (fmt '%d %b %Y' for the date only)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if fmt in ("%d %b %Y", "date"):
        return format_date(moment.astimezone(PAKISTAN).date(), "d MMM y", locale=_locale())
    if fmt not in (None, "%d %b %Y %H:%M"):
        return moment.astimezone(PAKISTAN).strftime(fmt)
    pattern = "d MMM y، HH:mm" if _locale() == "ur" else "d MMM y, HH:mm"
    return format_datetime(moment, pattern, tzinfo=PAKISTAN, locale=_locale())


def day(value):
    """A calendar day (already a Pakistan day): "24 Nov 2026"."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(PAKISTAN).date()
    return _format_day(value, _locale())


@lru_cache(maxsize=4096)
def _format_day(value, locale):
    """Babel's day, kept per day and language (~0.05 ms a call; the stock list's expiry flags
    show the same few dates row after row)."""
    return format_date(value, "d MMM y", locale=locale)


def month(value):
    """A calendar month from any day in it: "November 2026" (Urdu month names in Urdu)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "MMMM y", locale=_locale())


def movement_note(text):
    """A movement's note: the system's own notes translated, a person's as typed."""
    if not text:
        return ""
    for pattern, msgid in SYSTEM_NOTES:
        match = pattern.match(text)
        if match:
            values = {"number": match.group(1)} if match.groups() else {}
            return translate(Text(msgid.msgid, **values))  # the number isolated in Urdu
    return text


# A run of Latin letters and digits, with the joiners a road, block or phone number uses,
# across single spaces: "Gulshan-e-Iqbal Block 13-D", "0300-1234567", "#12".
LATIN_RUN = re.compile(r"[#+]?[A-Za-z0-9](?:[A-Za-z0-9.\-/#]|[ ,](?=[#+]?[A-Za-z0-9]))*")


def isolate_runs(text):
    """Free text (an address) as HTML with each Latin or number run in its own <bdi>, so in an
    Urdu line a phone number or a road name keeps its order and cannot swap places with what
    stands next to it ("Gulshan-0300-1234567 · e-Iqbal")."""
    if not text:
        return Markup("")
    out, last = [], 0
    for match in LATIN_RUN.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<bdi class="run">%s</bdi>') % match.group(0))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


class _Words(dict):
    """code → its words in one language; a code the table does not name shows as itself."""

    def __missing__(self, code):
        return "" if code is None else str(code).replace("_", " ")


def _label(table):
    by_language = {}

    def words():
        """Every code's words in the current language. A code's words never change while the
        process runs (the catalogues are compiled before it starts) and a list shows the same
        few codes row after row: gettext once per language and code, not once per row."""
        language = current_language()
        found = by_language.get(language)
        if found is None:
            found = by_language[language] = _Words(
                {code: translate(label) for code, label in table.items()})
        return found

    def show(code):
        return words()[code]

    show.words = words
    return show


unit = _label(UNITS)
movement_type = _label(MOVEMENT_TYPES)
reason = _label(REASONS)
role = _label(ROLES)
job_status = _label(JOB_STATUSES)
payment_method = _label(PAYMENT_METHODS)
entry_kind = _label(ENTRY_KINDS)


def register(app):
    app.add_template_filter(quantity, "qty")
    app.add_template_filter(rupees, "rupees")
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(pakistan_time, "pkt")
    app.add_template_filter(day, "day")
    app.add_template_filter(month, "month")
    app.add_template_filter(unit, "unit")
    app.add_template_filter(measure, "measure")
    app.add_template_filter(pack_count, "pack_count")
    app.add_template_filter(movement_note, "movement_note")
    app.add_template_filter(isolate_runs, "isolate_runs")
    app.add_template_filter(movement_type, "movement_type")
    app.add_template_filter(reason, "reason")
    app.add_template_filter(role, "role")
    app.add_template_filter(job_status, "job_status")
    app.add_template_filter(payment_method, "payment_method")
    app.add_template_filter(entry_kind, "entry_kind")
    # For a list's rows: the words of every unit, looked up once per list (unit_words()[code]).
    app.add_template_global(unit.words, "unit_words")
