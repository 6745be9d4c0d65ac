"""What each store owes its suppliers: + a receipt against a purchase order (received quantity ×
unit cost), − a payment to the supplier.

One balance row per (supplier, store) moved by a single upsert (`balance = balance + :delta`,
RETURNING the new balance) whose row lock serialises writers, and an append-only entry with
that balance_after, as for customers (services/khata.py). A receipt's entry is written in the
receipt's own transaction (services/purchasing.receive), after its stock-ins.
"""
from decimal import Decimal

from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.models import (
    Store,
    Supplier,
    SupplierBalance,
    SupplierEntry,
)
from webapp.models.types import MONEY_PLACES
from webapp.services import audit, commands, idempotency, ledger, policy
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.khata import money_text, parse_money_paid
from webapp.services.paging import paginate
from webapp.services.sql import exact_sum, upsert
from webapp.services.validation import iso_time, parse_id

BALANCES = SupplierBalance.__table__
ENTRIES = SupplierEntry.__table__
SUPPLIERS = Supplier.__table__
STORES = Store.__table__
ZERO = Decimal("0.00")


def _text(value):
    return None if value is None else str(Decimal(value).quantize(MONEY_PLACES))


def entry_dict(row):
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return {"id": get("id"), "supplier_id": get("supplier_id"), "store_id": get("store_id"),
            "kind": get("kind"), "amount": _text(get("amount")),
            "balance_after": _text(get("balance_after")), "method": get("method"),
            "purchase_receipt_id": get("purchase_receipt_id"), "note": get("note"),
            "user_id": get("user_id"), "created_at": iso_time(get("created_at"))}


def _move(conn, supplier_id, store_id, delta, now):
    stmt = upsert(conn, BALANCES).values(supplier_id=supplier_id, store_id=store_id,
                                         balance=delta, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[BALANCES.c.supplier_id, BALANCES.c.store_id],
        set_={"balance": exact_sum(conn, BALANCES.c.balance, delta, 2), "updated_at": now})
    return Decimal(conn.execute(stmt.returning(BALANCES.c.balance)).scalar()) \
        .quantize(MONEY_PLACES)


def _append(conn, actor, supplier_id, store_id, kind, amount, balance_after, now, *,
            method=None, purchase_receipt_id=None, note=""):
    values = {"supplier_id": supplier_id, "store_id": store_id, "kind": kind,
              "amount": amount, "balance_after": balance_after, "method": method,
              "purchase_receipt_id": purchase_receipt_id, "note": note or "",
              "user_id": actor.user_id, "created_at": now}
    values["id"] = conn.execute(insert(ENTRIES).returning(ENTRIES.c.id), values).scalar()
    return values


def add_receipt(conn, actor, supplier_id, store_id, amount, purchase_receipt_id, now, note=""):
    """A delivery's value on the store's account with the supplier (in the receipt's
    transaction) → the entry, or None when nothing of it had a cost."""
    amount = Decimal(amount).quantize(MONEY_PLACES)
    if amount <= 0:
        return None
    balance = _move(conn, supplier_id, store_id, amount, now)
    return _append(conn, actor, supplier_id, store_id, "receipt", amount, balance, now,
                   purchase_receipt_id=purchase_receipt_id, note=note)


def _supplier(supplier_id):
    supplier = db.session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound("Supplier")
    return supplier


def balance_of(conn, supplier_id, store_id):
    value = conn.execute(select(BALANCES.c.balance).where(
        BALANCES.c.supplier_id == supplier_id, BALANCES.c.store_id == store_id)).scalar()
    return Decimal(value or 0).quantize(MONEY_PLACES)


def pay(actor, user, supplier_id, *, store_id, amount, method, note=None, idempotency_key=None):
    """A payment from a store to a supplier → {"entry", "balance"}; more than the store owes
    is refused (422 on amount)."""
    supplier_id = parse_id(supplier_id, "supplier_id", "Supplier")
    money = parse_money_paid(amount, method, note)
    command = commands.SupplierPayment(supplier_id, parse_id(store_id, "store_id", "Store"),
                                       *money)
    return handle(actor, command, idempotency_key)


@handles(commands.SupplierPayment)
def pay_supplier(actor, command, idempotency_key=None):
    """Write a supplier payment: the balance's upsert (never below zero) and its entry."""
    supplier_id, store_id, amount, method, note = (command.supplier_id, command.store_id,
                                                   command.amount, command.method, command.note)
    supplier_name = _supplier(supplier_id).name
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        balance = _move(conn, supplier_id, store_id, -amount, now)
        if balance < 0:
            owed = balance + amount
            raise DomainError("payment_exceeds_balance",
                              N_("This store owes this supplier Rs %(owed)s; pay no more than "
                                 "that.", owed=money_text(owed)),
                              field="amount", balance=str(owed))
        entry = _append(conn, actor, supplier_id, store_id, "payment", -amount, balance, now,
                        method=method, note=note)
        audit.record(conn, actor, "supplier.payment", "supplier", supplier_id, after={
            "entry_id": entry["id"], "store_id": store_id, "name": supplier_name,
            "amount": str(amount), "method": method, "balance_after": str(balance)})
        return {"entry": entry_dict(entry), "balance": str(balance)}, None, 201

    return ledger.run_in_transaction(actor, key, {"op": "supplier.payment", "id": supplier_id,
                                                  "store_id": store_id, "amount": amount,
                                                  "method": method, "note": note}, write)


def entries(user, supplier_id, store_id, page=1, per_page=50):
    """(balance, Page of entries newest first) of one store's account with a supplier."""
    store_id = parse_id(store_id, "store_id", "Store")
    policy.get_store_or_404(store_id, user)
    _supplier(supplier_id)
    query = select(ENTRIES).where(ENTRIES.c.supplier_id == supplier_id,
                                  ENTRIES.c.store_id == store_id)
    page_ = paginate(query, (ENTRIES.c.id.desc(),), page, per_page,
                     rows=lambda limited: [entry_dict(r) for r in db.session.execute(limited)])
    return balance_of(db.session.connection(), supplier_id, store_id), page_


def owed(user, store_id=None, limit=None):
    """[{supplier_id, supplier_name, store_id, store_code, balance}] that the user's stores owe,
    most first (the `limit` largest), and the total over all of them (the manager's "owed to
    suppliers"). The total and the count are summed in the database, so a manager of 2,000
    stores × 8 suppliers gets the largest few rows, not 16,000 forms."""
    query = (select(BALANCES.c.supplier_id, SUPPLIERS.c.name, BALANCES.c.store_id,
                    STORES.c.code, BALANCES.c.balance)
             .join(SUPPLIERS, SUPPLIERS.c.id == BALANCES.c.supplier_id)
             .join(STORES, STORES.c.id == BALANCES.c.store_id)
             .where(BALANCES.c.balance != 0)
             .order_by(BALANCES.c.balance.desc(), SUPPLIERS.c.name, BALANCES.c.store_id)
             .limit(limit))
    query = policy.in_stores(query, BALANCES.c.store_id, user, store_id)
    rows = [{"supplier_id": r[0], "supplier_name": r[1], "store_id": r[2], "store_code": r[3],
             "balance": _text(r[4])} for r in db.session.execute(query)]
    if limit is None or len(rows) < limit:
        return rows, sum((Decimal(r["balance"]) for r in rows), ZERO)
    total = policy.in_stores(select(func.coalesce(func.sum(BALANCES.c.balance), 0))
                             .where(BALANCES.c.balance != 0), BALANCES.c.store_id, user, store_id)
    return rows, Decimal(db.session.execute(total).scalar()).quantize(MONEY_PLACES)


def owed_count(user, store_id=None):
    """How many (supplier, store) accounts the user's stores owe something on."""
    query = policy.in_stores(select(func.count()).select_from(BALANCES)
                             .where(BALANCES.c.balance != 0), BALANCES.c.store_id, user, store_id)
    return db.session.execute(query).scalar()


def balances_agree(conn=None):
    """[(supplier, store, balance, sum)] where a balance is not the sum of its entries."""
    conn = conn or db.session.connection()
    sums = dict(((r[0], r[1]), Decimal(r[2]).quantize(MONEY_PLACES)) for r in conn.execute(
        select(ENTRIES.c.supplier_id, ENTRIES.c.store_id, func.sum(ENTRIES.c.amount))
        .group_by(ENTRIES.c.supplier_id, ENTRIES.c.store_id)))
    bad = []
    for supplier_id, store_id, balance in conn.execute(
            select(BALANCES.c.supplier_id, BALANCES.c.store_id, BALANCES.c.balance)):
        total = sums.get((supplier_id, store_id), ZERO)
        if Decimal(balance).quantize(MONEY_PLACES) != total:
            bad.append((supplier_id, store_id, balance, total))
    return bad
