"""How a sale is paid: payments [{method, amount}] checked against the basket's total.

A sale stores one column per method (sales.paid_cash … paid_credit), written by the sale's
own INSERT: a cash sale costs no round trip for its payment, and reports add the columns up.
Nothing given means one cash payment of the total. The amounts must add up to the total
exactly (the basket's total, computed once in services/sales.py); `credit` (udhaar) needs the
sale's customer and goes on the customer's khata (services/khata.charge_sale).
"""
from decimal import Decimal

from webapp.models import PAYMENT_METHODS
from webapp.services.errors import N_, DomainError
from webapp.services.validation import parse_money

MAX_PAYMENTS = 8
ZERO = Decimal("0.00")


def parse(payments):
    """[{method, amount}] → {method: amount} (a method given twice is added up); None when
    nothing was given. Shape errors name `payments` or `payments.<i>.<field>`."""
    if payments is None:
        return None
    if not isinstance(payments, (list, tuple)) or not payments:
        raise DomainError("invalid", N_("Give at least one payment, or none for cash."),
                          field="payments")
    if len(payments) > MAX_PAYMENTS:
        raise DomainError("invalid", N_("At most %(n)d payments in one sale.", n=MAX_PAYMENTS),
                          field="payments")
    split = {}
    for i, payment in enumerate(payments):
        if not isinstance(payment, dict):
            raise DomainError("invalid", N_("Each payment needs a method and an amount."),
                              field=f"payments.{i}")
        method = payment.get("method")
        if method not in PAYMENT_METHODS:
            raise DomainError("invalid", N_("Method must be cash, card, wallet or credit."),
                              field=f"payments.{i}.method")
        amount = parse_money(payment.get("amount"), f"payments.{i}.amount", "Amount",
                             required=True)
        split[method] = split.get(method, ZERO) + amount
    return split


def columns(split, total, customer_id):
    """The sale's paid_* values for a parsed split (None: all cash), checked against the total
    and the customer. One method's amount may be None: the rest of the total (a basket queued
    on a phone with no signal, priced only when it lands: `rest_of_bill`)."""
    if split is None:
        return {"paid_cash": total, "paid_card": ZERO, "paid_wallet": ZERO, "paid_credit": ZERO}
    rest = [method for method, amount in split.items() if amount is None]
    if rest:
        given = sum((amount for amount in split.values() if amount is not None), ZERO)
        if given > total:
            raise DomainError("invalid", N_("Paid now is more than the bill."), field="paid_now")
        split = dict(split, **{rest[0]: total - given})
    paid = sum(split.values(), ZERO)
    if paid != total:
        raise DomainError("payments_mismatch",
                          N_("The payments add up to Rs %(paid)s but the bill is Rs %(total)s.",
                             paid=f"{paid:.2f}", total=f"{total:.2f}"),
                          field="payments", paid=str(paid), total=str(total))
    if split.get("credit") and customer_id is None:
        raise DomainError("customer_required", N_("Choose the customer for udhaar."),
                          field="customer_id")
    return {f"paid_{method}": split.get(method, ZERO) for method in
            ("cash", "card", "wallet", "credit")}


def rest_of_bill(pay, paid_now=None):
    """The split of a Complete step made before the bill is known (a basket queued offline):
    "cash" → None (all cash); "card" / "wallet" → the whole bill by it; "credit" → `paid_now`
    in cash and the rest on the khata → {method: amount or None (the rest)}."""
    if pay in (None, "", "cash"):
        return None
    if pay not in PAYMENT_METHODS:
        raise DomainError("invalid", N_("Method must be cash, card, wallet or credit."),
                          field="pay")
    now = parse_money(paid_now, "paid_now", "Paid now") if pay == "credit" else None
    return {**({"cash": now} if now else {}), pay: None}


def listed(sale):
    """[{method, amount}] of a sale row or dict with paid_* values (methods used, in order)."""
    get = sale.get if isinstance(sale, dict) else lambda name: getattr(sale, name)
    items = [{"method": method, "amount": str(Decimal(get(f"paid_{method}")).quantize(ZERO))}
             for method in ("cash", "card", "wallet", "credit") if get(f"paid_{method}")]
    return items or [{"method": "cash", "amount": "0.00"}]
