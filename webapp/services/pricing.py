"""Price overrides (discounts at the counter): who may sell below a product's price, how far.

A shopkeeper may sell at most the store's `max_discount_percent` below the product's sale
price; managers and admins (and the system itself, with no user) are not limited. Selling above
the price needs a manager or an admin too (a shopkeeper's typo of 9999999999.99 for 99.99
would otherwise be a sale worth Rs 10 arab: issue 23). Every override is recorded on the line or movement (its
unit_price beside the product's list price) and as a `price.override` audit event. The basket
(services/sales.py) and the single-movement doors (ledger.record_movement) both ask here.
"""
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from webapp.models import Store
from webapp.services import audit, policy
from webapp.services.errors import N_, DomainError

STORES = Store.__table__
HUNDRED = Decimal(100)


def discount_percent(list_price, unit_price):
    """How far below the list price, in percent (0 when at or above it)."""
    if not list_price or unit_price >= list_price:
        return Decimal(0)
    return ((list_price - unit_price) * HUNDRED / list_price).quantize(Decimal("0.01"),
                                                                       ROUND_HALF_UP)


def check_override(conn, actor, store_id, product_id, list_price, unit_price, field, role=None):
    """Refuse a price below what this user may give; record an allowed override in the audit.

    Returns the price to charge (unit_price, or the list price when none was given).
    """
    if unit_price is None or unit_price == list_price:
        return list_price
    percent = discount_percent(list_price, unit_price)
    role = role or policy.role_of(actor)
    if unit_price > list_price:
        if not policy.may_sell_above_list(role):
            raise DomainError(
                "price_above_list",
                N_("Only a manager may sell above the price (Rs %(price)s). Ask a manager.",
                   price=f"{list_price:,.2f}"),
                field=field, status=403, list_price=str(list_price))
    if percent > 0:
        if policy.limits_discount(role):
            limit = conn.execute(select(STORES.c.max_discount_percent)
                                 .where(STORES.c.id == store_id)).scalar() or Decimal(0)
            if percent > limit:
                floor = (list_price * (HUNDRED - limit) / HUNDRED).quantize(
                    Decimal("0.01"), ROUND_HALF_UP)
                raise DomainError(
                    "discount_not_allowed",
                    N_("You may give at most %(limit)s%% off here: the lowest price is "
                      "Rs %(floor)s. Ask a manager.", limit=f"{limit.normalize():f}",
                      floor=f"{floor:,.2f}"),
                    field=field, status=403, max_discount_percent=str(limit),
                    lowest_price=str(floor))
    audit.record(conn, actor, "price.override", "product", product_id, after={
        "store_id": store_id, "product_id": product_id, "list_price": str(list_price),
        "unit_price": str(unit_price), "discount_percent": str(percent)})
    return unit_price
