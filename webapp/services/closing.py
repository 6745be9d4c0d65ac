"""The daily cash closing: per store and Pakistan day, once, never edited.

The figures are read from the books in the closing's own transaction and stored with it, so a
closing shows what was known when the day was closed:

- sales by method: the day's sales (by the time they were made: `occurred_at`, else when they
  were recorded) split by their paid_* columns; voids and returns of that day come off —
  their credit part off `credit` (the khata entries they wrote), the rest off `cash` (what a
  return does not take off the khata is paid back in cash);
- customer payments received, by method (the khata's `payment` entries);
- cash paid to suppliers (payables' cash `payment` entries);
- expected cash = opening float (a store setting) + cash sales − cash paid back + customer
  cash payments − cash paid to suppliers; difference = counted − expected.

The unique (store, day) row is inserted with ON CONFLICT DO NOTHING: a second closing of that
day, even at the same moment, is 409 already_closed.
"""
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from flask_babel import force_locale, gettext
from sqlalchemy import and_, func, select

from webapp.extensions import db
from webapp.models import (
    CustomerEntry,
    DailyClosing,
    Sale,
    SaleReversal,
    Store,
    SupplierEntry,
)
from webapp.models.types import MONEY_PLACES
from webapp.services import audit, commands, idempotency, ledger, policy, report_rollups
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.khata import money_text
from webapp.services.paging import paginate
from webapp.services.sql import insert_ignore
from webapp.services.validation import (
    iso_time,
    pakistan_day,
    pakistan_day_start,
    parse_id,
    parse_money,
    parse_text,
)

CLOSINGS = DailyClosing.__table__
SALES = Sale.__table__
REVERSALS = SaleReversal.__table__
CUSTOMER_ENTRIES = CustomerEntry.__table__
SUPPLIER_ENTRIES = SupplierEntry.__table__
STORES = Store.__table__
ZERO = Decimal("0.00")
# Pakistani notes counted one by one, then the coins as one amount (declared with the command).
NOTES, MAX_NOTE_COUNT = commands.NOTES, commands.MAX_NOTE_COUNT


def _money(value):
    return Decimal(value or 0).quantize(MONEY_PLACES)


def parse_day(value, field="business_date"):
    """A Pakistan calendar day (default today), not in the future."""
    today = pakistan_day(datetime.now(timezone.utc))
    if value in (None, ""):
        return today
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError:
            raise DomainError("invalid", N_("Use a date like 2026-01-31."), field=field) from None
    if value > today:
        raise DomainError("invalid", N_("That day has not ended yet."), field=field)
    if value.year < 2000:
        raise DomainError("invalid", N_("Use a date like 2026-01-31."), field=field)
    return value


def parse_notes(notes):
    """{"5000": n, …, "10": n, "coins": amount} → (checked dict, total) or (None, None)."""
    if notes in (None, {}, ""):
        return None, None
    if not isinstance(notes, dict):
        raise DomainError("invalid", N_("Count the notes as {note: how many}."), field="notes")
    allowed = {str(n) for n in NOTES} | {"coins"}
    checked, total = {}, ZERO
    for name, value in notes.items():
        if name not in allowed:
            raise DomainError("invalid", N_("Notes are 5000, 1000, 500, 100, 50, 20, 10 and "
                                            "coins."), field=f"notes.{name}")
        if value in (None, ""):
            continue
        if name == "coins":
            amount = parse_money(value, "notes.coins", "Coins")
            checked[name], total = str(amount), total + amount
            continue
        try:
            count = int(str(value).strip()) if not isinstance(value, bool) else -1
        except ValueError:
            count = -1
        if not 0 <= count <= MAX_NOTE_COUNT:
            raise DomainError("invalid", N_("How many notes: a whole number."),
                              field=f"notes.{name}")
        if count:
            checked[name], total = count, total + int(name) * count
    return checked, _money(total)


def figures(conn, store_id, day):
    """The day's money for one store, as the closing would record it (without the count)."""
    start = pakistan_day_start(day)
    end = pakistan_day_start(day + timedelta(days=1))
    made = func.coalesce(SALES.c.occurred_at, SALES.c.created_at)
    sold = conn.execute(
        select(func.count(), *(func.coalesce(func.sum(SALES.c[f"paid_{m}"]), 0)
                               for m in ("cash", "card", "wallet", "credit")))
        .where(SALES.c.store_id == store_id, SALES.c.created_at >= start - timedelta(days=1),
               made >= start, made < end)).one()
    refunded = conn.execute(
        select(func.coalesce(func.sum(REVERSALS.c.amount), 0))
        .select_from(REVERSALS.join(SALES, SALES.c.id == REVERSALS.c.sale_id))
        .where(SALES.c.store_id == store_id, REVERSALS.c.created_at >= start,
               REVERSALS.c.created_at < end)).scalar()
    in_day = and_(CUSTOMER_ENTRIES.c.store_id == store_id, CUSTOMER_ENTRIES.c.created_at >= start,
                  CUSTOMER_ENTRIES.c.created_at < end)
    khata = dict(conn.execute(
        select(func.coalesce(CUSTOMER_ENTRIES.c.method, CUSTOMER_ENTRIES.c.kind),
               func.sum(CUSTOMER_ENTRIES.c.amount))
        .where(in_day, CUSTOMER_ENTRIES.c.kind != "sale")
        .group_by(func.coalesce(CUSTOMER_ENTRIES.c.method, CUSTOMER_ENTRIES.c.kind))).all())
    to_suppliers = conn.execute(
        select(func.coalesce(func.sum(SUPPLIER_ENTRIES.c.amount), 0))
        .where(SUPPLIER_ENTRIES.c.store_id == store_id, SUPPLIER_ENTRIES.c.kind == "payment",
               SUPPLIER_ENTRIES.c.method == "cash", SUPPLIER_ENTRIES.c.created_at >= start,
               SUPPLIER_ENTRIES.c.created_at < end)).scalar()
    opening_float = conn.execute(select(STORES.c.opening_float)
                                 .where(STORES.c.id == store_id)).scalar()
    credit_reversed = -_money(khata.get("void")) - _money(khata.get("return"))
    cash_paid_back = _money(refunded) - credit_reversed
    f = {
        "opening_float": _money(opening_float),
        "sales_count": sold[0],
        "sales_cash": _money(sold[1]), "sales_card": _money(sold[2]),
        "sales_wallet": _money(sold[3]), "sales_credit": _money(sold[4]),
        "cash_paid_back": cash_paid_back, "credit_reversed": credit_reversed,
        "received_cash": -_money(khata.get("cash")), "received_card": -_money(khata.get("card")),
        "received_wallet": -_money(khata.get("wallet")),
        "paid_to_suppliers": -_money(to_suppliers),
    }
    f["expected_cash"] = (f["opening_float"] + f["sales_cash"] - f["cash_paid_back"]
                          + f["received_cash"] - f["paid_to_suppliers"])
    return f


def _view(f):
    """The figures as the API and the pages show them (text amounts, grouped)."""
    return {
        "opening_float": str(f["opening_float"]),
        "sales_by_method": {
            "cash": str(f["sales_cash"] - f["cash_paid_back"]), "card": str(f["sales_card"]),
            "wallet": str(f["sales_wallet"]),
            "credit": str(f["sales_credit"] - f["credit_reversed"])},
        "gross_sales": {m: str(f[f"sales_{m}"]) for m in ("cash", "card", "wallet", "credit")},
        "cash_paid_back": str(f["cash_paid_back"]),
        "credit_reversed": str(f["credit_reversed"]),
        "customer_payments": {m: str(f[f"received_{m}"]) for m in ("cash", "card", "wallet")},
        "paid_to_suppliers": str(f["paid_to_suppliers"]),
        "expected_cash": str(f["expected_cash"]),
    }


def closing_dict(row):
    f = {name: _money(getattr(row, name)) for name in (
        "opening_float", "sales_cash", "sales_card", "sales_wallet", "sales_credit",
        "cash_paid_back", "credit_reversed", "received_cash", "received_card",
        "received_wallet", "paid_to_suppliers", "expected_cash")}
    return {"id": row.id, "store_id": row.store_id, "business_date": row.business_date.isoformat(),
            **_view(f), "counted_cash": str(_money(row.counted_cash)),
            "difference": str(_money(row.difference)),
            "notes": json.loads(row.notes_count) if row.notes_count else None,
            "note": row.note, "closed_by_id": row.closed_by_id,
            "created_at": iso_time(row.created_at)}


def preview(user, store_id, day=None):
    """What closing the day now would record (no count yet)."""
    store_id = parse_id(store_id, "store_id", "Store")
    policy.get_store_or_404(store_id, user)
    day = parse_day(day)
    f = figures(db.session.connection(), store_id, day)
    return {"store_id": store_id, "business_date": day.isoformat(), **_view(f),
            "sales_count": f["sales_count"]}


def close_day(actor, user, store_id, *, counted_cash=None, notes=None, business_date=None,
              note=None, idempotency_key=None):
    """Close a store's Pakistan day once → {"closing"}; 409 already_closed the second time.

    counted_cash, or a count by note (`notes`: {"5000": n, …, "coins": amount}) that adds up to
    it; when both are given they must agree."""
    return handle(actor, parse_closing(store_id, counted_cash, notes, business_date, note),
                  idempotency_key)


def parse_closing(store_id, counted_cash=None, notes=None, business_date=None, note=None):
    """A checked commands.Closing from a door's raw values; DomainError if not."""
    store_id = parse_id(store_id, "store_id", "Store")
    day = parse_day(business_date)
    notes, notes_total = parse_notes(notes)
    counted = parse_money(counted_cash, "counted_cash", "Counted cash")
    if counted is None:
        if notes_total is None:
            raise DomainError("invalid", N_("Count the cash in the drawer."),
                              field="counted_cash")
        counted = notes_total
    elif notes_total is not None and notes_total != counted:
        raise DomainError("invalid", N_("The notes add up to Rs %(total)s, not Rs %(counted)s.",
                                        total=money_text(notes_total),
                                        counted=money_text(counted)),
                          field="counted_cash")
    return commands.Closing(store_id, counted,
                            tuple(sorted(notes.items())) if notes else None, day,
                            parse_text(note, "note", "Note", commands.MAX_NOTE))


@handles(commands.Closing)
def close(actor, command, idempotency_key=None):
    """Write the day's closing with its figures, once (the handler has asked policy)."""
    store_id, day, counted = command.store_id, command.business_date, command.counted_cash
    notes = dict(command.notes) if command.notes else None
    note = command.note
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        f = figures(conn, store_id, day)
        f.pop("sales_count")
        values = {**f, "store_id": store_id, "business_date": day, "counted_cash": counted,
                  "difference": counted - f["expected_cash"],
                  "notes_count": json.dumps(notes, sort_keys=True) if notes else None,
                  "note": note, "closed_by_id": actor.user_id, "created_at": now}
        closing_id = conn.execute(insert_ignore(conn, CLOSINGS).values(**values)
                                  .returning(CLOSINGS.c.id)).scalar()
        if closing_id is None:
            raise Conflict("already_closed", N_("%(day)s is already closed for this store.",
                                                day=day.isoformat()), field="business_date")
        row = conn.execute(select(CLOSINGS).where(CLOSINGS.c.id == closing_id)).one()
        closing = closing_dict(row)
        audit.record(conn, actor, "closing.create", "daily_closing", closing_id, after={
            "store_id": store_id, "business_date": day.isoformat(),
            "expected_cash": closing["expected_cash"], "counted_cash": closing["counted_cash"],
            "difference": closing["difference"]})
        return {"closing": closing}, None, 201

    return ledger.run_in_transaction(actor, key, {
        "op": "closing", "store_id": store_id, "business_date": day.isoformat(),
        "counted_cash": counted, "notes": notes, "note": note}, write)


def list_closings(user, store_id=None, since=None, until=None, page=1, per_page=50):
    """A Page of closings in the user's stores, newest day first."""
    query = select(CLOSINGS)
    query = policy.in_stores(query, CLOSINGS.c.store_id, user, store_id)
    if since is not None:
        query = query.where(CLOSINGS.c.business_date >= since)
    if until is not None:
        query = query.where(CLOSINGS.c.business_date <= until)
    return paginate(query, (CLOSINGS.c.business_date.desc(), CLOSINGS.c.store_id), page,
                    per_page,
                    rows=lambda limited: [closing_dict(r) for r in db.session.execute(limited)])


def get_closing(user, closing_id):
    row = db.session.execute(select(CLOSINGS).where(CLOSINGS.c.id == closing_id)).first() \
        if isinstance(closing_id, int) and 0 < closing_id < 2**31 else None
    if row is None or not policy.can_see_store(user, row.store_id):
        raise NotFound("Closing")
    return closing_dict(row)


SUMMARY = N_("%(store)s, %(day)s: sales Rs %(sales)s (cash %(cash)s, card %(card)s, wallet "
             "%(wallet)s, udhaar %(credit)s). Udhaar received Rs %(received)s. Cash expected "
             "Rs %(expected)s, counted Rs %(counted)s, difference Rs %(difference)s.")


def summary_text(closing, store_name, language):
    """The end-of-day summary to share on WhatsApp, in `language` (Western digits)."""
    by = closing["sales_by_method"]
    received = sum((Decimal(v) for v in closing["customer_payments"].values()), ZERO)
    with force_locale(language):
        return gettext(SUMMARY.msgid, store=store_name, day=closing["business_date"],
                       sales=money_text(sum((Decimal(v) for v in by.values()), ZERO)),
                       cash=money_text(by["cash"]), card=money_text(by["card"]),
                       wallet=money_text(by["wallet"]), credit=money_text(by["credit"]),
                       received=money_text(received),
                       expected=money_text(closing["expected_cash"]),
                       counted=money_text(closing["counted_cash"]),
                       difference=money_text(closing["difference"]))


def _in(column, store_ids):
    return True if store_ids is None else column.in_(sorted(store_ids) or [0])


def sales_by_method(store_ids, first_day, last_day):
    """The sales report's payment methods over Pakistan days (None: every store): each
    method's sales, and net of voids and returns as a closing counts them (credit part off
    udhaar, the rest off cash) → {"gross": {...}, "net": {...}, "refunded", "credit_reversed"}.

    Days before report_rollups.live_from() are read from the payment roll-up (a row per store
    and day); the live days from the books, by the same query the roll-up is made with."""
    conn = db.session.connection()
    live = report_rollups.live_from(conn)
    names = report_rollups.PAYMENT_TOTALS[1:]
    sums = dict.fromkeys(names, ZERO)
    rolled = report_rollups.PAYMENT_DAYS
    parts = []
    if first_day < live:
        until = min(last_day, live - timedelta(days=1))
        parts.append(select(*(func.coalesce(func.sum(rolled.c[name]), 0) for name in names))
                     .where(rolled.c.day.between(first_day, until),
                            _in(rolled.c.store_id, store_ids)))
    if last_day >= live:
        days = report_rollups.payment_days(
            conn, pakistan_day_start(max(first_day, live)),
            pakistan_day_start(last_day + timedelta(days=1)), store_ids).subquery()
        parts.append(select(*(func.coalesce(func.sum(days.c[name]), 0) for name in names)))
    for query in parts:
        for name, value in zip(names, conn.execute(query).one()):
            sums[name] += _money(value)
    gross = {m: sums[f"paid_{m}"] for m in ("cash", "card", "wallet", "credit")}
    refunded, credit_reversed = sums["refunded"], sums["credit_reversed"]
    net = dict(gross, cash=gross["cash"] - (refunded - credit_reversed),
               credit=gross["credit"] - credit_reversed)
    return {"gross": gross, "net": net, "refunded": refunded,
            "credit_reversed": credit_reversed}


def cash_book(store_id, day):
    """One store's day, money in and out: the closing's figures and every khata and supplier
    payment of the day, in time order."""
    f = figures(db.session.connection(), store_id, day)
    return {"business_date": day.isoformat(), **_view(f), "sales_count": f["sales_count"],
            "entries": payments_of_day({store_id}, day)}


def payments_of_day(store_ids, day):
    """Every customer payment received and supplier payment made in these stores (None: all)
    on a Pakistan day, in time order: {who, at, store_id, name, kind, method, amount}."""
    from webapp.models import Customer, Supplier
    conn = db.session.connection()
    start = pakistan_day_start(day)
    end = pakistan_day_start(day + timedelta(days=1))
    # Both are − entries (the customer owes less, the store owes less): a customer's is shown
    # as money in (+), a supplier's as its entry, money out (−).
    rows = [{"who": who, "at": r.created_at, "store_id": r.store_id, "name": r.name,
             "kind": r.kind, "method": r.method, "amount": sign * _money(r.amount)}
            for who, entries, people, person_id, sign in (
                ("customer", CUSTOMER_ENTRIES, Customer.__table__,
                 CUSTOMER_ENTRIES.c.customer_id, -1),
                ("supplier", SUPPLIER_ENTRIES, Supplier.__table__,
                 SUPPLIER_ENTRIES.c.supplier_id, 1))
            for r in conn.execute(
                select(entries.c.created_at, entries.c.store_id, people.c.name, entries.c.kind,
                       entries.c.method, entries.c.amount)
                .join(people, people.c.id == person_id)
                .where(_in(entries.c.store_id, store_ids), entries.c.kind == "payment",
                       entries.c.created_at >= start, entries.c.created_at < end))]
    rows.sort(key=lambda r: r["at"])
    return rows
