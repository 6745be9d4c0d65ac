"""Customers and their khata (the udhaar book): credit sales, payments, voids and returns.

The khata is append-only like the stock ledger. Every change of a customer's balance is one
guarded UPDATE of the customer's row (`balance = balance + :delta`, with the credit limit and
"never below zero" in its WHERE), which takes the row's lock until the transaction ends, and
one INSERT of the entry with the balance the UPDATE returned. So two phones selling on credit to
one customer near the limit are serialised by that lock and cannot pass it together, and each
entry's `balance_after` is the balance right after it (invariant 8). A credit sale costs the
basket two round trips more; a cash sale none (services/sales.py).

Lock order: a sale or a void locks its levels (and the sale row) first and the customer last;
a payment locks only the customer. No writer takes them the other way round.
"""
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import quote

from flask_babel import force_locale, gettext
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import (
    LANGUAGES,
    RECEIVE_METHODS,
    Customer,
    CustomerEntry,
    CustomerReceivableAges,
    ReceivableAges,
    Store,
)
from webapp.models.report import AGE_COLUMNS
from webapp.models.types import MONEY_PLACES
from webapp.services import (
    aging,
    audit,
    commands,
    idempotency,
    ledger,
    policy,
    report_rollups,
)
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.paging import paginate
from webapp.services.sql import exact_sum
from webapp.services.validation import (
    iso_time,
    pakistan_day,
    parse_id,
    parse_money,
    parse_text,
)

CUSTOMERS = Customer.__table__
ENTRIES = CustomerEntry.__table__
STORES = Store.__table__
ZERO = Decimal("0.00")


# ---------------------------------------------------------------------------------------------
# Phones and money as people read them


def normalise_phone(value, field="phone"):
    """A Pakistani number as +92 and its digits (0300 1234567, 923001234567, +92 300 1234567
    and 0092… are one number); None when blank; DomainError on `field` otherwise."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    if len(digits) != sum(ch.isdigit() for ch in text) or \
            any(not (ch.isdigit() or ch in " -+().") for ch in text):
        raise DomainError("invalid", N_("Write the phone number in digits, like 0300 1234567."),
                          field=field)
    if digits.startswith("0092"):
        digits = digits[4:]
    elif digits.startswith("92") and (text.startswith("+") or len(digits) >= 12):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    if not 9 <= len(digits) <= 10 or digits.startswith("0"):
        raise DomainError("invalid", N_("Write the phone number in digits, like 0300 1234567."),
                          field=field)
    return "+92" + digits


def money_text(amount):
    """Rs figures in Western digits, as Urdu in Pakistan writes them: 1,250 or 1,250.50."""
    amount = Decimal(amount).quantize(MONEY_PLACES)
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _text(value):
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Customers


def customer_dict(row):
    return {"id": row.id, "store_id": row.store_id, "name": row.name, "phone": row.phone,
            "credit_limit": _text(row.credit_limit), "balance": _text(row.balance),
            "language": row.language, "note": row.note,
            "created_at": iso_time(row.created_at), "updated_at": iso_time(row.updated_at)}


def _parse_fields(raw, partial=False):
    fields = {}
    if not partial or "name" in raw:
        fields["name"] = parse_text(raw.get("name"), "name", "Name", commands.MAX_NAME,
                                    required=True)
    if "phone" in raw or not partial:
        fields["phone"] = normalise_phone(raw.get("phone"))
    if "credit_limit" in raw or not partial:
        fields["credit_limit"] = parse_money(raw.get("credit_limit"), "credit_limit",
                                             "Credit limit")
    if "language" in raw or not partial:
        language = raw.get("language") or "ur"
        if language not in LANGUAGES:
            raise DomainError("invalid", N_("Language must be ur or en."), field="language")
        fields["language"] = language
    if "note" in raw or not partial:
        fields["note"] = parse_text(raw.get("note"), "note", "Note", commands.MAX_NOTE)
    return fields


def _duplicate(phone):
    return Conflict("duplicate", N_("A customer with the phone %(phone)s is already in this "
                                    "store.", phone=phone), field="phone")


def _check_phone_free(conn, store_id, phone, customer_id=None):
    if phone is None:
        return
    query = select(CUSTOMERS.c.id).where(CUSTOMERS.c.store_id == store_id,
                                         CUSTOMERS.c.phone == phone)
    if customer_id is not None:
        query = query.where(CUSTOMERS.c.id != customer_id)
    if conn.execute(query).first():
        raise _duplicate(phone)


def create_customer(actor, user, *, store_id, idempotency_key=None, **raw):
    """A new customer of a store the actor may sell in → {"customer"} (balance 0); 409
    duplicate when the store already has that phone. (`user` is kept for the doors' calls;
    who may is asked by the handler.)"""
    return handle(actor, parse_new_customer(store_id, raw), idempotency_key)


def parse_new_customer(store_id, raw):
    """A checked commands.NewCustomer from a door's raw values; DomainError if not."""
    fields = _parse_fields(raw)
    return commands.NewCustomer(parse_id(store_id, "store_id", "Store"), fields["name"],
                                fields["phone"], fields["credit_limit"], fields["language"],
                                fields["note"])


def udhaar_customer(actor, store_id, customer_id, new_name=None, new_phone=None, key=None):
    """The customer of an udhaar Complete (the counter page, a basket queued offline): the one
    chosen, else a new one by name and phone, created once by `key` (a replay, or the basket
    sent again after a refusal, finds the same customer) → its id."""
    if customer_id in (None, "", 0) and str(new_name or "").strip():
        return create_customer(actor, None, store_id=store_id, name=new_name, phone=new_phone,
                               idempotency_key=key).data["customer"]["id"]
    if customer_id in (None, "", 0):
        raise DomainError("customer_required", N_("Choose the customer for udhaar."),
                          field="customer_id")
    return customer_id


@handles(commands.NewCustomer)
def add_customer(actor, command, idempotency_key=None):
    """Write a new customer (the handler has asked policy)."""
    store_id = command.store_id
    fields = {k: getattr(command, k) for k in ("name", "phone", "credit_limit", "language",
                                               "note")}
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        _check_phone_free(conn, store_id, fields["phone"])
        try:
            with conn.begin_nested():
                customer_id = conn.execute(insert(CUSTOMERS).returning(CUSTOMERS.c.id), {
                    "store_id": store_id, **fields, "balance": ZERO, "created_at": now,
                    "updated_at": now}).scalar()
        except IntegrityError:  # the same phone added at the same moment
            raise _duplicate(fields["phone"]) from None
        row = _row(conn, customer_id)
        audit.record(conn, actor, "customer.create", "customer", customer_id,
                     after=customer_dict(row))
        return {"customer": customer_dict(row)}, None, 201

    return ledger.run_in_transaction(actor, key, {"op": "customer.create", "store_id": store_id,
                                                  **fields}, write)


def update_customer(actor, user, customer_id, *, idempotency_key=None, **raw):
    """Change a customer's name, phone, credit limit, language or note (never the balance)."""
    command = commands.CustomerChange(parse_id(customer_id, "customer_id", "Customer"),
                                      tuple(_parse_fields(raw, partial=True).items()))
    return handle(actor, command, idempotency_key)


@handles(commands.CustomerChange)
def change_customer(actor, command, idempotency_key=None):
    """Write a customer's changed fields (the handler has asked policy)."""
    customer_id, fields = command.customer_id, dict(command.fields)
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        before = _row(conn, customer_id)
        if before is None:
            raise NotFound("Customer")
        if fields.get("phone"):
            _check_phone_free(conn, before.store_id, fields["phone"], customer_id)
        if fields:
            try:
                with conn.begin_nested():
                    conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)
                                 .values(**fields, updated_at=now))
            except IntegrityError:
                raise _duplicate(fields["phone"]) from None
        after = _row(conn, customer_id)
        changed = {k: v for k, v in customer_dict(after).items()
                   if k in fields and customer_dict(before)[k] != v}
        if changed:
            audit.record(conn, actor, "customer.update", "customer", customer_id,
                         before={k: customer_dict(before)[k] for k in changed}, after=changed)
        return {"customer": customer_dict(after)}, None, 200

    return ledger.run_in_transaction(actor, key, {"op": "customer.update", "id": customer_id,
                                                  **fields}, write)


def _row(conn, customer_id):
    return conn.execute(select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)).first()


def get_customer(user, customer_id):
    """A customer's dict, if the user may see its store (NotFound otherwise)."""
    row = _row(db.session.connection(), customer_id) \
        if isinstance(customer_id, int) and 0 < customer_id < 2**31 else None
    if row is None or not policy.can_see_store(user, row.store_id):
        raise NotFound("Customer")
    return customer_dict(row)


def list_customers(user, store_id=None, q=None, page=1, per_page=50, count=True):
    """A Page of the customers the user may see, who owes most first (count=False: no total,
    paging.paginate)."""
    query = select(CUSTOMERS)
    query = policy.in_stores(query, CUSTOMERS.c.store_id, user, store_id)
    q = (q or "").strip()
    if q:
        pattern = f"%{q.replace('%', '').replace('_', '')}%"
        digits = "".join(ch for ch in q if ch.isdigit())
        matches = [CUSTOMERS.c.name.ilike(pattern)]
        if len(digits) >= 3:
            matches.append(CUSTOMERS.c.phone.like(f"%{digits.lstrip('0')}%"))
        query = query.where(or_(*matches))
    return paginate(query, (CUSTOMERS.c.balance.desc(), CUSTOMERS.c.name, CUSTOMERS.c.id),
                    page, per_page, count=count,
                    rows=lambda limited: [customer_dict(r) for r in db.session.execute(limited)])


# The counter's udhaar choice: the store's first 200 customers in list_customers' order, only
# what the choice shows. Built once: the basket renders it on every change of a basket.
PICKER_CUSTOMERS = (
    select(CUSTOMERS.c.id, CUSTOMERS.c.name, CUSTOMERS.c.phone, CUSTOMERS.c.balance)
    .where(CUSTOMERS.c.store_id == bindparam("c_store"))
    .order_by(CUSTOMERS.c.balance.desc(), CUSTOMERS.c.name, CUSTOMERS.c.id)
    .limit(bindparam("c_limit")))


def picker_customers(store_id, limit=200):
    """[{id, name, phone, balance}] of a store the caller has already opened (access.
    store_or_404: the user may see it), who owes most first, as list_customers gives them."""
    rows = db.session.connection().execute(PICKER_CUSTOMERS,
                                           {"c_store": store_id, "c_limit": limit})
    return [{"id": row.id, "name": row.name, "phone": row.phone, "balance": _text(row.balance)}
            for row in rows]


# ---------------------------------------------------------------------------------------------
# The khata's entries


def entry_dict(row):
    return {"id": row.id, "customer_id": row.customer_id, "kind": row.kind,
            "amount": _text(row.amount), "balance_after": _text(row.balance_after),
            "method": row.method, "sale_id": row.sale_id, "note": row.note,
            "user_id": row.user_id, "created_at": iso_time(row.created_at)}


def _move(conn, customer_id, delta, now, *, store_id=None, within_limit=False,
          not_below_zero=False):
    """balance += delta under the row's lock → the new balance, or None when a guard refused
    (or the customer is not there)."""
    stmt = update(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)
    new_balance = exact_sum(conn, CUSTOMERS.c.balance, delta, 2)
    if store_id is not None:
        stmt = stmt.where(CUSTOMERS.c.store_id == store_id)
    if within_limit:
        stmt = stmt.where(or_(CUSTOMERS.c.credit_limit.is_(None),
                              new_balance <= CUSTOMERS.c.credit_limit))
    if not_below_zero:
        stmt = stmt.where(new_balance >= 0)
    balance = conn.execute(stmt.values(balance=new_balance, updated_at=now)
                           .returning(CUSTOMERS.c.balance)).scalar()
    return None if balance is None else Decimal(balance).quantize(MONEY_PLACES)


def _append(conn, actor, customer_id, store_id, kind, amount, balance_after, now, *,
            method=None, sale_id=None, note=""):
    values = {"customer_id": customer_id, "store_id": store_id, "kind": kind, "amount": amount,
              "balance_after": balance_after, "method": method, "sale_id": sale_id,
              "note": note or "", "user_id": actor.user_id, "created_at": now}
    values["id"] = conn.execute(insert(ENTRIES).returning(ENTRIES.c.id), values).scalar()
    return values


def charge_sale(conn, actor, store_id, customer_id, sale_id, amount, now):
    """A credit sale's entry, inside the sale's transaction: two round trips (the guarded
    UPDATE and the INSERT). 409 credit_limit_exceeded past the limit; the caller's transaction
    then rolls back, so nothing is written → the customer's new balance."""
    balance = _move(conn, customer_id, amount, now, store_id=store_id, within_limit=True)
    if balance is None:
        row = _row(conn, customer_id)
        if row is None or row.store_id != store_id:
            raise NotFound("Customer", field="customer_id")
        available = max(ZERO, row.credit_limit - row.balance)
        raise Conflict("credit_limit_exceeded",
                       N_("%(name)s may owe at most Rs %(limit)s; Rs %(available)s is left "
                          "on the khata.", name=row.name, limit=money_text(row.credit_limit),
                          available=money_text(available)),
                       field="payments", credit_limit=str(row.credit_limit),
                       balance=str(row.balance), available=str(available))
    _append(conn, actor, customer_id, store_id, "sale", amount, balance, now, sale_id=sale_id)
    return balance


def check_customer_in_store(conn, customer_id, store_id):
    """A sale names a customer but puts nothing on credit: the customer must be the store's."""
    found = conn.execute(select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == customer_id,
                                                      CUSTOMERS.c.store_id == store_id)).first()
    if found is None:
        raise NotFound("Customer", field="customer_id")


def credit_back(conn, actor, sale, kind, value, now, note=""):
    """A void or return of (part of) a credit sale: the customer's balance goes down by
    `value`, up to what the sale still has on credit (the rest is cash paid back) → the amount
    taken off the khata (0 when the sale had no credit). The sale row is already locked."""
    if not sale.paid_credit or not value:
        return ZERO
    open_credit = Decimal(conn.execute(
        select(func.coalesce(func.sum(ENTRIES.c.amount), 0))
        .where(ENTRIES.c.sale_id == sale.id)).scalar()).quantize(MONEY_PLACES)
    amount = min(open_credit, Decimal(value))
    if amount <= 0:
        return ZERO
    balance = _move(conn, sale.customer_id, -amount, now)
    _append(conn, actor, sale.customer_id, sale.store_id, kind, -amount, balance, now,
            sale_id=sale.id, note=note)
    return amount


def receive_payment(actor, user, customer_id, *, amount, method, note=None,
                    idempotency_key=None):
    """Money received from a customer (cash, card or wallet) → {"entry", "customer"}; more
    than the customer owes is refused (422 on amount)."""
    return handle(actor, parse_payment(customer_id, amount, method, note), idempotency_key)


def parse_payment(customer_id, amount, method, note=None):
    """A checked commands.CustomerPayment from a door's raw values; DomainError if not."""
    return commands.CustomerPayment(parse_id(customer_id, "customer_id", "Customer"),
                                    *parse_money_paid(amount, method, note))


def parse_money_paid(amount, method, note=None):
    """Money handed over (by a customer, or to a supplier): an amount above zero, cash, card
    or wallet, and a note → (amount, method, note); DomainError on the field if not."""
    amount = parse_money(amount, "amount", "Amount", required=True)
    if amount <= 0:
        raise DomainError("invalid", N_("Amount must be more than zero."), field="amount")
    if method not in RECEIVE_METHODS:
        raise DomainError("invalid", N_("Choose cash, card or wallet."), field="method")
    return amount, method, parse_text(note, "note", "Note", commands.MAX_NOTE)


@handles(commands.CustomerPayment)
def take_payment(actor, command, idempotency_key=None):
    """Write a customer's payment: the guarded UPDATE (never below zero) and its entry."""
    customer_id, amount, method, note = (command.customer_id, command.amount, command.method,
                                         command.note)
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        balance = _move(conn, customer_id, -amount, now, not_below_zero=True)
        if balance is None:
            row = _row(conn, customer_id)
            if row is None:
                raise NotFound("Customer")
            raise DomainError("payment_exceeds_balance",
                              N_("This customer owes Rs %(owed)s; take no more than that.",
                                 owed=money_text(row.balance)),
                              field="amount", balance=str(row.balance))
        row = _row(conn, customer_id)
        entry = _append(conn, actor, customer_id, row.store_id, "payment", -amount, balance,
                        now, method=method, note=note)
        audit.record(conn, actor, "customer.payment", "customer", customer_id, after={
            "entry_id": entry["id"], "name": row.name, "amount": str(amount),
            "method": method, "balance_after": str(balance)})
        return {"entry": entry_dict(_Row(entry)), "customer": customer_dict(row)}, None, 201

    return ledger.run_in_transaction(actor, key, {"op": "customer.payment", "id": customer_id,
                                                  "amount": amount, "method": method,
                                                  "note": note}, write)


class _Row:
    def __init__(self, values):
        self.__dict__.update(values)


def entries(user, customer_id, page=1, per_page=50, oldest_first=False):
    """A Page of a customer's khata, newest first (oldest first for a statement)."""
    get_customer(user, customer_id)
    order = ENTRIES.c.id.asc() if oldest_first else ENTRIES.c.id.desc()
    return paginate(select(ENTRIES).where(ENTRIES.c.customer_id == customer_id), (order,),
                    page, per_page,
                    rows=lambda limited: [entry_dict(r) for r in db.session.execute(limited)])


# ---------------------------------------------------------------------------------------------
# The reminder


REMINDER = N_("Assalam-o-Alaikum %(name)s, your balance at %(store)s is Rs %(amount)s. "
              "Please pay when convenient. Thank you.")
NOTHING_OWED = N_("Assalam-o-Alaikum %(name)s, you owe nothing at %(store)s. Thank you.")


def reminder(user, customer_id):
    """{text, whatsapp_url}: the balance in the customer's language (Western digits) and a
    wa.me link that opens WhatsApp with it (to the customer's number when there is one)."""
    customer = get_customer(user, customer_id)
    store = db.session.get(Store, customer["store_id"])
    balance = Decimal(customer["balance"])
    with force_locale(customer["language"]):
        message = REMINDER if balance > 0 else NOTHING_OWED
        text = gettext(message.msgid, name=customer["name"], store=store.name,
                       amount=money_text(balance))
    digits = customer["phone"][1:] if customer["phone"] else ""
    return {"text": text, "whatsapp_url": f"https://wa.me/{digits}?text={quote(text)}",
            "balance": customer["balance"], "language": customer["language"]}


# ---------------------------------------------------------------------------------------------
# Checks


def balances_agree(conn=None):
    """[(customer id, balance, sum of entries)] for every customer whose balance disagrees
    with its entries, or whose last entry's balance_after is not its balance (invariant 8)."""
    conn = conn or db.session.connection()
    sums = (select(ENTRIES.c.customer_id, func.sum(ENTRIES.c.amount).label("total"),
                   func.max(ENTRIES.c.id).label("last"))
            .group_by(ENTRIES.c.customer_id).subquery())
    rows = conn.execute(
        select(CUSTOMERS.c.id, CUSTOMERS.c.balance, sums.c.total, ENTRIES.c.balance_after)
        .select_from(CUSTOMERS.outerjoin(sums, sums.c.customer_id == CUSTOMERS.c.id)
                     .outerjoin(ENTRIES, ENTRIES.c.id == sums.c.last))).all()
    bad = []
    for cid, balance, total, last_after in rows:
        total = Decimal(total or 0).quantize(MONEY_PLACES)
        balance = Decimal(balance).quantize(MONEY_PLACES)
        if balance != total or (last_after is not None
                                and Decimal(last_after).quantize(MONEY_PLACES) != balance):
            bad.append((cid, balance, total))
    return bad


# ---------------------------------------------------------------------------------------------
# Receivables: who owes what, and for how long


AGE_BUCKETS = ("0-30", "31-60", "61-90", "90+")


def receivables_total(user, store_id=None):
    """What the customers of the user's stores owe, in all."""
    query = select(func.coalesce(func.sum(CUSTOMERS.c.balance), 0))
    query = policy.in_stores(query, CUSTOMERS.c.store_id, user, store_id)
    return Decimal(db.session.execute(query).scalar()).quantize(MONEY_PLACES)


def _scope(user, store_id):
    ids = policy.visible_store_ids(user)
    where = [] if ids is None else [CUSTOMERS.c.store_id.in_(sorted(ids) or [0])]
    return where + ([] if store_id is None else [CUSTOMERS.c.store_id == store_id])


def _today(now=None):
    return pakistan_day(now or datetime.now(timezone.utc))


def receivables(user, store_id=None, now=None, customer_ids=None):
    """Who owes what, aged 0–30 / 31–60 / 61–90 / 90+ days → (rows, totals), from the books:
    every customer of the user's stores (or of `store_id`, or the `customer_ids`) who owes."""
    conn = db.session.connection()
    where = _scope(user, store_id)
    if customer_ids is not None:
        where.append(CUSTOMERS.c.id.in_(list(customer_ids) or [0]))
    by_customer = {}
    for customer_id, _store, bucket, part in conn.execute(
            aging.aged_parts(conn, _today(now), *where)):
        ages = by_customer.setdefault(customer_id, {b: ZERO for b in AGE_BUCKETS})
        ages[bucket] += Decimal(part).quantize(MONEY_PLACES)
    if not by_customer:
        return [], {b: ZERO for b in AGE_BUCKETS} | {"total": ZERO}
    people = {r.id: r for r in db.session.execute(
        select(CUSTOMERS.c.id, CUSTOMERS.c.name, CUSTOMERS.c.phone, CUSTOMERS.c.store_id,
               CUSTOMERS.c.balance, STORES.c.code)
        .join(STORES, STORES.c.id == CUSTOMERS.c.store_id)
        .where(CUSTOMERS.c.id.in_(list(by_customer))))}
    result = []
    for customer_id, ages in by_customer.items():
        person = people[customer_id]
        result.append({"customer_id": customer_id, "name": person.name, "phone": person.phone,
                       "store_id": person.store_id, "store_code": person.code,
                       "balance": Decimal(person.balance).quantize(MONEY_PLACES), **ages})
    result.sort(key=lambda r: (-r["balance"], r["name"]))
    totals = {b: sum((r[b] for r in result), ZERO) for b in AGE_BUCKETS}
    totals["total"] = sum((r["balance"] for r in result), ZERO)
    return result, totals


def receivables_export(user, store_id=None, now=None):
    """The receivables CSV → (rows, totals, as_of), rows as `receivables` gives them.

    One store (chosen, or a shopkeeper's only one) is aged live from its books (as_of None).
    Over many stores every customer who owes is read from the summary per customer
    (customer_receivable_ages, kept by the roll-up refresh with receivable_ages: `as_of` says
    when), a row per customer rather than every khata entry; a row's balance is its ages'
    sum, what the customer owed then."""
    ids = policy.visible_store_ids(user)
    if store_id is not None or (ids is not None and len(ids) <= 1):
        rows, totals = receivables(user, store_id, now)
        return rows, totals, None
    conn = db.session.connection()
    summary = CustomerReceivableAges.__table__
    where = [] if ids is None else [summary.c.store_id.in_(sorted(ids) or [0])]
    columns = [summary.c[column] for column in AGE_COLUMNS.values()]
    result = []
    for row in conn.execute(
            select(summary.c.customer_id, CUSTOMERS.c.name, CUSTOMERS.c.phone,
                   summary.c.store_id, STORES.c.code, *columns)
            .join(CUSTOMERS, CUSTOMERS.c.id == summary.c.customer_id)
            .join(STORES, STORES.c.id == summary.c.store_id).where(*where)):
        ages = {b: Decimal(v).quantize(MONEY_PLACES) for b, v in zip(AGE_BUCKETS, row[5:])}
        result.append({"customer_id": row[0], "name": row[1], "phone": row[2],
                       "store_id": row[3], "store_code": row[4],
                       "balance": sum(ages.values(), ZERO), **ages})
    result.sort(key=lambda r: (-r["balance"], r["name"]))
    totals = {b: sum((r[b] for r in result), ZERO) for b in AGE_BUCKETS}
    totals["total"] = sum((r["balance"] for r in result), ZERO)
    return result, totals, report_rollups.as_of(conn)


def receivables_report(user, store_id=None, limit=200, now=None):
    """The receivables page → {rows (the `limit` who owe most), totals, count, as_of}.

    One store (chosen, or a shopkeeper's only one) is aged live from its books. Over many
    stores the totals and the count come from the receivables summary (receivable_ages, kept by
    the roll-up refresh: `as_of` says when) and only the rows shown are aged live, so the page
    reads a row per store and the entries of `limit` customers, not every khata."""
    ids = policy.visible_store_ids(user)
    if store_id is not None or (ids is not None and len(ids) <= 1):
        rows, totals = receivables(user, store_id, now)
        return {"rows": rows[:limit], "totals": totals, "count": len(rows), "as_of": None}
    conn = db.session.connection()
    summary = ReceivableAges.__table__
    where = [] if ids is None else [summary.c.store_id.in_(sorted(ids) or [0])]
    sums = conn.execute(select(func.coalesce(func.sum(summary.c.customers), 0),
                               *(func.coalesce(func.sum(summary.c[column]), 0)
                                 for column in AGE_COLUMNS.values()),
                               func.max(summary.c.day)).where(*where)).one()
    totals = {b: Decimal(v).quantize(MONEY_PLACES) for b, v in zip(AGE_COLUMNS, sums[1:5])}
    totals["total"] = sum(totals.values(), ZERO)
    top = conn.execute(select(CUSTOMERS.c.id).where(CUSTOMERS.c.balance > 0, *_scope(user, None))
                       .order_by(CUSTOMERS.c.balance.desc(), CUSTOMERS.c.id)
                       .limit(limit)).scalars().all()
    rows, _ = receivables(user, None, now, customer_ids=top)
    return {"rows": rows, "totals": totals, "count": sums[0],
            "as_of": report_rollups.as_of(conn)}
