"""The names a page of audit events refers to by id: users, stores, products and sales.

An event keeps ids (a movement's store_id and product_id, a sale's id); the audit page tells it
in words ("dukan sold 1.5 kg Cheeni at KHI-0001"), so it needs the names behind them. They are
loaded for the whole page at once, one query per kind, and they are today's names: an event's
own before/after (one tap away on the page) keeps what was true then.
"""
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Product, Sale, Store, User

USERS, STORES, PRODUCTS, SALES = (User.__table__, Store.__table__, Product.__table__,
                                  Sale.__table__)


def _ids(values):
    found = set()
    for value in values:
        try:
            found.add(int(value))
        except (TypeError, ValueError):
            continue
    return found


def _refs(event):
    """(kind, id) pairs an event names, from its entity and its before/after."""
    after = event.get("after") if isinstance(event.get("after"), dict) else {}
    before = event.get("before") if isinstance(event.get("before"), dict) else {}
    entity = {"user": "user", "api_token": None, "store": "store", "product": "product",
              "sale": "sale"}.get(event.get("entity_type"))
    if entity:
        yield entity, event.get("entity_id")
    for data in (before, after):
        for key, kind in (("store_id", "store"), ("from_store_id", "store"),
                          ("to_store_id", "store"), ("product_id", "product"),
                          ("user_id", "user")):
            if key in data:
                yield kind, data[key]
        for line in data.get("lines") if isinstance(data.get("lines"), list) else []:
            if isinstance(line, dict) and "product_id" in line:
                yield "product", line["product_id"]


def for_events(events):
    """{"user": {id: username}, "store": {id: code}, "product": {id: {name, unit, sku}},
    "sale": {id: {number, store_id}}} for every id the events name."""
    wanted = {"user": [], "store": [], "product": [], "sale": []}
    for event in events:
        for kind, value in _refs(event):
            wanted[kind].append(value)
    session = db.session
    sales = {r.id: {"number": r.number, "store_id": r.store_id} for r in session.execute(
        select(SALES.c.id, SALES.c.number, SALES.c.store_id)
        .where(SALES.c.id.in_(_ids(wanted["sale"]))))} if wanted["sale"] else {}
    stores = _ids(wanted["store"]) | {s["store_id"] for s in sales.values()}
    return {
        "user": dict(session.execute(select(USERS.c.id, USERS.c.username)
                                     .where(USERS.c.id.in_(_ids(wanted["user"]))))
                     .all()) if wanted["user"] else {},
        "store": dict(session.execute(select(STORES.c.id, STORES.c.code)
                                      .where(STORES.c.id.in_(stores))).all()) if stores else {},
        "product": {r.id: {"name": r.name, "unit": r.unit, "sku": r.sku}
                    for r in session.execute(
                        select(PRODUCTS.c.id, PRODUCTS.c.name, PRODUCTS.c.unit, PRODUCTS.c.sku)
                        .where(PRODUCTS.c.id.in_(_ids(wanted["product"]))))}
        if wanted["product"] else {},
        "sale": sales,
    }
