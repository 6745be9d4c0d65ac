"""Parsing of the values every door (form, JSON, sync batch) hands to the services."""
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from webapp.models.types import MONEY_PLACES, QUANTITY_PLACES
from webapp.services.errors import DomainError, N_

# The one place Pakistan time is named (not a setting: reports, the daily summary written with
# each movement, the pages and Flask-Babel all count Pakistan days; see config.py).
PAKISTAN = ZoneInfo("Asia/Karachi")
# The bounds of what a client may send (SPEC invariant 10; docs/security.md, "Bounds"). Each is
# checked at the door, and every stored figure and every sum over a table's life has room for
# what they allow (models/types.py: SumMoney, SumQuantity), so no input within them can make a
# later request fail.
MAX_QUANTITY = Decimal("1000000000")  # one movement or line: a billion units is a typo
# One price or cost, and one movement's value (quantity × its price or cost), a basket line's
# total and a basket's total: what Numeric(12,2) holds (Rs 9.99 arab).
MAX_MONEY = Decimal("9999999999.99")
# A stock level, either side of zero: ten movements of the largest quantity (the column,
# Numeric(14,3), holds ten times more). A movement that takes a level towards zero is allowed.
MAX_LEVEL = Decimal("10000000000")


# Digits people type on Pakistani phones: Latin, Arabic-Indic (٠-٩) and Extended Arabic-Indic
# (۰-۹, the Urdu keyboard's); the Arabic decimal separator ٫ reads as a point.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬−", "01234567890123456789.,-")
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_SPACES = "\u00a0\u202f\u2009\u200e\u200f\u2066\u2067\u2068\u2069"


def number_text(value, field="quantity", label=N_("Quantity")):
    """One reading of a typed number for pages, API and sync: plain ASCII text for Decimal.

    Accepts each digit system, ٫, a leading + or -, and a comma as the decimal separator when
    it cannot be a thousands separator (1,5 → 1.5); refuses 1,500 (1500 or 1.5?), exponents,
    spaces inside the number, and anything else that is not a plain decimal number.
    """
    text = str(value).strip(" \t\r\n" + _SPACES).translate(_DIGITS)
    if not text:
        raise DomainError("invalid", N_("%(label)s is required.", label=label), field=field)
    if "," in text:
        whole, _, decimals = text.partition(",")
        if "," in decimals or "." in text or not decimals.isdigit():
            raise DomainError("invalid", N_("%(label)s: write the number without thousands "
                                            "separators, like 1500 or 1.5.", label=label),
                              field=field)
        digits = whole.lstrip("+-")
        if len(decimals) == 3 and digits.isdigit() and not digits.startswith("0"):
            raise DomainError("invalid", N_(
                "%(label)s: %(typed)s could mean %(whole)s or %(decimal)s. Write %(whole)s or "
                "%(decimal)s.", label=label, typed=text, whole=whole + decimals,
                decimal=f"{whole}.{decimals.rstrip('0') or '0'}".rstrip(".")), field=field)
        text = f"{whole}.{decimals}"
    if _PLAIN.fullmatch(text):
        return text
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", text):
        raise DomainError("invalid", N_("%(label)s: write the number in full, without an "
                                        "exponent (100, not 1e2).", label=label), field=field)
    if re.fullmatch(r"[+-]?[\d.]+(\s+[\d.]+)+", text):
        raise DomainError("invalid", N_("%(label)s: write the number without spaces.",
                                        label=label), field=field)
    raise DomainError("invalid", N_("%(label)s must be a number.", label=label), field=field)


def _decimal(value, field, label):
    if isinstance(value, bool) or value is None or value == "":
        raise DomainError("invalid", N_("%(label)s is required.", label=label), field=field)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, Decimal):
        number = value
    else:
        try:
            number = Decimal(number_text(value, field, label))
        except (InvalidOperation, ValueError):
            raise DomainError("invalid", N_("%(label)s must be a number.", label=label),
                              field=field) from None
    if not number.is_finite():
        raise DomainError("invalid", N_("%(label)s must be a finite number.", label=label),
                          field=field)
    return number


def parse_quantity(value, field="quantity", allow_zero=False, label=N_("Quantity")):
    """A positive (or, for counts, non-negative) quantity with at most 3 decimals."""
    number = _decimal(value, field, label)
    if number < 0 or (number == 0 and not allow_zero):
        raise DomainError("invalid", N_("%(label)s must be more than zero.", label=label)
                          if not allow_zero else N_("%(label)s cannot be negative.", label=label),
                          field=field)
    if number > MAX_QUANTITY:
        raise DomainError("invalid", N_("%(label)s is too large.", label=label), field=field)
    if number != number.quantize(QUANTITY_PLACES):
        raise DomainError("invalid", N_("%(label)s can have at most 3 decimals.", label=label),
                          field=field)
    return number.quantize(QUANTITY_PLACES)


def parse_money(value, field, label, required=False):
    """A PKR amount, zero or more, with at most 2 decimals; None when optional and blank."""
    if value is None or value == "":
        if required:
            raise DomainError("invalid", N_("%(label)s is required.", label=label), field=field)
        return None
    number = _decimal(value, field, label)
    if number < 0:
        raise DomainError("invalid", N_("%(label)s cannot be negative.", label=label), field=field)
    if number > MAX_MONEY:
        raise DomainError("invalid", N_("%(label)s is too large.", label=label), field=field)
    if number != number.quantize(MONEY_PLACES):
        raise DomainError("invalid", N_("%(label)s can have at most 2 decimals (paisa).",
                                        label=label), field=field)
    return number.quantize(MONEY_PLACES)


def check_value(quantity, price, field, label=N_("Value")):
    """quantity × price rounded to paisa (half up, as receipts and reports round), refused with
    a 422 naming `field` when it is more than one movement, line or basket may carry."""
    if price is None:
        return Decimal(0)
    value = (quantity * price).quantize(MONEY_PLACES, ROUND_HALF_UP)
    if value > MAX_MONEY:
        raise DomainError("out_of_range", N_(
            "%(label)s comes to Rs %(value)s: one movement, line or sale may carry at most "
            "Rs %(max)s.", label=label, value=f"{value:,.2f}", max=f"{MAX_MONEY:,.2f}"),
            field=field, max=str(MAX_MONEY))
    return value


def check_total(total, field, label=N_("Total")):
    """A sum of checked values (a basket's total) refused above MAX_MONEY."""
    return check_value(total, Decimal(1), field, label)


def parse_text(value, field, label, max_length, required=False):
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise DomainError("invalid", N_("%(label)s is required.", label=label), field=field)
    if len(text) > max_length:
        raise DomainError("invalid", N_("%(label)s can be at most %(count)s characters.",
                                        label=label, count=max_length),
                          field=field)
    if "\x00" in text:
        raise DomainError("invalid", N_("%(label)s contains an invalid character.", label=label),
                          field=field)
    return text


def parse_id(value, field, label):
    if isinstance(value, bool):
        raise DomainError("invalid", N_("%(label)s must be a whole number.", label=label),
                          field=field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError("invalid", N_("%(label)s must be a whole number.", label=label),
                          field=field) from None
    if number <= 0 or number > 2**31 - 1:
        raise DomainError("invalid", N_("%(label)s is not a valid id.", label=label), field=field)
    return number


def parse_lines(lines, field, limit, empty, too_many, shape):
    """A request's list of lines (a basket, an order, a count) as [(index, line dict)]: the
    refusals for no list, an empty one, more than `limit` lines, or a line that is not an
    object carry each caller's own words."""
    if not isinstance(lines, (list, tuple)) or not lines:
        raise DomainError("invalid", empty, field=field)
    if len(lines) > limit:
        raise DomainError("invalid", too_many, field=field)
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise DomainError("invalid", shape, field=f"{field}.{i}")
    return list(enumerate(lines))


def parse_product_lines(lines, field, limit, empty, too_many, shape, twice, kept):
    """parse_lines for lines that each name a product (an order, a delivery, a count, a
    return): yields (index, product id, line) in order, the id checked; a product already in
    `kept` (the caller's lines so far) is refused with `twice`."""
    for i, line in parse_lines(lines, field, limit, empty, too_many, shape):
        pid = parse_id(line.get("product_id"), f"{field}.{i}.product_id", "Product")
        if pid in kept:
            raise DomainError("invalid", twice, field=f"{field}.{i}.product_id")
        yield i, pid, line


# An expiry date a batch may carry (services/ledger/batches.py): a calendar day in these years.
EXPIRY_YEARS = (2000, 2199)
MAX_BATCH_CODE = 64


def parse_expiry(value, field="expires_on"):
    """A batch's expiry date: a day as YYYY-MM-DD (Latin or Urdu digits), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip().translate(_DIGITS))
        except ValueError:
            raise DomainError("invalid", N_("Expiry date must be a date (YYYY-MM-DD)."),
                              field=field) from None
    if not EXPIRY_YEARS[0] <= value.year <= EXPIRY_YEARS[1]:
        raise DomainError("invalid", N_("Expiry date must be between the years %(first)s and "
                                        "%(last)s.", first=EXPIRY_YEARS[0],
                                        last=EXPIRY_YEARS[1]), field=field)
    return value


def parse_batch_code(value, field="batch_code"):
    """A batch code as the supplier printed it ("" when none): free text, one line."""
    code = parse_text(value, field, N_("Batch code"), MAX_BATCH_CODE)
    if any(ch in code for ch in "\r\n\t"):
        raise DomainError("invalid", N_("%(label)s contains an invalid character.",
                                        label=N_("Batch code")), field=field)
    return code


def parse_datetime(value, field="occurred_at", label=N_("Time")):
    """A client time: ISO 8601; without an offset it is taken as Pakistan time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise DomainError("invalid", N_("%(label)s must be an ISO 8601 date and time.",
                                            label=label),
                              field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PAKISTAN)
    moment = moment.astimezone(timezone.utc)
    if moment > datetime.now(timezone.utc) + timedelta(days=1):
        raise DomainError("invalid", N_("%(label)s is in the future.", label=label), field=field)
    if moment.year < 2000:
        raise DomainError("invalid", N_("%(label)s is too far in the past.", label=label),
                          field=field)
    return moment


def pakistan_day_start(day):
    """The aware moment a Pakistan calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=PAKISTAN)


def time_bound(value, field, end=False):
    """A filter bound: an exact moment, or a Pakistan day (its start; the next day's for `to`)."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=PAKISTAN)
        else:
            if not isinstance(value, date):
                value = datetime.strptime(str(value).strip()[:10], "%Y-%m-%d").date()
            moment = pakistan_day_start(value + timedelta(days=1) if end else value)
        # In UTC here, as the database is asked: 0001-01-01 in Pakistan is no UTC moment.
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise DomainError("invalid", N_("Use a date like 2026-01-31."), field=field) from None


def iso_time(value):
    """An aware moment as ISO 8601 text, None as None (how every door writes times)."""
    return None if value is None else value.isoformat()


def pakistan_day(moment):
    """The calendar day in Pakistan that an aware UTC moment falls on."""
    return moment.astimezone(PAKISTAN).date()


# --- codes: SKU, barcode, store code, username (issue 13) -------------------------------------
# Codes are typed on phones, read by scanners and printed on labels, and one code must mean one
# thing: "ＣＨＥＥＮＩ" (full width), "CHEE\u200bNI" (zero-width space) and "CЕENI" (Cyrillic Е)
# must not sit beside "CHEENI". So a code is NFKC-normalised (full width → ASCII), refused if it
# holds an invisible or control character, and then limited to a small ASCII alphabet:
#   SKU         A–Z a–z 0–9 - _ . /     (up to 64)
#   barcode     A–Z a–z 0–9 - . / +     (up to 64; EAN/UPC digits, Code 128 labels)
#   store code  A–Z 0–9 - _             (up to 32, upper-cased)
#   username    a–z A–Z 0–9 . _ - @     (up to 64)
# Names, notes and addresses stay free Unicode (Urdu included).
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
SKU_ALPHABET = _ASCII_ALNUM | frozenset("-_./")
BARCODE_ALPHABET = _ASCII_ALNUM | frozenset("-./+")
STORE_CODE_ALPHABET = _ASCII_ALNUM | frozenset("-_")
USERNAME_ALPHABET = _ASCII_ALNUM | frozenset("._-@")
# Unicode categories that draw nothing or control the text: format (zero-width, bidi marks),
# control, surrogate, private use, unassigned, line and paragraph separators.
_INVISIBLE = frozenset(("Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"))


def _code(value, field, label, max_length, alphabet, allowed, required):
    import unicodedata

    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    if any(unicodedata.category(c) in _INVISIBLE for c in text):
        raise DomainError("invalid", f"{label} contains an invisible or control character.",
                          field=field)
    text = parse_text(text, field, label, max_length, required=required)
    if not all(c in alphabet for c in text):
        raise DomainError("invalid", f"{label} may use {allowed} only.", field=field)
    return text


def parse_sku(value, field="sku", required=True):
    """A SKU: NFKC, no invisible characters, ASCII letters, digits and - _ . / (≤ 64)."""
    return _code(value, field, "SKU", 64, SKU_ALPHABET,
                 "letters A–Z, digits, - _ . and /", required)


def parse_barcode(value, field="barcode"):
    """A barcode or None: NFKC, ASCII letters, digits and - . / + (≤ 64)."""
    return _code(value, field, "Barcode", 64, BARCODE_ALPHABET,
                 "letters A–Z, digits, - . / and +", False) or None


def parse_store_code(value, field="code", label="Code", required=True):
    """A store code, upper-cased: ASCII letters, digits, - and _ (≤ 32)."""
    return _code(value, field, label, 32, STORE_CODE_ALPHABET,
                 "letters, digits, - and _", required).upper()


def parse_reference(value, field="reference"):
    """A provisional receipt number ("LHR1-A7KX-0042": store code, device, sequence) or None:
    upper-cased, ASCII letters, digits, - and _ (≤ 48)."""
    return _code(value, field, "Reference", 48, STORE_CODE_ALPHABET,
                 "letters, digits, - and _", False).upper() or None


def parse_username(value, field="username", required=True):
    """A username: NFKC, ASCII letters, digits and . _ - @ (≤ 64)."""
    return _code(value, field, "Username", 64, USERNAME_ALPHABET,
                 "letters, digits and . _ - @", required)
