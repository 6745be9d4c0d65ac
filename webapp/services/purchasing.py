"""Purchase orders: from the low-stock report to orders per supplier, and receiving against them.

Suggestions take the low-stock report's suggested reorder, subtract what is already on open
orders, round up to whole buying packs and group by the product's preferred supplier. Receiving
is one ledger transaction (ledger.receive_delivery): the order row is locked first, so two
people receiving the same order one after the other, or at once, never count a line twice;
each line is a stock_in from the order's supplier, and the order's status and the products'
last purchase cost move in the same commit. An Idempotency-Key makes a retried receipt a replay.
"""
import re
from collections import OrderedDict
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from urllib.parse import quote

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import (
    ORDER_STATUSES,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    Supplier,
)
from webapp.models.types import MONEY_PLACES, QUANTITY_PLACES, utcnow
from webapp.services import (
    audit,
    commands,
    idempotency,
    inventory,
    ledger,
    paging,
    payables,
    policy,
    reports,
    transaction,
)
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.validation import (
    MAX_QUANTITY,
    parse_batch_code,
    parse_expiry,
    parse_id,
    parse_money,
    parse_product_lines,
    parse_quantity,
    parse_text,
)

PRODUCTS = Product.__table__
ORDERS = PurchaseOrder.__table__
LINES = PurchaseOrderLine.__table__
OPEN = ("draft", "sent", "partly_received")
RECEIVABLE = ("draft", "sent", "partly_received")
MAX_LINES = commands.MAX_ORDER_LINES  # an order, and a delivery against it
# Status changes a person may make; receipts move an order to partly_received / received.
TRANSITIONS = {
    "draft": ("sent", "cancelled"),
    "sent": ("draft", "cancelled"),
    "partly_received": ("received", "cancelled"),
    "received": (),
    "cancelled": (),
}
ZERO = Decimal("0")




def _qty(value):
    return Decimal(value or 0).quantize(QUANTITY_PLACES)


def _money(value):
    return None if value is None else Decimal(value).quantize(MONEY_PLACES)


def whole_packs(quantity, pack_size):
    """How many whole buying packs cover `quantity` units (rounded up)."""
    pack_size = Decimal(pack_size or 1)
    if quantity <= 0:
        return ZERO
    return (Decimal(quantity) / pack_size).to_integral_value(ROUND_CEILING)


# ---------------------------------------------------------------------------------------------
# Suggestions


def suggestions(stores, store_id=None, cover_days=reports.DEFAULT_COVER_DAYS, q=None,
                category=None, city=None):
    """Low stock turned into order lines, grouped by (store, supplier).

    Each line: what the report suggests, minus what open orders still bring, in whole buying
    packs; lines that come to nothing are dropped. Products without a preferred supplier
    form a group with supplier None, so the manager sees them and can choose one.
    """
    items = [i for i in reports.iter_low_stock(stores, q=q, store_id=store_id, category=category,
                                               city=city, cover_days=cover_days)
             if i["suggested"] > 0]
    if not items:
        return []
    conn = db.session.connection()
    product_ids = sorted({i["product_id"] for i in items})
    buying = {r.id: r for r in conn.execute(
        select(PRODUCTS.c.id, PRODUCTS.c.preferred_supplier_id, PRODUCTS.c.pack_size,
               PRODUCTS.c.cost, PRODUCTS.c.last_cost).where(PRODUCTS.c.id.in_(product_ids)))}
    on_order = _on_order({i["store_id"] for i in items}, product_ids)
    suppliers = {s.id: s for s in db.session.scalars(select(Supplier).where(
        Supplier.id.in_({b.preferred_supplier_id for b in buying.values()
                         if b.preferred_supplier_id})))}
    groups = OrderedDict()
    for item in items:
        b = buying[item["product_id"]]
        pending = on_order.get((item["store_id"], item["product_id"]), ZERO)
        need = item["suggested"] - pending
        pack_size = _qty(b.pack_size or 1)
        packs = whole_packs(need, pack_size)
        if packs <= 0:
            continue
        unit_cost = _money(b.last_cost if b.last_cost is not None else b.cost)
        quantity = _qty(packs * pack_size)
        supplier = suppliers.get(b.preferred_supplier_id)
        key = (item["store_id"], supplier.id if supplier else None)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "store_id": item["store_id"], "store_code": item["store_code"],
                "store_name": item["store_name"],
                "supplier_id": supplier.id if supplier else None,
                "supplier_name": supplier.name if supplier else None,
                "lines": [], "total": ZERO, "costed": True}
        line_cost = None if unit_cost is None else _money(quantity * unit_cost)
        group["lines"].append({
            "product_id": item["product_id"], "sku": item["sku"], "name": item["name"],
            "unit": item["unit"], "on_hand": item["quantity"], "suggested": item["suggested"],
            "on_order": _qty(pending), "pack_size": pack_size, "packs": packs,
            "quantity": quantity, "unit_cost": unit_cost, "line_cost": line_cost})
        if line_cost is None:
            group["costed"] = False
        else:
            group["total"] += line_cost
    # Stores in code order, suppliers by name, the "no supplier" group last in its store.
    return sorted(groups.values(), key=lambda g: (g["store_code"], g["supplier_id"] is None,
                                                   (g["supplier_name"] or "").lower()))


def _on_order(store_ids, product_ids):
    """Units still to arrive on open orders, per (store, product)."""
    outstanding = func.sum(LINES.c.quantity - LINES.c.received_quantity)
    rows = db.session.execute(
        select(ORDERS.c.store_id, LINES.c.product_id, outstanding.label("units"))
        .select_from(LINES.join(ORDERS, ORDERS.c.id == LINES.c.order_id))
        .where(ORDERS.c.status.in_(OPEN), ORDERS.c.store_id.in_(store_ids),
               LINES.c.product_id.in_(product_ids),
               LINES.c.quantity > LINES.c.received_quantity)
        .group_by(ORDERS.c.store_id, LINES.c.product_id))
    return {(r.store_id, r.product_id): _qty(r.units) for r in rows}


# ---------------------------------------------------------------------------------------------
# Orders: create, edit, change status


def _parse_lines(lines):
    """[{product_id, packs, unit_cost?}] → {product_id: (packs, unit_cost)}; packs are whole."""
    parsed = OrderedDict()
    for i, pid, line in parse_product_lines(
            lines, "lines", MAX_LINES, N_("Add at least one product to the order."),
            N_("At most %(n)s lines in one order.", n=MAX_LINES),
            N_("Each line needs a product and a number of packs."),
            N_("This product is on the order twice."), parsed):
        packs = line.get("packs")
        if packs in (None, "", 0, "0"):
            continue  # a line set to nothing is dropped
        packs = parse_quantity(packs, f"lines.{i}.packs", label="Packs")
        if packs != packs.to_integral_value():
            raise DomainError("invalid", N_("Order whole packs."), field=f"lines.{i}.packs")
        cost = parse_money(line.get("unit_cost"), f"lines.{i}.unit_cost", "Unit cost")
        parsed[pid] = (packs, cost)
    if not parsed:
        raise DomainError("invalid", N_("Add at least one product to the order."), field="lines")
    return parsed


def _products(ids):
    found = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}
    for i, pid in enumerate(ids):
        if pid not in found:
            raise NotFound("Product", field=f"lines.{i}.product_id")
    return found


def _fill_lines(order, parsed):
    products = _products(list(parsed))
    order.lines = []
    for position, (pid, (packs, cost)) in enumerate(parsed.items()):
        product = products[pid]
        pack_size = _qty(product.pack_size or 1)
        if cost is None:
            cost = _money(product.last_cost if product.last_cost is not None else product.cost)
        if packs * pack_size > MAX_QUANTITY:
            raise DomainError("out_of_range", N_("Packs × pack size is more than one line may "
                                                 "order."), field=f"lines.{position}.packs")
        order.lines.append(PurchaseOrderLine(
            position=position, product_id=pid, packs=packs, pack_size=pack_size,
            quantity=_qty(packs * pack_size), unit_cost=cost, received_quantity=ZERO,
            added_at_receipt=False))


def create_order(actor, user, *, store_id, supplier_id, lines, note=None):
    """A draft order for one store and supplier."""
    store = policy.get_store_or_404(parse_id(store_id, "store_id", "Store"), user)
    supplier_id = parse_id(supplier_id, "supplier_id", "Supplier")
    supplier = db.session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound("Supplier", field="supplier_id")
    parsed = _parse_lines(lines)
    order = PurchaseOrder(store_id=store.id, supplier_id=supplier.id, status="draft",
                          note=parse_text(note, "note", "Note", 500), created_by=actor.user_id)
    _fill_lines(order, parsed)
    db.session.add(order)
    db.session.flush()
    inventory.ensure_levels(db.session.connection(), store.id, parsed, utcnow())
    audit.record(db.session.connection(), actor, "purchase_order.create", "purchase_order",
                 order.id, after=_audit_view(order))
    transaction.commit()
    return order


def update_order(actor, user, order_id, *, lines=None, note=None):
    """Change a draft's lines or note (a sent order goes back to draft first)."""
    order = get_order(order_id, user, lock=True)
    if order.status != "draft":
        raise Conflict("order_not_draft", N_("Only a draft order can be edited."),
                       field="status")
    before = _audit_view(order)
    if lines is not None:
        parsed = _parse_lines(lines)
        _fill_lines(order, parsed)
        inventory.ensure_levels(db.session.connection(), order.store_id, parsed, utcnow())
    if note is not None:
        order.note = parse_text(note, "note", "Note", 500)
    db.session.flush()
    audit.record(db.session.connection(), actor, "purchase_order.update", "purchase_order",
                 order.id, before=before, after=_audit_view(order))
    db.session.commit()
    return order


def change_status(actor, user, order_id, status):
    """Move an order along: draft → sent → (receipts) → received; cancel while open."""
    if status not in ORDER_STATUSES:
        raise DomainError("invalid", N_("Unknown status."), field="status")
    order = get_order(order_id, user, lock=True)
    if status == order.status:
        db.session.rollback()
        return order
    if status not in TRANSITIONS[order.status]:
        raise Conflict("invalid_transition",
                       N_("An order that is %(old)s cannot become %(new)s.",
                         old=order.status, new=status), field="status")
    before = order.status
    order.status = status
    now = utcnow()
    if status == "sent":
        order.sent_at = now
    if status in ("received", "cancelled"):
        order.closed_at = now
    db.session.flush()
    audit.record(db.session.connection(), actor, "purchase_order.status", "purchase_order",
                 order.id, before={"status": before}, after={"status": status})
    db.session.commit()
    return order


# ---------------------------------------------------------------------------------------------
# Reading


def get_order(order_id, user, lock=False):
    """The order if this user may see its store (else NotFound, as for stores)."""
    order = _order(parse_id(order_id, "order_id", "Order"), lock)
    if not policy.can_see_store(user, order.store_id):
        raise NotFound("Order")
    return order


def _order(order_id, lock=False):
    """The order (reloaded, row-locked with `lock`), or NotFound."""
    query = select(PurchaseOrder).where(PurchaseOrder.id == order_id)
    if lock:
        query = query.with_for_update(of=PurchaseOrder)
    order = db.session.scalars(query.execution_options(populate_existing=True)).first()
    if order is None:
        raise NotFound("Order")
    return order


def list_orders(user, store_id=None, supplier_id=None, status=None, page=1,
                per_page=paging.PER_PAGE):
    """A Page of the orders the user may see, newest first."""
    query = select(PurchaseOrder)
    query = policy.in_stores(query, PurchaseOrder.store_id, user, store_id)
    if supplier_id is not None:
        query = query.where(PurchaseOrder.supplier_id == supplier_id)
    if status:
        if status not in ORDER_STATUSES:
            raise DomainError("invalid", N_("Unknown status."), field="status")
        query = query.where(PurchaseOrder.status == status)
    return paging.paginate(query, (PurchaseOrder.id.desc(),), page, per_page)


def order_total(order):
    """Expected cost of the ordered units, and whether every line had a cost."""
    total, costed = ZERO, True
    for line in order.lines:
        if line.unit_cost is None:
            costed = False
        else:
            total += _money(line.quantity * line.unit_cost)
    return _money(total), costed


def receipts(order):
    return db.session.scalars(select(PurchaseReceipt).where(PurchaseReceipt.order_id == order.id)
                              .order_by(PurchaseReceipt.id)).all()


def _text(value):
    return None if value is None else str(value)


def line_dict(line):
    return {"id": line.id, "product_id": line.product_id, "sku": line.product.sku,
            "name": line.product.name, "unit": line.product.unit,
            "packs": _text(line.packs), "pack_size": _text(line.pack_size),
            "quantity": _text(_qty(line.quantity)), "unit_cost": _text(line.unit_cost),
            "received_quantity": _text(_qty(line.received_quantity)),
            "over_received": line.received_quantity > line.quantity,
            "added_at_receipt": line.added_at_receipt}


def order_dict(order):
    """An order as JSON-ready data."""
    total, costed = order_total(order)
    return {
        "id": order.id, "store_id": order.store_id, "supplier_id": order.supplier_id,
        "supplier_name": order.supplier.name, "status": order.status, "note": order.note,
        "created_by": order.created_by, "total_cost": _text(total), "fully_costed": costed,
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
        "sent_at": order.sent_at.isoformat() if order.sent_at else None,
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
        "lines": [line_dict(line) for line in order.lines],
    }


def _audit_view(order):
    return {"store_id": order.store_id, "supplier_id": order.supplier_id,
            "status": order.status, "note": order.note,
            "lines": [[line.product_id, str(line.packs), str(line.quantity),
                       _text(line.unit_cost)] for line in order.lines]}


# ---------------------------------------------------------------------------------------------
# Sharing with the supplier


def whatsapp_number(phone):
    """Digits for wa.me: a Pakistani 03xx number becomes 923xx; None without a usable number."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "92" + digits[1:]
    return digits if 10 <= len(digits) <= 15 else None


def whatsapp_url(phone, text):
    number = whatsapp_number(phone)
    return None if number is None else f"https://wa.me/{number}?text={quote(text)}"


# ---------------------------------------------------------------------------------------------
# Receiving


def _parse_receipt(lines):
    parsed = {}
    for i, pid, line in parse_product_lines(
            lines, "lines", MAX_LINES, N_("Enter what arrived."),
            N_("At most %(n)s lines in one order.", n=MAX_LINES),
            N_("Each line needs a product and a quantity."),
            N_("This product is received twice."), parsed):
        quantity = line.get("quantity")
        if quantity in (None, "", 0, "0"):
            continue  # nothing of it arrived
        quantity = parse_quantity(quantity, f"lines.{i}.quantity", label="Quantity")
        cost = parse_money(line.get("unit_cost"), f"lines.{i}.unit_cost", "Unit cost")
        line_id = line.get("line_id")
        line_id = None if line_id in (None, "") else parse_id(line_id, f"lines.{i}.line_id",
                                                              "Order line")
        # A product that tracks expiry needs the date printed on what arrived (the ledger
        # asks for it); a batch code where the supplier prints one.
        expires_on = parse_expiry(line.get("expires_on"), f"lines.{i}.expires_on")
        code = parse_batch_code(line.get("batch_code"), f"lines.{i}.batch_code") or None
        parsed[pid] = (quantity, cost, line_id, i, expires_on, code)
    if not parsed:
        raise DomainError("invalid", N_("Enter what arrived."), field="lines")
    return parsed


def parse_delivery(order_id, lines, note=None):
    """A checked commands.Delivery from raw values.

    lines: [{product_id, quantity (units), unit_cost?, line_id?}]. A product not on the order
    is added to it (extra), or counts against `line_id` when it substitutes for that line.
    """
    return commands.Delivery(
        parse_id(order_id, "order_id", "Order"),
        tuple((pid, *line) for pid, line in sorted(_parse_receipt(lines).items())),
        parse_text(note, "note", "Note", commands.MAX_NOTE))


def receive(actor, order_id, lines, note=None, idempotency_key=None):
    """Record a delivery given as raw values: parse_delivery, then the handler."""
    return handle(actor, parse_delivery(order_id, lines, note), idempotency_key)


@handles(commands.Delivery)
def deliver(actor, command, idempotency_key=None):
    """Record a delivery against an order in one transaction; returns a LedgerResult whose data
    is {order, receipt, movements, levels, over_received}. Receiving more than ordered is
    allowed and flagged.
    """
    order = _order(command.order_id)
    order_id, store_id, supplier_id = order.id, order.store_id, order.supplier_id
    parsed = {pid: line for pid, *line in command.lines}
    note = command.note
    idempotency.check_key(idempotency_key)
    request = {"order_id": order_id, "supplier_id": supplier_id, "note": note,
               "lines": sorted([pid, q, c, lid] + ([str(exp), code] if exp else [])
                               for pid, (q, c, lid, _i, exp, code) in parsed.items())}

    sets_last_cost = policy.sets_last_cost(policy.role_of(actor))

    def work(conn, now, stock_in):
        locked = _order(order_id, lock=True)
        if locked.status not in RECEIVABLE:
            raise Conflict("order_closed",
                           N_("This order is %(status)s; nothing more can be received on it.",
                             status=locked.status), field="status")
        by_id = {line.id: line for line in locked.lines}
        by_product = {line.product_id: line for line in locked.lines}
        products = _products(list(parsed))
        receipt = PurchaseReceipt(order_id=locked.id, user_id=actor.user_id, note=note,
                                  over_received=False, created_at=now)
        db.session.add(receipt)
        movements, levels = [], []
        for pid in sorted(parsed):  # one lock order (product id) for every writer
            quantity, cost, line_id, i, expires_on, code = parsed[pid]
            substitute = False
            if line_id is not None:
                target = by_id.get(line_id)
                if target is None:
                    raise NotFound("Order line", field=f"lines.{i}.line_id")
                substitute = target.product_id != pid
            else:
                target = by_product.get(pid)
            if target is None:  # not ordered: an extra line, flagged
                target = PurchaseOrderLine(
                    position=len(locked.lines), product_id=pid, packs=ZERO,
                    pack_size=_qty(products[pid].pack_size or 1), quantity=ZERO,
                    unit_cost=cost, received_quantity=ZERO, added_at_receipt=True)
                locked.lines.append(target)
                by_product[pid] = target
            unit_cost = cost if cost is not None else target.unit_cost
            movement, level = stock_in(pid, quantity, unit_cost, note=f"PO-{locked.id}",
                                       expires_on=expires_on, batch_code=code,
                                       field=f"lines.{i}.expires_on")
            target.received_quantity = _qty(target.received_quantity + quantity)
            over = target.received_quantity > target.quantity
            receipt.lines.append(PurchaseReceiptLine(
                order_line=target, product_id=pid, quantity=quantity, unit_cost=unit_cost,
                movement_id=movement["id"], over_received=over, substitute=substitute))
            receipt.over_received = receipt.over_received or over
            # The product's last cost starts every store's next order: only a manager's
            # receipt sets it (a shopkeeper's cost stays on the movement and the receipt line;
            # a typo of 0.01 at one store no longer prices everyone's next order, issue 23).
            if unit_cost is not None and sets_last_cost:
                conn.execute(update(PRODUCTS).where(PRODUCTS.c.id == pid)
                             .values(last_cost=unit_cost, updated_at=now))
            movements.append(movement)
            levels.append(level)
        ordered = [line for line in locked.lines if not line.added_at_receipt]
        done = all(line.received_quantity >= line.quantity for line in ordered)
        locked.status = "received" if done else "partly_received"
        if done:
            locked.closed_at = now
        db.session.flush()
        # What the delivery adds to the store's account with the supplier (received × cost).
        value = sum(((rl.quantity * rl.unit_cost).quantize(MONEY_PLACES, ROUND_HALF_UP)
                     for rl in receipt.lines if rl.unit_cost is not None), Decimal(0))
        payable = payables.add_receipt(conn, actor, supplier_id, store_id, value, receipt.id,
                                       now, note=f"PO-{locked.id}")
        audit.record(conn, actor, "purchase_order.receive", "purchase_order", locked.id, after={
            "receipt_id": receipt.id, "status": locked.status,
            "movements": [m["id"] for m in movements], "over_received": receipt.over_received,
            **({"payable": str(value)} if payable else {})})
        return {"order": order_dict(locked),
                "receipt": {"id": receipt.id, "over_received": receipt.over_received,
                            "lines": [{"product_id": rl.product_id, "order_line_id": rl.order_line_id,
                                       "quantity": _text(rl.quantity),
                                       "unit_cost": _text(rl.unit_cost),
                                       "movement_id": rl.movement_id,
                                       "over_received": rl.over_received,
                                       "substitute": rl.substitute} for rl in receipt.lines]},
                "movements": movements, "levels": levels,
                "over_received": receipt.over_received,
                "payable": {"amount": str(value.quantize(MONEY_PLACES)),
                            "balance": str(payable["balance_after"]) if payable else
                            str(payables.balance_of(conn, supplier_id, store_id))}}

    return _deliver(actor, store_id, supplier_id, request, work, idempotency_key)


def _deliver(actor, store_id, supplier_id, request, work, idempotency_key):
    """The one call into the ledger (kept in one place while the ledger's calling shape moves)."""
    return ledger.receive_delivery(actor, store_id=store_id, supplier_id=supplier_id,
                                   request=request, work=work, idempotency_key=idempotency_key)


def product_by_sku(sku, field="sku"):
    """The product with this SKU (any case) or barcode; NotFound on `field` otherwise."""
    code = parse_text(sku, field, "SKU", 64, required=True)
    product = db.session.scalars(select(Product).where(
        (func.lower(Product.sku) == code.lower()) | (Product.barcode == code))).first()
    if product is None:
        raise NotFound("Product", N_("No product has the SKU or barcode %(code)s.", code=code),
                       field=field)
    return product


def visible_suppliers():
    return db.session.scalars(select(Supplier).where(Supplier.active.is_(True))
                              .order_by(Supplier.name)).all()
