"""Counter pages: build a basket (search, tap, recent tiles), complete it, print or share the
receipt, void it or take a return. The basket lives in the session (a signed cookie) per
store until it is completed; completing it is one call to services/sales.py.

Every line is read and priced by services/basket.py, as the sale will be: the page shows the
bill `complete` records. Every form works without JavaScript (post, redirect); htmx swaps only
the basket. With no signal, static/js/basket.js keeps the basket on the phone (from the
`data-basket-state` each render carries), queues a completed one for
/offline/stores/<id>/sales, and hands what is left back to `replace` when the signal returns.
"""
import functools
import json
import uuid
from contextlib import contextmanager
from typing import NamedTuple
from urllib.parse import quote

from flask import abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, select

from webapp.blueprints.counter import bp
from webapp.extensions import db
from webapp.models import UNITS, Store
from webapp.models.types import utcnow
from webapp.services import basket as lines_of
from webapp.services import commands, inventory, khata, lookup, payments, policy, sales
from webapp.services.errors import DomainError, NotFound
from webapp.services.handlers import handle
from webapp.web import access
from webapp.web.filters import (
    measure,
    measure_words,
    pack_count,
    pakistan_time,
    payment_method,
    rupees,
)
from webapp.web.filters import quantity as fmt_qty
from webapp.web.guard import json_depth
from webapp.web.htmx import is_htmx, redirect_to, render, render_fragment
from webapp.web.i18n import translate
from webapp.web.paging import page_arg
from webapp.web.safe_text import message_value

BASKET_KEY = "baskets"
LAST_SALE_KEY = "counter_last_sale"
MAX_BASKET_LINES = lines_of.MAX_SESSION_LINES


# --- the basket in the session ----------------------------------------------------------------

STORE_THERE = select(Store.__table__.c.id).where(Store.__table__.c.id == bindparam("s_store"))


class BasketStore(NamedTuple):
    """The store as a change of the basket needs it: its answer (the basket block, or a
    redirect) reads only its id."""

    id: int


def _basket_store(store_id):
    """access.store_or_404 for a change of the basket: the same rule (policy.can_see_store)
    and NotFound for a store that is not there, asked of its id alone instead of loading the
    Store (0.6 M instructions of a tap on a product). _page loads the store for a
    whole page."""
    if not policy.can_see_store(current_user, store_id) or db.session.connection().execute(
            STORE_THERE, {"s_store": store_id}).first() is None:
        raise NotFound("Store")
    return BasketStore(store_id)


def _basket(store_id):
    """{"lines": [[product_id, "q" | "a", text]], "key": idempotency key} for this store."""
    basket = session.get(BASKET_KEY, {}).get(str(store_id))
    return basket or {"lines": [], "key": uuid.uuid4().hex}


def _save(store_id, basket):
    """Store the basket; every change gets a new idempotency key (a new sale to complete)."""
    baskets = dict(session.get(BASKET_KEY, {}))
    basket["key"] = uuid.uuid4().hex
    if basket["lines"]:
        baskets[str(store_id)] = basket
    else:
        baskets.pop(str(store_id), None)
    session[BASKET_KEY] = baskets


def _lines_view(store, basket, errors=None, products=None):
    """Each basket line priced by services/basket.py (as `complete` will price it); the bill.
    `products`: the lines' products (lookup.products_in_store), read here when not given."""
    errors = errors or {}
    if products is None:
        products = lookup.products_in_store(store.id, [line[0] for line in basket["lines"]])
    lines, total = lines_of.show(basket["lines"], products.get)
    for line in lines:
        i = line.index
        line.error = errors.get(f"lines.{i}.quantity") or errors.get(f"lines.{i}.amount") \
            or errors.get(f"lines.{i}.packs") \
            or errors.get(f"lines.{i}.product_id") \
            or (translate(line.error) if line.error else None)
    return lines, total


def _basket_context(store, basket, errors, products):
    """What the page's basket block shows: all an htmx change of the basket renders."""
    lines, total = _lines_view(store, basket, errors, products)
    # Each line's price and total, and the bill, are shown twice (the page, basket_data), and
    # the udhaar list's balances repeat: one formatting each.
    rupees_of = functools.cache(rupees)
    return {"store": store, "lines": lines, "total": total, "basket": basket,
            "errors": errors or {}, "rupees_of": rupees_of,
            "basket_data": lines_of.state(basket["key"], lines, total, rupees_of, fmt_qty),
            # The udhaar form's choice of customer (the store is this user's: access).
            "customers": khata.picker_customers(store.id) if lines else [],
            "entered": request.form if errors else {}}


def _page(store, basket, status=200, errors=None, block=None, message=None, products=None):
    if block and is_htmx():
        # htmx swaps the basket alone: the search, tiles and stock list are not read for it.
        return render("counter/basket.html", block, status=status, message=message,
                      **_basket_context(store, basket, errors, products))
    store = access.store_or_404(store.id)  # the whole page shows its code, name, address
    context = _basket_context(store, basket, errors, products)
    q = request.args.get("q", "")
    recent_ids = sales.recent_products(store.id)
    recent_products = lookup.products_in_store(store.id, recent_ids)
    recent = [recent_products[pid] for pid in recent_ids if pid in recent_products]
    stock = inventory.store_levels(store.id, page=1, per_page=50, count=False).items
    return render("counter/basket.html", status=status, message=message, q=q,
                  results=lookup.find_products(store.id, q), recent=recent, stock=stock,
                  max_lines=MAX_BASKET_LINES, loose_units=lines_of.LOOSE_UNITS,
                  phone_rules=lines_of.phone_rules(), unit_words=measure_words(UNITS),
                  **context)


@bp.get("/stores/<int:store_id>/basket")
@login_required
def basket(store_id):
    """The basket: find or tap products, set quantities, see the bill, complete in one tap."""
    store = access.open_store(store_id)
    return _page(store, _basket(store.id))


@bp.get("/stores/<int:store_id>/basket/picker")
@login_required
def picker(store_id):
    """Active search for the basket: each match is a one-tap Add."""
    store = access.store_or_404(store_id)
    q = request.args.get("q", "")
    return render_fragment("counter/basket.html", "picker_results", store=store, q=q,
                           results=lookup.find_products(store.id, q))


def _changed(store, basket, message=None, products=None):
    _save(store.id, basket)
    if is_htmx():
        return _page(store, basket, block="basket", message=message, products=products)
    return redirect(url_for("counter.basket", store_id=store.id), 303)


@bp.post("/stores/<int:store_id>/basket/add")
@login_required
def add(store_id):
    """Add one of a product (or one more, if it is already in the basket)."""
    store = _basket_store(store_id)
    basket = _basket(store.id)
    product_id = _int(request.form.get("product_id"))
    # The product and the basket's others (its lines, shown next) in one round trip.
    products = lookup.products_in_store(store.id, [product_id]
                                        + [line[0] for line in basket["lines"]])
    product = products.get(product_id)
    if product is None or product.get("archived"):
        abort(404)
    for i, line in enumerate(basket["lines"]):
        if line[0] == product["product_id"]:
            if line[1] == lines_of.QUANTITY:
                basket["lines"][i] = lines_of.step(line, 1)
            break
    else:
        if len(basket["lines"]) >= MAX_BASKET_LINES:
            flash(_("A basket holds at most %(n)d products.", n=MAX_BASKET_LINES), "error")
        else:
            basket["lines"].append([product["product_id"], "q", "1"])
    return _changed(store, basket, _("Added %(name)s.", name=product["name"]), products)


@bp.post("/stores/<int:store_id>/basket/lines/<int:index>")
@login_required
def set_line(store_id, index):
    """Change one line: a quantity, an amount in rupees (loose goods), whole packs, +1, −1 or
    remove."""
    store = _basket_store(store_id)
    basket = _basket(store.id)
    if not 0 <= index < len(basket["lines"]):
        return _changed(store, basket)
    line = basket["lines"][index]
    action = request.form.get("action", "set")
    if action == "remove":
        basket["lines"].pop(index)
    elif action in ("more", "less"):
        stepped = lines_of.step(line, 1 if action == "more" else -1)
        if stepped is None:
            basket["lines"].pop(index)
        else:
            basket["lines"][index] = stepped
    else:
        typed = {mode: request.form.get(name, "").strip()
                 for mode, name in lines_of.FIELDS.items()}
        mode = next((mode for mode in (lines_of.PACKS, lines_of.AMOUNT) if typed[mode]),
                    lines_of.QUANTITY)
        text = typed[mode]
        if not text:
            return _changed(store, basket)
        field = f"lines.{index}.{lines_of.FIELDS[mode]}"
        try:
            basket["lines"][index] = lines_of.session_entry(line[0], mode, text, field)
        except DomainError as error:
            if lines_of.takes_out(text):
                basket["lines"].pop(index)   # 0 takes the line out, as − does
                return _changed(store, basket)
            message = translate(error.message)
            return _page(store, basket, status=422, errors={field: message}, block="basket",
                         message=message)
    return _changed(store, basket)


@bp.post("/stores/<int:store_id>/basket/clear")
@login_required
def clear(store_id):
    """Empty the basket."""
    store = _basket_store(store_id)
    return _changed(store, {"lines": []})


@bp.post("/stores/<int:store_id>/basket/replace")
@login_required
def replace(store_id):
    """Take back the basket the phone kept while it had no signal: `lines` is JSON
    [[product_id, "q" | "a", text], …]. Lines of unknown or archived products are left out."""
    store = _basket_store(store_id)
    text = request.form.get("lines", "")
    if json_depth(text.encode()) > 2:  # [[id, mode, text], …]: json recurses once a level
        abort(400)
    try:
        wanted = json.loads(text)
    except ValueError:
        abort(400)
    if not isinstance(wanted, list):
        abort(400)
    if not all(isinstance(entry, list) and len(entry) == 3 for entry in wanted):
        abort(400)
    entries = [[_int(pid), mode, str(text).strip()] for pid, mode, text in wanted]
    products = lookup.products_in_store(store.id, [entry[0] for entry in entries])
    return _changed(store, {"lines": lines_of.from_phone(entries, products.get)},
                    products=products)


@bp.post("/stores/<int:store_id>/basket/complete")
@login_required
def complete(store_id):
    """Complete the basket as one sale; a short line refuses it all and says which. The
    handler decides whether this user may sell in this store."""
    key = request.form.get("key") or None
    last = session.get(LAST_SALE_KEY) or {}
    if key and last.get("key") == key:  # a second tap of the same Complete: same sale
        return redirect_to(url_for("counter.receipt", store_id=store_id, sale_id=last["id"]))
    basket = _basket(store_id)
    try:
        with _user_kept_loaded():  # the udhaar step may write the new customer first
            customer_id, split = _payment_step(store_id, key)
            command = sales.parse_sale(store_id, lines_of.request_lines(basket["lines"]),
                                       customer_id=customer_id, split=split)
            result = handle(access.actor(), command, key)
    except DomainError as error:
        store = access.store_or_404(store_id)  # the page again (404 when not this user's)
        message = translate(error.message)
        if not any(name.startswith("lines.") for name in error.fields):
            flash(message, "error")
        errors = {name: translate(text) for name, text in error.fields.items()}
        return _page(store, basket, status=422, errors=errors, block="basket", message=message)
    sale = result.data["sale"]
    session[LAST_SALE_KEY] = {"key": key, "id": sale["id"]}
    _save(store_id, {"lines": []})
    flash(_("Sale #%(number)s recorded: %(total)s.", number=sale["number"],
            total=rupees(sale["total"])), "success")
    return redirect_to(url_for("counter.receipt", store_id=store_id, sale_id=sale["id"]))


@contextmanager
def _user_kept_loaded():
    """The sale's commit leaves the session's objects loaded: it expired the logged-in user,
    and three readers after it (the flash's language, the security headers' is_authenticated,
    the request log's user id) each loaded the user again (its query at login, stores and all).
    The sale reads and writes through Core; nothing after it reads an ORM object it changed."""
    session = db.session()
    kept = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = kept


def _payment_step(store_id, key):
    """(customer_id, split) from the Complete step: Cash (the default), Card or Wallet for the
    whole bill, or Udhaar for a chosen or new customer with an optional part paid now in cash
    and the rest on the khata. The rest is worked out by the sale from the bill it prices
    (payments.rest_of_bill), as for a basket queued offline: the same key from either door is
    the same request."""
    pay = request.form.get("pay") or "cash"
    if pay not in ("cash", "card", "wallet", "credit"):
        abort(400)
    split = payments.rest_of_bill(pay, request.form.get("paid_now"))
    if pay != "credit":
        return None, split  # cash: no split, the cash sale's path unchanged
    customer_id = khata.udhaar_customer(
        access.actor(), store_id, _int(request.form.get("customer_id")) or None,
        request.form.get("new_name"), request.form.get("new_phone"),
        f"{key}-customer" if key else None)
    return customer_id, split


def _int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return number if 0 < number < 2**31 else 0


# --- receipt, void, returns -------------------------------------------------------------------

def whatsapp_text(sale):
    """The receipt as plain text for a WhatsApp message (names through safe_text.message_value:
    one line each, whatever was typed into them)."""
    lines = [f"{message_value(sale['store_name'])} ({message_value(sale['store_code'])})",
             _("Receipt #%(number)s · %(time)s", number=sale["number"],
               time=pakistan_time(sale["created_at"]))]
    if sale.get("reference"):   # the number on the provisional receipt handed over offline
        lines.append(_("Ref %(reference)s", reference=sale["reference"]))
    for line in sale["lines"]:
        if line.get("packs"):   # "1 carton (12) = Rs 1,150": the pack price, not 12 × Rs 100
            lines.append(f"{message_value(line['name'])}: "
                         f"{pack_count(line['packs'], line['pack_name'], line['quantity'])} = "
                         f"{rupees(line['line_total'])}")
            continue
        lines.append(f"{message_value(line['name'])}: {measure(line['quantity'], line['unit'])} × "
                     f"{rupees(line['unit_price'])} = {rupees(line['line_total'])}")
    lines.append(_("Total: %(total)s", total=rupees(sale["total"])))
    if sale.get("payments") and sale["payments"][0]["method"] != "cash" or \
            len(sale.get("payments") or []) > 1:
        lines.append(", ".join(f"{payment_method(p['method'])} {rupees(p['amount'])}"
                               for p in sale["payments"]))
    if sale["status"] == "voided":
        lines.append(_("VOIDED"))
    return "\n".join(lines)


@bp.get("/stores/<int:store_id>/sales/<int:sale_id>")
@login_required
def receipt(store_id, sale_id):
    """The receipt: prints on a 58 mm printer, shares on WhatsApp; void and return from here."""
    store = access.store_or_404(store_id)
    sale = access.in_store_or_404(store, sales.get_sale, sale_id)
    share = "https://wa.me/?text=" + quote(whatsapp_text(sale), safe="")
    customer = khata.get_customer(current_user, sale["customer_id"]) \
        if sale.get("customer_id") else None
    return render("counter/receipt.html", store=store, sale=sale, share_url=share,
                  customer=customer,
                  void_key=uuid.uuid4().hex,
                  may_void=sales.can_void(current_user, sale, store.void_window_minutes,
                                          utcnow()))


def _void_page(store, sale, status=200):
    return render("counter/void.html", status=status, store=store, sale=sale,
                  void_key=uuid.uuid4().hex)


@bp.get("/stores/<int:store_id>/sales/<int:sale_id>/void")
@login_required
def void_confirm(store_id, sale_id):
    """Ask once before voiding: what goes back on the shelf, the total, and that it is final."""
    store = access.store_or_404(store_id)
    sale = access.in_store_or_404(store, sales.get_sale, sale_id)
    if not sales.can_void(current_user, sale, store.void_window_minutes, utcnow()):
        return redirect_to(url_for("counter.receipt", store_id=store.id, sale_id=sale["id"]))
    return _void_page(store, sale)


@bp.post("/stores/<int:store_id>/sales/<int:sale_id>/void")
@login_required
def void(store_id, sale_id):
    """Void the sale (its goods go back on the shelf); errors come back on the receipt.

    Only the confirmation page's form says `confirmed`: a post without it (an old receipt
    page, a stray tap) gets the question instead of a void."""
    store = access.store_or_404(store_id)
    sale = access.in_store_or_404(store, sales.get_sale, sale_id)
    if request.form.get("confirmed") != "yes":
        return _void_page(store, sale)
    try:
        handle(access.actor(), commands.Void(sale["id"]), request.form.get("key") or None)
    except DomainError as error:
        flash(translate(error.message), "error")
    else:
        flash(_("Sale #%(number)s voided; its goods are back in stock.",
                number=sale["number"]), "success")
    return redirect_to(url_for("counter.receipt", store_id=store.id, sale_id=sale["id"]))


def _return_page(store, sale, status=200, errors=None, entered=None):
    return render("counter/return.html", status=status, store=store, sale=sale,
                  errors=errors or {}, entered=entered or {},
                  key=uuid.uuid4().hex)


@bp.get("/stores/<int:store_id>/sales/<int:sale_id>/return")
@login_required
def return_form(store_id, sale_id):
    """Choose what the customer brought back."""
    store = access.store_or_404(store_id)
    return _return_page(store, access.in_store_or_404(store, sales.get_sale, sale_id))


@bp.post("/stores/<int:store_id>/sales/<int:sale_id>/return")
@login_required
def take_return(store_id, sale_id):
    """Put the returned quantities back; never more than sold minus already returned."""
    store = access.store_or_404(store_id)
    sale = access.in_store_or_404(store, sales.get_sale, sale_id)
    entered = {line["product_id"]: request.form.get(f"return-{line['product_id']}", "").strip()
               for line in sale["lines"]}
    wanted = [{"product_id": pid, "quantity": text} for pid, text in entered.items() if text]
    if not wanted:
        flash(_("Enter how much of at least one line came back."), "error")
        return _return_page(store, sale, status=422, entered=entered)
    try:
        command = commands.Return.parse(sale["id"], wanted, request.form.get("note"))
        result = handle(access.actor(), command, request.form.get("key") or None)
    except DomainError as error:
        errors = {}
        for name, message in error.fields.items():
            parts = name.split(".")
            if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
                errors[wanted[int(parts[1])]["product_id"]] = message
        if not errors:
            flash(translate(error.message), "error")
        return _return_page(store, sale, status=422, errors=errors, entered=entered)
    flash(_("Return recorded: %(amount)s back to the customer.",
            amount=rupees(result.data["return"]["amount"])), "success")
    return redirect_to(url_for("counter.receipt", store_id=store.id, sale_id=sale["id"]))


@bp.get("/stores/<int:store_id>/sales")
@login_required
def sales_list(store_id):
    """The store's recent sales, to reprint, void or take a return; `q` finds one by its
    receipt number or the provisional number a phone gave it offline."""
    store = access.open_store(store_id)
    find = request.args.get("q", "").strip()[:60]
    result = sales.list_sales(store_id=store.id, page=page_arg(), per_page=50, find=find or None)
    return render("counter/sales.html", store=store, rows=result.items, page=result.page,
                  has_next=result.has_next, q=find)
