"""The ledger's rules that need no database: what a movement, a count line or a product allows.

The rules that need the database (not enough stock, a level's bound) are the guarded
statements of writes.py and fastpath.py; the rules about who may (store access, roles) are
services/policy.py's, asked by services/handlers.handle before the ledger runs.
"""
from dataclasses import replace

from webapp.models import ADJUSTMENT_REASONS, REMOVAL_REASONS, WHOLE_UNITS
from webapp.services.errors import N_, Conflict, DomainError, InsufficientStock
from webapp.services.validation import MAX_LEVEL

# Removals that may name the batch they take (the Expiring list's "remove this batch").
NAMED_REMOVALS = ("expired", "damaged")


def check_movement(m):
    """The rules of a movement that depend on its type; the command with its reason filled in."""
    reason = m.reason
    if m.type == "removal":
        if reason not in REMOVAL_REASONS:
            raise DomainError("invalid", N_("Reason must be one of: %(reasons)s.",
                                            reasons=", ".join(REMOVAL_REASONS)),
                              field="reason")
    elif m.type == "adjustment":
        reason = reason or "count"
        if reason not in ADJUSTMENT_REASONS:
            raise DomainError("invalid",
                              N_("Reason must be one of: %(reasons)s.",
                                 reasons=", ".join(ADJUSTMENT_REASONS)),
                              field="reason")
    elif reason is not None:
        raise DomainError("invalid", N_("A reason applies to removals and adjustments only."),
                          field="reason")
    if m.unit_price is not None and m.type != "sale":
        raise DomainError("invalid", "Unit price applies to sales only.", field="unit_price")
    if m.supplier_id is not None and m.type != "stock_in":
        raise DomainError("invalid", "A supplier applies to stock-in only.", field="supplier_id")
    return m if reason == m.reason else replace(m, reason=reason)


def check_named_batch(type, reason, expires_on):
    """Where a movement may name a batch: a stock-in's date, a count's, and the batch an
    expired or damaged removal takes; a sale always takes the batch that expires first."""
    if expires_on is None:
        raise DomainError("invalid", N_("Give the expiry date of the batch."),
                          field="expires_on")
    if type == "sale" or (type == "removal" and reason not in NAMED_REMOVALS):
        raise DomainError("invalid", N_(
            "A sale, a transfer and this removal take the batch that expires first; only an "
            "expired or damaged removal names its batch."), field="expires_on")


def check_product(product, quantity, allow_zero=False):
    """A product's own rules: not archived; whole units (pieces, packs) in whole numbers."""
    if product.archived:
        raise DomainError("product_archived", N_("This product is archived; restore it first."),
                          field="product_id")
    if product.unit in WHOLE_UNITS and quantity != quantity.to_integral_value():
        raise DomainError("invalid", N_("This product is counted in whole pieces.")
                          if product.unit == "piece" else
                          N_("This product is counted in whole %(unit)ss.", unit=product.unit),
                          field="quantity")


def count_difference(line, current):
    """(base, difference) of one counted line: the count is compared with what the page
    expected (or, without that, the level now); the difference is applied to the level now."""
    base = current if line.expected is None else line.expected
    return base, line.quantity - base


def check_countable(product, quantity):
    """The product rules a count line meets wherever it is typed: not archived, and whole
    units counted whole. `product` has .archived and .unit."""
    check_product(product, quantity, allow_zero=True)


def within_level_bound(current, delta):
    """A level stays within MAX_LEVEL of zero; a movement towards zero is always allowed (the
    fast path says the same in SQL: fastpath.LEVEL_BOUND)."""
    after = abs(current + delta)
    return after <= MAX_LEVEL or after <= abs(current)


class ShortLines(InsufficientStock):
    """Some lines of a multi-line write are short: one field per line, `lines.<i>.quantity`."""

    def __init__(self, shortfalls):
        fields, lines = {}, []
        for index, product_id, available, requested in shortfalls:
            fields[f"lines.{index}.quantity"] = N_(
                "Only %(available)s in stock; cannot take %(requested)s.",
                available=f"{available.normalize():f}", requested=f"{requested.normalize():f}")
            lines.append({"index": index, "product_id": product_id,
                          "available": str(available), "requested": str(requested)})
        Conflict.__init__(self, "insufficient_stock",
                          N_("Not enough stock for some lines; nothing was recorded."),
                          fields=fields, lines=lines)
