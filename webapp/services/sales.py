"""Counter sales: complete a basket, void it, take a return — every stock change via the ledger.

A basket is one transaction (services/ledger.run_in_transaction): the ledger writes one `sale`
movement per line, locking levels in product-id order (two baskets sharing products never
deadlock), then the sale, its lines and its receipt number are written beside them. A short
line refuses the whole basket with a field per line (`lines.<i>.quantity`): nothing is written.

A void or return never edits the ledger: it writes `adjustment` movements with reason `void`
or `return` that put the goods back, and a SaleReversal row links each one to the sale
movement it reverses. The sale row is locked first (then levels, in product-id order), so a
void racing a return or a second void sees the first one's result.
"""
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import (
    Product,
    Sale,
    SaleCounter,
    SaleLine,
    SaleReversal,
    StockMovement,
    Store,
)
from webapp.models.types import MONEY_PLACES
from webapp.services import (
    audit,
    basket,
    commands,
    idempotency,
    khata,
    ledger,
    policy,
    pricing,
)
from webapp.services import payments as payments_module
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.paging import paginate
from webapp.services.sql import Prebuilt, lock_clause, upsert
from webapp.services.validation import (
    check_total,
    check_value,
    parse_datetime,
    parse_id,
    parse_reference,
    parse_text,
)

SALES = Sale.__table__
LINES = SaleLine.__table__
REVERSALS = SaleReversal.__table__
COUNTERS = SaleCounter.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__

# A sale's own statements, built once (the receipt number's upsert per dialect): building and
# cache-keying them on every sale cost more than sending them (python -m bench.instructions).
_INSERT_SALE = insert(SALES).returning(SALES.c.id)
_INSERT_LINES = insert(LINES)
_statement = Prebuilt({
    "next_number": lambda conn: upsert(conn, COUNTERS)
    .values(store_id=bindparam("n_store"), last_number=1)
    .on_conflict_do_update(index_elements=[COUNTERS.c.store_id],
                           set_={"last_number": COUNTERS.c.last_number + 1})
    .returning(COUNTERS.c.last_number),
})


# ---------------------------------------------------------------------------------------------
# Completing a basket


def _resolve_skus(conn, parsed):
    for line in parsed:
        if line["product_id"] is None:
            pid = conn.execute(select(PRODUCTS.c.id).where(
                func.lower(PRODUCTS.c.sku) == line["sku"].lower())).scalar()
            if pid is None:
                raise NotFound("Product", field=f"lines.{line['index']}.sku")
            line["product_id"] = pid
    seen = {}
    for line in parsed:
        if line["product_id"] in seen:
            raise DomainError("invalid", N_("This product is already in the basket: change "
                                           "that line's quantity instead."),
                              field=f"lines.{line['index']}.product_id")
        seen[line["product_id"]] = line["index"]


def parse_sale(store_id, lines, note=None, occurred_at=None, customer_id=None, payments=None,
               split=None, reference=None):
    """A checked commands.Sale from a door's raw values (the lines read by the basket module,
    the payments by services/payments, or a `split` the Complete step already read:
    payments.rest_of_bill; `reference` a phone's provisional receipt number); DomainError
    naming the field if not."""
    store_id = parse_id(store_id, "store_id", "Store")
    parsed = basket.parse_request_lines(lines)
    customer_id = None if customer_id in (None, "") else parse_id(customer_id, "customer_id",
                                                                  "Customer")
    split = payments_module.parse(payments) if split is None else split
    return commands.Sale(store_id, tuple(commands.SaleLine(**line) for line in parsed),
                         parse_text(note, "note", "Note", commands.MAX_NOTE),
                         parse_datetime(occurred_at),
                         customer_id, None if split is None else tuple(split.items()),
                         parse_reference(reference))


def complete_sale(actor, *, store_id, lines, note=None, occurred_at=None, idempotency_key=None,
                  customer_id=None, payments=None, reference=None):
    """Sell a basket given as raw values: parse_sale, then the handler (services/handlers)."""
    return handle(actor, parse_sale(store_id, lines, note, occurred_at, customer_id, payments,
                                    reference=reference), idempotency_key)


@handles(commands.Sale)
def sell(actor, command, idempotency_key=None):
    """Sell a basket: one sale movement per line and the Sale, all or nothing → {"sale"}.

    `payments` [{method, amount}] must add up to the total (none: one cash payment); a
    `credit` part goes on the khata of `customer_id` (services/khata.charge_sale): past the
    customer's limit the whole basket is refused (409 credit_limit_exceeded)."""
    store_id, note, occurred_at = command.store_id, command.note, command.occurred_at
    customer_id, reference = command.customer_id, command.reference
    split = None if command.payments is None else dict(command.payments)
    parsed = [{**vars(line)} for line in command.lines]
    key = idempotency.check_key(idempotency_key)
    request = {"op": "sale", "store_id": store_id, "note": note, "occurred_at": occurred_at,
               "lines": [[line["product_id"], line["sku"],
                          line["value"] if line["mode"] == basket.QUANTITY else None,
                          line["value"] if line["mode"] == basket.AMOUNT else None,
                          line["unit_price"]]
                         + ([line["value"]] if line["mode"] == basket.PACKS else [])
                         for line in parsed]}
    if customer_id is not None or split is not None:  # a cash sale's request stays as it was
        request["customer_id"] = customer_id
        request["payments"] = split
    if reference is not None:  # a sale made with signal keeps the request it had
        request["reference"] = reference

    def write(conn, now):
        _resolve_skus(conn, parsed)
        ledger_lines = [ledger.Line(line["index"], line["product_id"], Decimal(0))
                        for line in parsed]
        contexts = ledger.load_lines(conn, store_id, ledger_lines)
        packs_of = _packs_of(conn, [line["product_id"] for line in parsed
                                    if line["mode"] == basket.PACKS])
        role = None
        for line, ledger_line in zip(parsed, ledger_lines):
            i, product = line["index"], contexts[line["index"]].product
            if product.archived:
                raise DomainError("product_archived",
                                  N_("This product is archived; restore it first."),
                                  field=f"lines.{i}.product_id")
            if line["unit_price"] is not None and line["unit_price"] < product.sale_price:
                role = role or policy.role_of(actor)
            price = pricing.check_override(conn, actor, store_id, product.id,
                                           product.sale_price, line["unit_price"],
                                           f"lines.{i}.unit_price", role=role)
            priced = basket.price_line(line["mode"], line["value"], price, product.unit,
                                       f"lines.{i}", packs_of.get(product.id))
            # The cost side of the line's movement is bounded too (ledger/writes.summary_figures).
            check_value(priced.quantity, product.cost, f"lines.{i}.quantity",
                        N_("Quantity × unit cost"))
            # The ledger files the line's total as the sale's value: the report counts what
            # the receipt shows (an amount line's quantity × price may differ by paisas).
            ledger_line.quantity, ledger_line.unit_price = priced.quantity, price
            ledger_line.amount = priced.total
            line.update(quantity_sold=priced.quantity, packs=priced.packs, price=price,
                        list_price=product.sale_price, line_total=priced.total)
        total = check_total(basket.bill_total(line["line_total"] for line in parsed), "lines",
                            N_("The sale's total"))
        paid = payments_module.columns(split, total, customer_id)
        written = ledger.take_lines(conn, actor, contexts, ledger_lines, now, note=note,
                                    occurred_at=occurred_at, idempotency_key=key)
        number = _next_number(conn, store_id)
        row = {"store_id": store_id, "number": number, "cashier_id": actor.user_id,
               "status": "completed", "total": total, "note": note, "source": actor.source,
               "idempotency_key": key, "occurred_at": occurred_at, "created_at": now,
               "customer_id": customer_id, **paid}
        if reference is not None:
            row["reference"] = reference
        sale_id = _insert_sale(conn, row)
        customer_balance = None
        if paid["paid_credit"]:  # two round trips: the customer's guarded UPDATE and its entry
            customer_balance = khata.charge_sale(conn, actor, store_id, customer_id, sale_id,
                                                 paid["paid_credit"], now)
        elif customer_id is not None:
            khata.check_customer_in_store(conn, customer_id, store_id)
        conn.execute(_INSERT_LINES, [{  # one statement for all of them
            "sale_id": sale_id, "position": position, "product_id": line["product_id"],
            "quantity": line["quantity_sold"], "unit_price": line["price"],
            "list_price": line["list_price"], "line_total": line["line_total"],
            "movement_id": written[line["index"]][0]["id"], "returned_quantity": 0,
            "packs": line["packs"]}
            for position, line in enumerate(parsed)])
        paid_text = {k: str(v) for k, v in paid.items() if v} if split is not None else {}
        audit.record(conn, actor, "sale.complete", "sale", sale_id, after={
            "store_id": store_id, "number": number, "total": str(total), **paid_text,
            **({"customer_id": customer_id} if customer_id is not None else {}),
            "lines": [{"product_id": line["product_id"], "quantity": str(line["quantity_sold"]),
                       "unit_price": str(line["price"]),
                       "movement_id": written[line["index"]][0]["id"]} for line in parsed]})
        sale = _sale_dict(conn, sale_id, levels={line["product_id"]: written[line["index"]][1]
                                                 for line in parsed},
                          batches={m["id"]: m["batches"] for m, _ in written.values()
                                   if "batches" in m})
        if customer_balance is not None:
            sale["customer_balance"] = str(customer_balance)
        return {"sale": sale}, [(store_id, line["product_id"]) for line in parsed], 201

    return ledger.run_in_transaction(actor, key, request, write, standalone=True)


def _insert_sale(conn, row):
    """INSERT the sale → its id. A reference another sale of the store already has (another
    key: a replay of the same key never gets here) is refused, and the runner rolls back."""
    try:
        return conn.execute(_INSERT_SALE, row).scalar()
    except IntegrityError as error:
        if "reference" not in row or "reference" not in str(error.orig):
            raise
        raise Conflict("duplicate_reference",
                       N_("Receipt %(reference)s is already a sale of this store.",
                          reference=row["reference"]), field="reference") from None


def _packs_of(conn, product_ids):
    """{product_id: basket.Pack} for the products sold by the pack (none: no round trip, so a
    basket without a pack line costs what it did)."""
    if not product_ids:
        return {}
    rows = conn.execute(select(PRODUCTS.c.id, PRODUCTS.c.pack_size, PRODUCTS.c.pack_price,
                               PRODUCTS.c.pack_name).where(PRODUCTS.c.id.in_(product_ids)))
    packs = {row.id: basket.pack_of(dict(row._mapping)) for row in rows}
    return {pid: pack for pid, pack in packs.items() if pack is not None}


def _next_number(conn, store_id):
    """The store's next receipt number (taken last, so its row lock is held briefly)."""
    return conn.execute(_statement(conn, "next_number"), {"n_store": store_id}).scalar()


# ---------------------------------------------------------------------------------------------
# Void and returns


def _lock_sale(conn, sale_id):
    row = conn.execute(lock_clause(conn, select(SALES).where(SALES.c.id == sale_id))).first()
    if row is None:
        raise NotFound("Sale")
    if row.status == "voided":
        raise Conflict("already_voided", N_("Sale #%(number)s is already voided.",
                                           number=row.number))
    return row


def _sale_lines(conn, sale_id):
    return conn.execute(select(LINES).where(LINES.c.sale_id == sale_id)
                        .order_by(LINES.c.position)).all()


def _check_may_void(conn, actor, sale, now):
    """The store's void window, then the role rule of policy.check_may_void."""
    if policy.voids_any_sale(policy.role_of(actor)):
        return  # no window to read
    window = conn.execute(select(STORES.c.void_window_minutes)
                          .where(STORES.c.id == sale.store_id)).scalar() or 0
    policy.check_may_void(actor, sale, window, now)


def _reverse(conn, actor, sale, items, now, kind):
    """Put (line, quantity) items back through the ledger and link each reversal."""
    amounts = [(line.line_total * quantity / line.quantity).quantize(MONEY_PLACES, ROUND_HALF_UP)
               for line, quantity in items]
    # The ledger puts each back at its sale's cost and tells the sales reports the refund.
    ledger_lines = [ledger.Line(i, line.product_id, quantity, reverses=line.movement_id,
                                refund=amounts[i])
                    for i, (line, quantity) in enumerate(items)]
    contexts = ledger.load_lines(conn, sale.store_id, ledger_lines)
    note = (N_("Void of sale #%(number)s", number=sale.number) if kind == "void"
            else N_("Return from sale #%(number)s", number=sale.number))
    written = ledger.put_back_lines(conn, actor, contexts, ledger_lines, now, reason=kind,
                                    note=note)
    result = []
    for i, (line, quantity) in enumerate(items):
        movement, level = written[i]
        amount = amounts[i]
        conn.execute(insert(REVERSALS), {
            "sale_id": sale.id, "sale_line_id": line.id, "kind": kind, "quantity": quantity,
            "amount": amount, "movement_id": movement["id"],
            "original_movement_id": line.movement_id, "user_id": actor.user_id,
            "created_at": now})
        conn.execute(update(LINES).where(LINES.c.id == line.id).values(
            returned_quantity=LINES.c.returned_quantity + quantity))
        result.append({"product_id": line.product_id, "quantity": str(quantity),
                       "amount": str(amount), "movement_id": movement["id"],
                       "original_movement_id": line.movement_id, "level": level})
        if "batches" in movement:  # which batches the goods went back into
            result[-1]["batches"] = movement["batches"]
    return result


def _unless_tracked(reversed_lines):
    """_sale_dict's `batches` after a void or return: read (None) only when a line's product
    tracks expiry, so one of products that do not costs no round trip more."""
    return None if any("batches" in r for r in reversed_lines) else {}


def void_sale(actor, sale_id, *, idempotency_key=None):
    """Void a sale given by id: commands.Void, then the handler (services/handlers)."""
    return handle(actor, commands.Void.parse(sale_id), idempotency_key)


@handles(commands.Void)
def void(actor, command, idempotency_key=None):
    """Void a sale: put back everything not yet returned; 409 already_voided the second time."""
    sale_id = command.sale_id
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        sale = _lock_sale(conn, sale_id)
        _check_may_void(conn, actor, sale, now)
        items = [(line, line.quantity - line.returned_quantity)
                 for line in _sale_lines(conn, sale_id)
                 if line.quantity > line.returned_quantity]
        reversed_lines = _reverse(conn, actor, sale, items, now, "void") if items else []
        credit = khata.credit_back(
            conn, actor, sale, "void", sum((Decimal(r["amount"]) for r in reversed_lines),
                                           Decimal(0)), now,
            note=N_("Void of sale #%(number)s", number=sale.number))
        conn.execute(update(SALES).where(SALES.c.id == sale_id).values(
            status="voided", voided_at=now, voided_by_id=actor.user_id))
        audit.record(conn, actor, "sale.void", "sale", sale_id, before={"status": "completed"},
                     after={"status": "voided", "number": sale.number,
                            "reversals": [r["movement_id"] for r in reversed_lines],
                            **({"credit_reversed": str(credit)} if credit else {})})
        data = {"sale": _sale_dict(conn, sale_id,
                                   levels={r["product_id"]: r["level"] for r in reversed_lines},
                                   batches=_unless_tracked(reversed_lines))}
        if credit:
            data["sale"]["credit_reversed"] = str(credit)
        return data, [(sale.store_id, r["product_id"]) for r in reversed_lines], 200

    return ledger.run_in_transaction(actor, key, {"op": "void", "sale_id": sale_id}, write)


def return_lines(actor, sale_id, *, lines, note=None, idempotency_key=None):
    """A return given as raw values: commands.Return, then the handler (services/handlers)."""
    return handle(actor, commands.Return.parse(sale_id, lines, note), idempotency_key)


@handles(commands.Return)
def take_return(actor, command, idempotency_key=None):
    """A customer return: [(product_id, quantity)], never more than sold minus returned."""
    sale_id, wanted, note = command.sale_id, command.lines, command.note
    key = idempotency.check_key(idempotency_key)
    request = {"op": "return", "sale_id": sale_id, "note": note,
               "lines": [[pid, q] for pid, q in wanted]}

    def write(conn, now):
        sale = _lock_sale(conn, sale_id)
        by_product = {line.product_id: line for line in _sale_lines(conn, sale_id)}
        items = []
        for i, (pid, quantity) in enumerate(wanted):
            line = by_product.get(pid)
            if line is None:
                raise DomainError("invalid", N_("This product is not in the sale."),
                                  field=f"lines.{i}.product_id")
            returnable = line.quantity - line.returned_quantity
            if quantity > returnable:
                raise DomainError(
                    "return_exceeds_sold",
                    N_("Only %(n)s can still be returned.", n=f"{returnable.normalize():f}"),
                    field=f"lines.{i}.quantity", returnable=str(returnable))
            items.append((line, quantity))
        returned = _reverse(conn, actor, sale, items, now, "return")
        amount = sum((Decimal(r["amount"]) for r in returned), Decimal(0))
        credit = khata.credit_back(conn, actor, sale, "return", amount, now,
                                   note=N_("Return from sale #%(number)s", number=sale.number))
        audit.record(conn, actor, "sale.return", "sale", sale_id, after={
            "number": sale.number, "amount": str(amount), "note": note,
            **({"credit_reversed": str(credit)} if credit else {}),
            "lines": [{k: r[k] for k in ("product_id", "quantity", "amount", "movement_id")}
                      for r in returned]})
        data = {"sale": _sale_dict(conn, sale_id, batches=_unless_tracked(returned)),
                "return": {"amount": str(amount), "lines": returned,
                           "credit": str(credit.quantize(MONEY_PLACES)),
                           "cash_back": str((amount - credit).quantize(MONEY_PLACES))}}
        return data, [(sale.store_id, r["product_id"]) for r in returned], 201

    return ledger.run_in_transaction(actor, key, request, write)


# ---------------------------------------------------------------------------------------------
# Reading


def _text(value):
    return None if value is None else str(value)


def _time(value):
    return None if value is None else value.isoformat()


def _build_read_sale():
    """A sale, its store, what was refunded and its lines with their products: one row per
    line (the sale's columns repeated), in one round trip."""
    refunded = (select(func.coalesce(func.sum(REVERSALS.c.amount), 0))
                .where(REVERSALS.c.sale_id == SALES.c.id).scalar_subquery())
    line_columns = [LINES.c[name].label(f"line_{name}") for name in (
        "product_id", "quantity", "unit_price", "list_price", "line_total", "movement_id",
        "returned_quantity", "packs")]
    return (select(SALES, STORES.c.code.label("store_code"), STORES.c.name.label("store_name"),
                   refunded.label("refunded"), *line_columns, PRODUCTS.c.sku, PRODUCTS.c.name,
                   PRODUCTS.c.unit, PRODUCTS.c.pack_name)
            .select_from(SALES.join(STORES, STORES.c.id == SALES.c.store_id)
                         .join(LINES, LINES.c.sale_id == SALES.c.id)
                         .join(PRODUCTS, PRODUCTS.c.id == LINES.c.product_id))
            .where(SALES.c.id == bindparam("b_sale")).order_by(LINES.c.position))


_READ_SALE = _build_read_sale()


def _sale_dict(conn, sale_id, levels=None, batches=None):
    """A sale with its lines; a line of a product that tracks expiry lists the batches its
    movement took (`batches`: {movement id: parts} when the caller has them, else read)."""
    rows = conn.execute(_READ_SALE, {"b_sale": sale_id}).all()
    sale = rows[0]
    if batches is None:
        batches = ledger.batches.of_movements(conn, [row.line_movement_id for row in rows])
    sale_dict = {
        "id": sale.id, "number": sale.number, "store_id": sale.store_id,
        "store_code": sale.store_code, "store_name": sale.store_name,
        "cashier_id": sale.cashier_id, "status": sale.status, "total": _text(sale.total),
        "refunded": _text(Decimal(sale.refunded).quantize(MONEY_PLACES)), "note": sale.note,
        "source": sale.source, "occurred_at": _time(sale.occurred_at),
        "created_at": _time(sale.created_at), "voided_at": _time(sale.voided_at),
        "customer_id": sale.customer_id, "payments": payments_module.listed(sale),
        "reference": sale.reference,
        "lines": [{
            "product_id": line.line_product_id, "sku": line.sku, "name": line.name,
            "unit": line.unit, "quantity": _text(line.line_quantity),
            "unit_price": _text(line.line_unit_price), "list_price": _text(line.line_list_price),
            "line_total": _text(line.line_line_total), "movement_id": line.line_movement_id,
            "returned_quantity": _text(line.line_returned_quantity),
            "returnable": _text(line.line_quantity - line.line_returned_quantity),
            "level": (levels or {}).get(line.line_product_id),
            "packs": _text(line.line_packs),
            "pack_name": line.pack_name if line.line_packs is not None else None,
        } for line in rows],
    }
    if batches:
        for line in sale_dict["lines"]:
            if line["movement_id"] in batches:
                line["batches"] = batches[line["movement_id"]]
    return sale_dict


def get_sale(user, sale_id):
    """One sale with its lines, if the user may see its store (NotFound otherwise)."""
    conn = db.session.connection()
    store_id = conn.execute(select(SALES.c.store_id).where(SALES.c.id == sale_id)).scalar() \
        if isinstance(sale_id, int) and 0 < sale_id < 2**63 else None
    if store_id is None or not policy.can_see_store(user, store_id):
        raise NotFound("Sale")
    return _sale_dict(conn, sale_id)


def list_sales(store_ids=None, store_id=None, since=None, until=None, page=1, per_page=50,
               reference=None, find=None):
    """A Page of sales, newest first, without their lines. `reference`: the sale a phone's
    provisional receipt number became; `find` (a store's sales page): a receipt number
    ("12", "#12") or a reference, whole or without the store's code ("A7KX-0042")."""
    query = select(SALES.c.id, SALES.c.number, SALES.c.store_id, SALES.c.cashier_id,
                   SALES.c.status, SALES.c.total, SALES.c.note, SALES.c.source,
                   SALES.c.occurred_at, SALES.c.created_at, SALES.c.voided_at,
                   SALES.c.customer_id, SALES.c.paid_cash, SALES.c.paid_card,
                   SALES.c.paid_wallet, SALES.c.paid_credit, SALES.c.reference)
    if store_ids is not None:
        query = query.where(SALES.c.store_id.in_(store_ids or [0]))
    if store_id is not None:
        query = query.where(SALES.c.store_id == store_id)
    if since is not None:
        query = query.where(SALES.c.created_at >= since)
    if until is not None:
        query = query.where(SALES.c.created_at < until)
    if reference is not None:
        query = query.where(SALES.c.reference == reference.upper())
    if find:
        query = query.where(_found(find, store_id))
    return paginate(query, (SALES.c.id.desc(),), page, per_page, rows=lambda q: [{
        "id": r.id, "number": r.number, "store_id": r.store_id, "cashier_id": r.cashier_id,
        "status": r.status, "total": _text(r.total), "note": r.note, "source": r.source,
        "occurred_at": _time(r.occurred_at), "created_at": _time(r.created_at),
        "voided_at": _time(r.voided_at), "customer_id": r.customer_id,
        "payments": payments_module.listed(r), "reference": r.reference,
    } for r in db.session.execute(q)])


def _found(text, store_id):
    """The condition for a typed receipt number or reference (exact matches: both indexed)."""
    text = text.strip().lstrip("#").strip().upper()
    wanted = [SALES.c.reference == text]
    if store_id is not None:   # the number on the paper without the store's code
        code = select(STORES.c.code).where(STORES.c.id == store_id).scalar_subquery()
        wanted.append(SALES.c.reference == code + "-" + text)
    if text.isdigit() and int(text) < 2**31:
        wanted.append(SALES.c.number == int(text))
    return or_(*wanted)


def recent_products(store_id, limit=8):
    """The products sold most recently in this store (for one-tap tiles), newest first."""
    movements = StockMovement.__table__
    recent = (select(movements.c.product_id, func.max(movements.c.id).label("last"))
              .where(movements.c.store_id == store_id, movements.c.type == "sale")
              .group_by(movements.c.product_id).order_by(func.max(movements.c.id).desc())
              .limit(limit))
    return [row.product_id for row in db.session.execute(recent)]


def can_void(user, sale, window_minutes, now):
    """Whether this user may void this sale now (policy.may_void, which void enforces)."""
    return sale["status"] == "completed" and policy.may_void(
        user.role, user.id, sale["cashier_id"], datetime.fromisoformat(sale["created_at"]),
        window_minutes, now)
