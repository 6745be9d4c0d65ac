"""Writes a phone queued while it had no signal, applied when it reconnects.

The phone keeps each tapped action in IndexedDB with an idempotency key and the time it was
tapped, then replays the queue in order. Every item goes through the same ledger call as the
page would have made, with its key (a replay, e.g. after a lost acknowledgement, answers the
first result and writes nothing) and with `occurred_at` = the tap time, so reports put it on the
Pakistan day it happened rather than the day the signal came back.

A tap older than OFFLINE_WINDOW_HOURS is refused for people who are not managers: a phone found
in a drawer a month later must not rewrite last month's figures unseen. The refusal carries a
stable code (`occurred_at_too_old`) and lands in the phone's "needs attention" list.

A page that tries to post at once and loses the reply queues the same action with the same key
(the server may have recorded it). The page sent no tap time, so the queued copy (which carries
one) is a different request for the same key: `_first_result` then asks again without the time,
which answers the first result if that is what the page sent, and still refuses anything else.

Kinds: `movement` (a sale, stock-in or removal from the store page) and `sale` (a basket from
the counter page, through services/sales.py like the page and `POST /api/v1/sales`). Adding a
kind: one function here, one route in blueprints/offline/routes.py, one entry in KINDS in
static/js/offline-queue.js.
"""
import hashlib
from decimal import Decimal

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Customer, Product, StockLevel, Store
from webapp.services import commands, khata, lookup, payments, policy, sales
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.handlers import handle
from webapp.services.validation import parse_datetime

QUEUED_TYPES = ("sale", "stock_in", "removal")


def tap_time(occurred_at):
    """The tap time as an aware UTC datetime (the handler checks it against the window
    policy allows this actor)."""
    moment = parse_datetime(occurred_at)
    if moment is None:
        raise DomainError("invalid", N_("The time the action was made is missing."),
                          field="occurred_at")
    return moment


def _first_result(apply, occurred_at):
    """apply(occurred_at); if the key was first used by the page itself (no tap time), that
    request's result. Never a second write: the retry only matches an existing record."""
    try:
        return apply(occurred_at)
    except DomainError as error:
        if error.code != "idempotency_key_reused" or occurred_at is None:
            raise
    return apply(None)


def _key(item):
    key = item.get("key")
    if not isinstance(key, str) or not key.strip():
        # Without its key a replay could write twice: refuse rather than guess.
        raise DomainError("invalid", N_("The saved item has no key."), field="key")
    return key


def record_movement(actor, store_id, item):
    """Apply one queued sale, stock-in or removal; returns the ledger result."""
    kind = item.get("type")
    if kind not in QUEUED_TYPES:
        raise DomainError("invalid", N_("Choose sale, stock in or removal."), field="type")
    occurred_at = tap_time(item.get("occurred_at"))
    key = _key(item)

    def apply(when):
        command = commands.Movement.parse(
            store_id=store_id, product_id=item.get("product_id"), type=kind,
            quantity=item.get("quantity"),
            supplier_id=(item.get("supplier_id") or None) if kind == "stock_in" else None,
            unit_cost=(item.get("unit_cost") or None) if kind == "stock_in" else None,
            reason=(item.get("reason") or None) if kind == "removal" else None,
            note=item.get("note") or None, occurred_at=when,
            **{name: item[name] for name in ("expires_on", "batch_code")
               if kind != "sale" and item.get(name)})
        return handle(actor, command, key)

    return _first_result(apply, occurred_at)


def complete_sale(actor, store_id, item):
    """Complete one queued basket ({lines, note?, pay?, customer_id?, paid_now?, new_customer?})
    as the counter page would have. The phone's bill is provisional (static/js/bill.js): the
    phone sends its lines without prices and they are priced here at the shop's prices, so the
    Complete step travels as the page's choice: `pay` cash (the default), card or wallet for
    the whole bill, or credit with `paid_now` in cash and the rest on the khata
    (payments.rest_of_bill, priced when it lands). A customer added offline (`new_customer`:
    {name, phone?, key}) is created first with its own key, so a replay, or the basket sent
    again after a refusal, finds the same customer instead of adding another. `reference`
    is the provisional receipt number the phone handed over (the sale keeps it); the page's own
    request (a lost reply, asked again without the tap time) had none."""
    occurred_at = tap_time(item.get("occurred_at"))
    key = _key(item)
    split = payments.rest_of_bill(item.get("pay"), item.get("paid_now"))
    customer_id = item.get("customer_id") or None
    if split is not None and "credit" in split:
        new = item.get("new_customer") if isinstance(item.get("new_customer"), dict) else {}
        customer_id = khata.udhaar_customer(actor, store_id, customer_id, new.get("name"),
                                            new.get("phone"), new.get("key"))
    return _first_result(lambda when: handle(actor, sales.parse_sale(
        store_id, item.get("lines"), item.get("note") or None, when, customer_id,
        split=split, reference=item.get("reference") if when is not None else None), key),
        occurred_at)


def receive_payment(actor, store_id, item):
    """Apply one queued customer payment ({customer_id, amount, method, note?}) of this store,
    as the customer's page would have: refused like there (more than owed → 422 on amount)."""
    tap_time(item.get("occurred_at"))   # a queued item always carries one; the khata dates
    key = _key(item)                    # a payment by when it was received here
    command = khata.parse_payment(item.get("customer_id"), item.get("amount"),
                                  item.get("method") or "cash", item.get("note") or None)
    in_store = db.session.execute(select(Customer.store_id)
                                  .where(Customer.id == command.customer_id)).scalar()
    if in_store != store_id:
        raise NotFound("Customer", field="customer_id")
    return handle(actor, command, key)


def allows_negative_stock(actor, store_id):
    """Whether this store records sales below zero (the phone then offers "Record anyway"
    on a refusal); False for a store the actor does not belong to."""
    return policy.sees_store(actor, store_id) and bool(db.session.execute(
        select(Store.allow_negative_stock).where(Store.id == store_id)).scalar())


def catalog_version(store_id):
    """A tag that changes when the catalogue below would: any product (added, renamed,
    repriced, archived) or any level of the store. The phone keeps its copy while it holds."""
    products = db.session.execute(
        select(func.count(Product.id), func.max(Product.updated_at))).one()
    raw = f"{store_id}|{products[0]}|{products[1]}|{lookup.levels_version(store_id)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def catalog(store_id):
    """Every active product with its level here: what the phone searches and scans offline."""
    rows = db.session.execute(
        select(Product.id, Product.sku, Product.name, Product.unit, Product.barcode,
               Product.sale_price, StockLevel.quantity)
        .select_from(Product)
        .outerjoin(StockLevel, (StockLevel.product_id == Product.id)
                   & (StockLevel.store_id == store_id))
        .where(Product.archived.is_(False)).order_by(Product.name)).all()
    return [{"id": r.id, "sku": r.sku, "name": r.name, "unit": r.unit, "barcode": r.barcode,
             "sale_price": str(r.sale_price),
             "quantity": f"{Decimal(r.quantity or 0).normalize():f}"} for r in rows]


# The customers the phone keeps for udhaar with no signal: few fields, every customer of the
# store (a kiryana's khata holds tens to a few hundred names), newest balance first.
MAX_KEPT_CUSTOMERS = 2000


def customers_version(store_id):
    """A tag that changes when the list below would: a customer added or changed, or any
    balance moved (every khata entry touches its customer's updated_at). One indexed read."""
    count, changed = db.session.execute(
        select(func.count(Customer.id), func.max(Customer.updated_at))
        .where(Customer.store_id == store_id)).one()
    return hashlib.sha256(f"c|{store_id}|{count}|{changed}".encode()).hexdigest()[:20]


def customers(store_id):
    """The store's customers as the phone keeps them: name, phone, balance and limit as of now
    (the phone shows them "as of the last sync")."""
    rows = db.session.execute(
        select(Customer.id, Customer.name, Customer.phone, Customer.balance,
               Customer.credit_limit)
        .where(Customer.store_id == store_id)
        .order_by(Customer.balance.desc(), Customer.name, Customer.id)
        .limit(MAX_KEPT_CUSTOMERS)).all()
    return [{"id": r.id, "name": r.name, "phone": r.phone, "balance": str(r.balance),
             "credit_limit": None if r.credit_limit is None else str(r.credit_limit)}
            for r in rows]
