"""The ledger's rows as JSON-ready data, the same for every door (pages, API, sync, audit)."""
from decimal import Decimal

from webapp.services.validation import iso_time


def _text(value):
    return None if value is None else str(value)


def movement_dict(m):
    """A movement as JSON-ready data (decimals as exact strings, times in ISO 8601 UTC)."""
    return {
        "id": m["id"], "store_id": m["store_id"], "product_id": m["product_id"],
        "type": m["type"], "quantity": _text(m["quantity"]), "delta": _text(m["delta"]),
        "balance_after": _text(m["balance_after"]), "reason": m["reason"], "note": m["note"],
        "unit_price": _text(m["unit_price"]), "unit_cost": _text(m["unit_cost"]),
        "supplier_id": m["supplier_id"], "transfer_id": m["transfer_id"],
        "expected_quantity": _text(m["expected_quantity"]),
        "counted_quantity": _text(m["counted_quantity"]),
        "user_id": m["user_id"], "source": m["source"],
        "idempotency_key": m["idempotency_key"],
        "occurred_at": iso_time(m["occurred_at"]), "created_at": iso_time(m["created_at"]),
    }


def level_dict(store_id, product_id, quantity, reorder_level, updated_at):
    """A stock level as JSON-ready data, with its low and negative flags."""
    quantity = Decimal(quantity).quantize(Decimal("0.001"))
    reorder_level = Decimal(reorder_level or 0).quantize(Decimal("0.001"))
    return {"store_id": store_id, "product_id": product_id, "quantity": str(quantity),
            "reorder_level": str(reorder_level), "low": quantity <= reorder_level,
            "negative": quantity < 0, "updated_at": iso_time(updated_at)}


def level_of(ctx, quantity, now, store_reorder_level=None):
    """The level of a writes.Context's store and product (the store's own reorder level when
    the row has one)."""
    reorder = store_reorder_level if store_reorder_level is not None else ctx.product.reorder_level
    return level_dict(ctx.store.id, ctx.product.id, quantity, reorder, now)
