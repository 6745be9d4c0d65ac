"""A shelf count in progress, kept on the server per store (models/count.py), then applied.

Counting a shop means an hour of typing over pages, filters and sometimes two phones. Each
typed count is saved as it is entered, so nothing typed depends on the page staying open, and
two phones counting one store fill the same count. Rules:

- A line records what is on the shelf and the level when it was first counted (`expected`);
  correcting a typo keeps that level, so sales rung up since are not counted twice. Applying
  writes counted − expected to the level at that moment (ledger.count_difference), through the
  ledger's count command, and deletes the applied lines in the same transaction.
- A save writes only what changed from what the page showed, so an older page on one phone
  never overwrites a count made on another phone since; a blank removes the line.
- Locking (PostgreSQL): a save locks its existing lines before reading levels; applying locks
  every line of the store (product-id order), then levels (the ledger's order). A save that
  meets an apply waits for it and then counts against the new level; an apply that meets a
  save sees the changed line and refuses (the review it was asked for is no longer the count),
  so a count applied is always exactly the count reviewed.
- A product that tracks expiry and has more than one batch in the store is counted date by
  date: one quantity per batch, kept on the line (`batches`), adding up to the line's count;
  applying sends the split with the line (the ledger sets each batch to its count).
"""
import hashlib
import json
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select

from webapp.extensions import db
from webapp.models import CountDraft, Product, StockBatch, StockLevel, User
from webapp.models.types import QUANTITY_PLACES, utcnow
from webapp.services import audit, commands, idempotency, ledger
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.handlers import handle, handles
from webapp.services.inventory import search_clause
from webapp.services.paging import paginate
from webapp.services.sql import lock_clause, upsert
from webapp.services.validation import parse_quantity

DRAFTS = CountDraft.__table__
LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__
USERS = User.__table__
BATCHES = StockBatch.__table__

PAGE_SIZE = 20  # rows a phone shows between pager buttons (about three screens at 360×640)
MAX_LINES = commands.MAX_COUNT_LINES  # what one Count command may apply


def _countable(store_id, include_archived=False):
    """The products a store counts (a level there, not archived), with their draft line."""
    joined = (LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id)
              .outerjoin(DRAFTS, (DRAFTS.c.store_id == LEVELS.c.store_id)
                         & (DRAFTS.c.product_id == LEVELS.c.product_id))
              .outerjoin(USERS, USERS.c.id == DRAFTS.c.user_id))
    query = (select(PRODUCTS.c.id.label("product_id"), PRODUCTS.c.sku, PRODUCTS.c.name,
                    PRODUCTS.c.unit, PRODUCTS.c.category, LEVELS.c.quantity,
                    DRAFTS.c.quantity.label("counted"), DRAFTS.c.expected,
                    DRAFTS.c.batches.label("counted_batches"), DRAFTS.c.user_id.label("counted_by_id"),
                    USERS.c.username.label("counted_by"))
             .select_from(joined).where(LEVELS.c.store_id == store_id))
    return query if include_archived else query.where(PRODUCTS.c.archived.is_(False))


def _row(r):
    counted = r.counted is not None
    return {"product_id": r.product_id, "sku": r.sku, "name": r.name, "unit": r.unit,
            "category": r.category, "quantity": r.quantity,
            "counted": r.counted, "expected": r.expected if counted else None,
            # What the system held when this product was counted (or holds now, if not yet).
            "system": r.expected if counted else r.quantity,
            "difference": r.counted - r.expected if counted else None,
            "counted_by_id": r.counted_by_id, "counted_by": r.counted_by,
            "counted_batches": r.counted_batches if counted else None, "batches": None}


def loads_batches(text):
    """A line's stored per-date counts → [(expires_on, batch_code, quantity)], or None."""
    if not text:
        return None
    return [(date.fromisoformat(day), code, Decimal(q)) for day, code, q in json.loads(text)]


def _dumps_batches(counted):
    return json.dumps([[day.isoformat(), code, _text(q)] for day, code, q in sorted(counted)])


def _with_batches(store_id, rows):
    """Give each row of a tracked product with more than one batch in the store (or already
    counted date by date) its `batches`: [{n, expires_on, batch_code, counted}], by date."""
    if not rows:
        return rows
    held = {}
    for r in db.session.execute(
            select(BATCHES.c.product_id, BATCHES.c.expires_on, BATCHES.c.batch_code)
            .select_from(BATCHES.join(PRODUCTS, PRODUCTS.c.id == BATCHES.c.product_id))
            .where(BATCHES.c.store_id == store_id, BATCHES.c.quantity > 0,
                   PRODUCTS.c.tracks_expiry.is_(True),
                   BATCHES.c.product_id.in_([row["product_id"] for row in rows]))):
        held.setdefault(r.product_id, set()).add((r.expires_on, r.batch_code))
    for row in rows:
        counted = {(day, code): q for day, code, q in loads_batches(row["counted_batches"])
                   or ()}
        keys = held.get(row["product_id"], set()) | set(counted)
        if len(keys) > 1 or counted:
            row["batches"] = [{"n": n, "expires_on": day, "batch_code": code,
                               "counted": counted.get((day, code))}
                              for n, (day, code) in enumerate(sorted(keys))]
    return rows


def rows(store_id, category=None, q=None, page=1, per_page=PAGE_SIZE):
    """A Page of the store's products to count, by name, each with its counted line if any."""
    query = _countable(store_id)
    if category:
        query = query.where(PRODUCTS.c.category == category)
    if q:
        query = query.where(search_clause(q))
    return paginate(query, (PRODUCTS.c.name, PRODUCTS.c.id), page, per_page,
                    rows=lambda limited: _with_batches(
                        store_id, [_row(r) for r in db.session.execute(limited)]))


def rows_for(store_id, product_ids):
    """The rows of these products, by name; archived ones too (a row on a page opened before
    its product was archived keeps its place and says why its count is refused)."""
    if not product_ids:
        return []
    query = _countable(store_id, include_archived=True).where(PRODUCTS.c.id.in_(sorted(product_ids)))
    return _with_batches(store_id, [_row(r) for r in db.session.execute(
        query.order_by(PRODUCTS.c.name, PRODUCTS.c.id))])


def summary(store_id):
    """How far the count is: {"counted", "total", "lines", "categories": [{name, counted,
    total}]}; `lines` is every line of the count, `counted` those of products listed."""
    counted = func.count(DRAFTS.c.product_id)
    grouped = db.session.execute(
        select(PRODUCTS.c.category, func.count().label("total"), counted.label("counted"))
        .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id)
                     .outerjoin(DRAFTS, (DRAFTS.c.store_id == LEVELS.c.store_id)
                                & (DRAFTS.c.product_id == LEVELS.c.product_id)))
        .where(LEVELS.c.store_id == store_id, PRODUCTS.c.archived.is_(False))
        .group_by(PRODUCTS.c.category).order_by(PRODUCTS.c.category)).all()
    lines = db.session.scalar(select(func.count()).select_from(DRAFTS)
                              .where(DRAFTS.c.store_id == store_id))
    return {"counted": sum(r.counted for r in grouped), "total": sum(r.total for r in grouped),
            "lines": lines,
            "categories": [{"name": r.category, "counted": r.counted, "total": r.total}
                           for r in grouped if r.category]}


# ---------------------------------------------------------------------------------------------
# Saving typed counts


def save(actor, store_id, entries, dated=None):
    """Save typed counts, [(product_id, typed text, text the page showed)] → ids written.

    `dated` holds the products counted date by date: {product_id: [(expires_on, batch_code,
    typed text, text the page showed)]}; their count is the sum, blanks counting as none.
    Only entries whose text differs from what the page showed are written; a blank (every
    date blank) removes the line. All or nothing: DomainError with a field
    `counts.<product_id>` per bad entry.
    """
    wanted, errors = {}, {}
    for product_id, typed, shown in entries:
        typed, shown = (typed or "").strip(), (shown or "").strip()
        if typed == shown:
            continue
        if typed == "":
            wanted[product_id] = None
            continue
        try:
            wanted[product_id] = (parse_quantity(typed, f"counts.{product_id}",
                                                 allow_zero=True, label=N_("Count")), None)
        except DomainError as error:
            errors.update(error.fields)
    for product_id, dates in (dated or {}).items():
        try:
            wanted.update(_dated(product_id, dates))
        except DomainError as error:
            errors.update(error.fields)
    if len(wanted) > MAX_LINES:
        raise DomainError("invalid", N_("At most %(count)s lines in one count.",
                                        count=MAX_LINES), field="counts")
    conn = db.session.connection()
    products = {r.id: r for r in conn.execute(
        select(PRODUCTS.c.id, PRODUCTS.c.archived, PRODUCTS.c.unit)
        .where(PRODUCTS.c.id.in_([pid for pid, q in wanted.items() if q is not None])))}
    for product_id, line in wanted.items():
        if line is None:
            continue
        quantity = line[0]
        field = f"counts.{product_id}"
        if product_id not in products:
            errors[field] = NotFound("Product").message
            continue
        try:
            ledger.check_countable(products[product_id], quantity)
        except DomainError as error:
            errors[field] = error.message
    if errors:
        db.session.rollback()
        raise DomainError("invalid", N_("Check the counts marked below."), fields=errors)
    if not wanted:
        return []
    try:
        written = _write(conn, actor, store_id, wanted)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return written


def _dated(product_id, dates):
    """{product_id: (sum, stored batches) or None} from one product's typed dates ({} when
    nothing changed)."""
    field = f"counts.{product_id}"
    typed = [(text or "").strip() for _day, _code, text, _shown in dates]
    if typed == [(shown or "").strip() for *_rest, shown in dates]:
        return {}
    if not any(typed):
        return {product_id: None}
    counted = {}
    for (day, code, _text_, _shown), text in zip(dates, typed):
        try:
            key = (date.fromisoformat(day) if isinstance(day, str) else day, code or "")
        except ValueError:
            raise DomainError("invalid", N_("Give the expiry date of the batch."), field=field)
        if key in counted:
            raise DomainError("invalid", N_("A batch is counted twice."), field=field)
        counted[key] = parse_quantity(text or "0", field, allow_zero=True, label=N_("Count"))
    return {product_id: (sum(counted.values(), Decimal(0)),
                         _dumps_batches((day, code, q) for (day, code), q in counted.items()))}


def _write(conn, actor, store_id, wanted):
    ids = sorted(wanted)
    # Lines being applied right now are locked by the apply: wait for it, so the level read
    # next is the one it left (and its lines are gone, so these count afresh).
    existing = {r.product_id: (r.quantity, r.batches) for r in conn.execute(lock_clause(conn, (
        select(DRAFTS.c.product_id, DRAFTS.c.quantity, DRAFTS.c.batches)
        .where(DRAFTS.c.store_id == store_id, DRAFTS.c.product_id.in_(ids))
        .order_by(DRAFTS.c.product_id))))}
    new = [pid for pid in ids if wanted[pid] is not None and pid not in existing]
    if new:
        size = conn.execute(select(func.count()).select_from(DRAFTS)
                            .where(DRAFTS.c.store_id == store_id)).scalar()
        if size + len(new) > MAX_LINES:
            raise DomainError("count_too_large", N_(
                "A count holds at most %(count)s products: review and apply this one, then "
                "count the rest.", count=MAX_LINES), field="counts")
    levels = dict(conn.execute(select(LEVELS.c.product_id, LEVELS.c.quantity).where(
        LEVELS.c.store_id == store_id, LEVELS.c.product_id.in_(new))).all()) if new else {}
    now, written = utcnow(), []
    for pid in ids:
        line = wanted[pid]
        if line is None:
            if pid in existing:
                conn.execute(delete(DRAFTS).where(DRAFTS.c.store_id == store_id,
                                                  DRAFTS.c.product_id == pid))
                written.append(pid)
            continue
        if existing.get(pid) == line:
            continue
        quantity, dated = line
        stmt = upsert(conn, DRAFTS).values(
            store_id=store_id, product_id=pid, quantity=quantity, batches=dated,
            expected=levels.get(pid, Decimal(0)), user_id=actor.user_id, updated_at=now)
        # A second phone's first count of the same product keeps the first one's level.
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[DRAFTS.c.store_id, DRAFTS.c.product_id],
            set_={"quantity": stmt.excluded.quantity, "batches": stmt.excluded.batches,
                  "user_id": stmt.excluded.user_id,
                  "updated_at": stmt.excluded.updated_at}))
        written.append(pid)
    return written


# ---------------------------------------------------------------------------------------------
# Review, apply, discard


def _text(value):
    return str(Decimal(value).quantize(QUANTITY_PLACES))


def version_of(lines):
    """A short digest of the lines (product, counted, expected, dates if counted by date):
    what a review showed."""
    data = sorted([line["product_id"], _text(line["counted"]), _text(line["expected"])]
                  + ([line["batches"]] if line.get("batches") else []) for line in lines)
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def review(store_id):
    """Every line of the count with the change it would make: {"lines", "version", "differ"}.

    Lines that change the level come first, then by name. `moved` marks a product whose level
    changed since it was counted (a sale meanwhile): that sale stays recorded.
    """
    result = db.session.execute(
        select(DRAFTS.c.product_id, DRAFTS.c.quantity, DRAFTS.c.expected, DRAFTS.c.updated_at,
               DRAFTS.c.batches,
               PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.unit, PRODUCTS.c.archived,
               LEVELS.c.quantity.label("current"), USERS.c.username)
        .select_from(DRAFTS.join(PRODUCTS, PRODUCTS.c.id == DRAFTS.c.product_id)
                     .outerjoin(LEVELS, (LEVELS.c.store_id == DRAFTS.c.store_id)
                                & (LEVELS.c.product_id == DRAFTS.c.product_id))
                     .outerjoin(USERS, USERS.c.id == DRAFTS.c.user_id))
        .where(DRAFTS.c.store_id == store_id)).all()
    lines = []
    for r in result:
        current = r.current if r.current is not None else Decimal(0)
        base, difference = ledger.count_difference(
            commands.CountLine(r.product_id, r.quantity, r.expected), current)
        lines.append({"product_id": r.product_id, "sku": r.sku, "name": r.name, "unit": r.unit,
                      "archived": r.archived, "counted": r.quantity, "expected": base,
                      "current": current,
                      "difference": difference, "moved": current != base,
                      "counted_by": r.username, "updated_at": r.updated_at,
                      "batches": r.batches,
                      "dates": [{"expires_on": day, "batch_code": code, "quantity": q}
                                for day, code, q in loads_batches(r.batches) or ()]})
    lines.sort(key=lambda line: (line["difference"] == 0, line["name"].lower(),
                                 line["product_id"]))
    return {"lines": lines, "version": version_of(lines),
            "differ": sum(1 for line in lines if line["difference"] != 0)}


def apply(actor, store_id, version, note=None, idempotency_key=None):
    """Apply the count as reviewed, from raw values: commands.CountReview, then the handler."""
    return handle(actor, commands.CountReview.parse(store_id, version, note), idempotency_key)


@handles(commands.CountReview)
def apply_review(actor, command, idempotency_key=None):
    """Apply the count as reviewed (`version` from review()) → the ledger's LedgerResult.

    One transaction: the adjustments (ledger.write_count) and the removal of the applied
    lines. Conflict `count_changed` when the lines are no longer the ones reviewed.
    """
    key = idempotency.check_key(idempotency_key)
    store_id, version, note = command.store_id, command.version, command.note
    request = {"op": "count_draft", "store_id": store_id, "version": version, "note": note}

    def write(conn, now):
        locked = conn.execute(lock_clause(conn, (
            select(DRAFTS.c.product_id, DRAFTS.c.quantity, DRAFTS.c.expected, DRAFTS.c.batches)
            .where(DRAFTS.c.store_id == store_id).order_by(DRAFTS.c.product_id)))).all()
        if not locked:
            raise DomainError("nothing_counted", N_("Nothing is counted yet: enter the count "
                                                    "of at least one product."))
        lines = [{"product_id": r.product_id, "counted": r.quantity, "expected": r.expected,
                  "batches": r.batches} for r in locked]
        if version_of(lines) != version:
            raise Conflict("count_changed", N_(
                "The count changed since this review was opened (on another phone?). Check "
                "the differences again, then apply."))
        _check_products(conn, locked)
        command = commands.Count.parse(store_id=store_id, note=note, counts=[
            {"product_id": r.product_id, "quantity": r.quantity, "expected": r.expected,
             **({"batches": [{"expires_on": day, "batch_code": code or None, "quantity": q}
                             for day, code, q in loads_batches(r.batches)]}
                if r.batches else {})}
            for r in locked])
        data, changed = ledger.write_count(conn, actor, command, now, key)
        conn.execute(delete(DRAFTS).where(DRAFTS.c.store_id == store_id,
                                          DRAFTS.c.product_id.in_([r.product_id
                                                                   for r in locked])))
        return data, changed, 201

    return ledger.run_in_transaction(actor, key, request, write)


def _check_products(conn, lines):
    """Each line's product rules, all at once, as fields `counts.<product_id>`."""
    products = {r.id: r for r in conn.execute(
        select(PRODUCTS.c.id, PRODUCTS.c.archived, PRODUCTS.c.unit)
        .where(PRODUCTS.c.id.in_([line.product_id for line in lines])))}
    errors = {}
    for line in lines:
        try:
            ledger.check_countable(products[line.product_id], line.quantity)
        except DomainError as error:
            errors[f"counts.{line.product_id}"] = error.message
    if errors:
        raise DomainError("invalid", N_("Some counts cannot be applied; see the products "
                                        "marked."), fields=errors)


def discard(actor, store_id):
    """Throw the whole count away (every phone's lines) → how many lines there were."""
    conn = db.session.connection()
    try:
        removed = conn.execute(delete(DRAFTS).where(DRAFTS.c.store_id == store_id)).rowcount
        if removed:
            audit.record(conn, actor, "count.discard", "store", store_id,
                         after={"lines": removed})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return removed
