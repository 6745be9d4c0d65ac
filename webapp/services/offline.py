"""Writes a phone queued while it had no signal, applied when it reconnects.

The phone keeps each tapped action in IndexedDB with an idempotency key and the time it was
tapped, then replays the queue in order. Every item goes through the same ledger call as the
page would have made, with its key (a replay, e.g. after a lost acknowledgement, answers the
first result and writes nothing) and with `occurred_at` = the tap time, so reports put it on the
Pakistan day it happened rather than the day the signal came back.

A tap older than OFFLINE_WINDOW_HOURS is refused for people who are not managers: a phone found
in a drawer a month later must not rewrite last month's figures unseen. The refusal carries a
stable code (`occurred_at_too_old`) and lands in the phone's "needs attention" list.

Adding a kind of queued item (the basket of issue 11): one function here that takes the item's
plain values and calls its service with `idempotency_key` and `occurred_at` (e.g.
`sales.complete(actor, <its command, with occurred_at>, item["key"])`) after
`check_tap_time`, one route in blueprints/offline/routes.py, and one entry in KINDS in
static/js/offline-queue.js.
"""
from decimal import Decimal

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Product, StockLevel
from webapp.services import commands, ledger, policy
from webapp.services.errors import N_, DomainError
from webapp.services.validation import parse_datetime

QUEUED_TYPES = ("sale", "stock_in", "removal")


def check_tap_time(actor, occurred_at):
    """The tap time as an aware UTC datetime, within the window policy allows this actor."""
    moment = parse_datetime(occurred_at)
    if moment is None:
        raise DomainError("invalid", N_("The time the action was made is missing."),
                          field="occurred_at")
    return policy.check_backdating(actor, moment)


def record_movement(actor, store, item):
    """Apply one queued sale, stock-in or removal; returns the ledger result."""
    kind = item.get("type")
    if kind not in QUEUED_TYPES:
        raise DomainError("invalid", N_("Choose sale, stock in or removal."), field="type")
    occurred_at = check_tap_time(actor, item.get("occurred_at"))
    command = commands.Movement.parse(
        store_id=store.id, product_id=item.get("product_id"), type=kind,
        quantity=item.get("quantity"),
        supplier_id=(item.get("supplier_id") or None) if kind == "stock_in" else None,
        unit_cost=(item.get("unit_cost") or None) if kind == "stock_in" else None,
        reason=(item.get("reason") or None) if kind == "removal" else None,
        note=item.get("note") or None, occurred_at=occurred_at)
    return ledger.record_movement(actor, command, item.get("key"))


def catalog(store_id):
    """Every active product with its level here: what the phone searches and scans offline."""
    rows = db.session.execute(
        select(Product.id, Product.sku, Product.name, Product.unit, Product.barcode,
               StockLevel.quantity)
        .select_from(Product)
        .outerjoin(StockLevel, (StockLevel.product_id == Product.id)
                   & (StockLevel.store_id == store_id))
        .where(Product.archived.is_(False)).order_by(Product.name)).all()
    return [{"id": r.id, "sku": r.sku, "name": r.name, "unit": r.unit, "barcode": r.barcode,
             "quantity": f"{Decimal(r.quantity or 0).normalize():f}"} for r in rows]
