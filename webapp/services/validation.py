"""Parsing of the values every door (form, JSON, sync batch) hands to the services."""
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from webapp.models.types import MONEY_PLACES, QUANTITY_PLACES
from webapp.services.errors import DomainError

# The one place Pakistan time is named (not a setting: reports, the daily summary written with
# each movement, the pages and Flask-Babel all count Pakistan days; see config.py).
PAKISTAN = ZoneInfo("Asia/Karachi")
MAX_QUANTITY = Decimal("1000000000")  # a billion units in one movement is a typo
MAX_MONEY = Decimal("9999999999.99")


def _decimal(value, field, label):
    if isinstance(value, bool) or value is None or value == "":
        raise DomainError("invalid", f"{label} is required.", field=field)
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError("invalid", f"{label} must be a number.", field=field) from None
    if not number.is_finite():
        raise DomainError("invalid", f"{label} must be a finite number.", field=field)
    return number


def parse_quantity(value, field="quantity", allow_zero=False, label="Quantity"):
    """A positive (or, for counts, non-negative) quantity with at most 3 decimals."""
    number = _decimal(value, field, label)
    if number < 0 or (number == 0 and not allow_zero):
        raise DomainError("invalid", f"{label} must be more than zero."
                          if not allow_zero else f"{label} cannot be negative.", field=field)
    if number > MAX_QUANTITY:
        raise DomainError("invalid", f"{label} is too large.", field=field)
    if number != number.quantize(QUANTITY_PLACES):
        raise DomainError("invalid", f"{label} can have at most 3 decimals.", field=field)
    return number.quantize(QUANTITY_PLACES)


def parse_money(value, field, label, required=False):
    """A PKR amount, zero or more, with at most 2 decimals; None when optional and blank."""
    if value is None or value == "":
        if required:
            raise DomainError("invalid", f"{label} is required.", field=field)
        return None
    number = _decimal(value, field, label)
    if number < 0:
        raise DomainError("invalid", f"{label} cannot be negative.", field=field)
    if number > MAX_MONEY:
        raise DomainError("invalid", f"{label} is too large.", field=field)
    if number != number.quantize(MONEY_PLACES):
        raise DomainError("invalid", f"{label} can have at most 2 decimals (paisa).", field=field)
    return number.quantize(MONEY_PLACES)


def parse_text(value, field, label, max_length, required=False):
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise DomainError("invalid", f"{label} is required.", field=field)
    if len(text) > max_length:
        raise DomainError("invalid", f"{label} can be at most {max_length} characters.",
                          field=field)
    if "\x00" in text:
        raise DomainError("invalid", f"{label} contains an invalid character.", field=field)
    return text


def parse_id(value, field, label):
    if isinstance(value, bool):
        raise DomainError("invalid", f"{label} must be a whole number.", field=field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError("invalid", f"{label} must be a whole number.", field=field) from None
    if number <= 0 or number > 2**31 - 1:
        raise DomainError("invalid", f"{label} is not a valid id.", field=field)
    return number


def parse_datetime(value, field="occurred_at", label="Time"):
    """A client time: ISO 8601; without an offset it is taken as Pakistan time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise DomainError("invalid", f"{label} must be an ISO 8601 date and time.",
                              field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PAKISTAN)
    moment = moment.astimezone(timezone.utc)
    if moment > datetime.now(timezone.utc) + timedelta(days=1):
        raise DomainError("invalid", f"{label} is in the future.", field=field)
    if moment.year < 2000:
        raise DomainError("invalid", f"{label} is too far in the past.", field=field)
    return moment


def pakistan_day_start(day):
    """The aware moment a Pakistan calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=PAKISTAN)


def time_bound(value, field, end=False):
    """A filter bound: an exact moment, or a Pakistan day (its start; the next day's for `to`)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=PAKISTAN)
    if not isinstance(value, date):
        try:
            value = datetime.strptime(str(value).strip()[:10], "%Y-%m-%d").date()
        except ValueError:
            raise DomainError("invalid", "Use a date like 2026-01-31.", field=field) from None
    return pakistan_day_start(value + timedelta(days=1) if end else value)


def iso_time(value):
    """An aware moment as ISO 8601 text, None as None (how every door writes times)."""
    return None if value is None else value.isoformat()


def pakistan_day(moment):
    """The calendar day in Pakistan that an aware UTC moment falls on."""
    return moment.astimezone(PAKISTAN).date()
