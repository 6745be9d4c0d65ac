from collections import namedtuple
from decimal import Decimal

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, func, select

from webapp.blueprints.stock import bp, live_events, polls
from webapp.blueprints.stock.forms import (
    QUICK_TYPES,
    ActionForm,
    HistoryFilterForm,
    MovementForm,
    TransferForm,
    action_forms_html,
)
from webapp.blueprints.stock.rows import list_rows, stock_rows
from webapp.extensions import db
from webapp.models import Product, Store, Supplier, User, user_stores
from webapp.services import catalog, commands, expiry, inventory, lookup, policy, sql
from webapp.services import history as history_service
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.handlers import handle
from webapp.web import access
from webapp.web.filters import day
from webapp.web.filters import quantity as fmt_qty
from webapp.web.filters import rupees as fmt_rupees
from webapp.web.filters import unit as unit_label
from webapp.web.htmx import is_htmx, redirect_to, render, render_fragment, trigger
from webapp.web.paging import page_arg

STOCK_PAGE_SIZE = 50


def _int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


@bp.get("/")
@login_required
def index():
    """Send each user to their home: a shopkeeper's only store, or the store list."""
    return redirect(access.home_url(current_user))


# --- store home -------------------------------------------------------------------------------

SUPPLIERS = Supplier.__table__
# On the table, not the ORM class, and built once: the ORM's compile and execution layers were
# most of a quick sale's cost of reading this list.
_ACTIVE_SUPPLIERS = select(SUPPLIERS.c.id, SUPPLIERS.c.name) \
    .where(SUPPLIERS.c.active.is_(True)).order_by(SUPPLIERS.c.name)


def _suppliers():
    """The stock-in form's supplier choices, read once per request (the posted form and the
    panel's fresh one both ask)."""
    if "stock_suppliers" not in g:
        g.stock_suppliers = (("", _("No supplier")),) + tuple(
            (str(supplier_id), name)
            for supplier_id, name in sql.rows_of(db.session.connection(), _ACTIVE_SUPPLIERS, {}))
    return g.stock_suppliers


def _movement_form(formdata, kind):
    """The posted form, read as `kind`'s."""
    form = MovementForm(formdata=formdata).for_action(kind)
    form.supplier_id.choices = list(_suppliers())
    return form


def _action_forms(posted=None):
    """The sell, receive and remove forms; `posted` (kind, form) shows the one just sent again."""
    return {kind: ActionForm(kind, posted[1] if posted and posted[0] == kind else None,
                             _suppliers()) for kind in QUICK_TYPES}


STORES = Store.__table__
_FRAGMENT_STORE = select(STORES.c.id, STORES.c.code, STORES.c.name,
                         STORES.c.expiry_warning_days).where(STORES.c.id == bindparam("b_store"))


def _fragment_store(store_id, user=None):
    """The store a fragment shows (the live list, the panel after a quick sale) as the columns
    it reads, NotFound as store_or_404 when it is not there or not the user's: loading the ORM
    object (every column, its instance state) cost more than the statement."""
    if not policy.can_see_store(current_user if user is None else user, store_id):
        raise NotFound("Store")
    rows = sql.rows_of(db.session.connection(), _FRAGMENT_STORE,
                       {"b_store": store_id})
    if not rows:
        raise NotFound("Store")
    return FragmentStore(*rows[0])


# A SQLAlchemy Row's attribute raises and formats an AttributeError before finding its column,
# each time (a tenth of the list's refresh before); a named tuple's is a plain lookup.
FragmentStore = namedtuple("FragmentStore", "id code name expiry_warning_days")


def _stock_args():
    return {"low": 1 if request.args.get("low") == "1" else None, "page": page_arg()}


def _stock_context(store):
    """The full store page's stock list, its total and the store's expiry counts (the list's
    refresh, stock_list, reads its page alone)."""
    args = _stock_args()
    levels = inventory.store_levels(store.id, low=bool(args["low"]), page=args["page"],
                                    per_page=STOCK_PAGE_SIZE)
    flags = expiry.store_flags(store)
    return {"levels": levels.items, "levels_total": levels.total, "stock_args": args,
            "has_next": levels.has_next,
            "list_rows": stock_rows(store, levels.items, flags),
            "expiry_counts": {"expired": sum(f.kind == "expired" for f in flags.values()),
                              "expiring": sum(f.kind == "expiring" for f in flags.values()),
                              "days": expiry.window(store)}}


def _home(store, forms, product, status=200, result=None, block=None, open_kind=None):
    context = dict(store=store, product=product, result=result,
                   action_forms=action_forms_html(forms, store.id, product, open_kind))
    # A chosen product that tracks expiry says so in the panel: a sale takes the batch that
    # expires first, expired or not. Untracked products pay no query for it.
    if product and product.get("tracks_expiry"):
        context["panel_flag"] = expiry.store_flags(store, product_id=product["product_id"]) \
            .get(product["product_id"])
    if not (block and is_htmx()):  # the panel alone needs neither the search nor the stock list
        q = request.args.get("q", "")
        args = _stock_args()
        # The list's ETag before its levels are read: the page's first poll is conditional.
        etag = polls.page_etag(store.id, dict(args, product_id=product["product_id"]
                                              if product else None))
        context.update(q=q, results=lookup.find_products(store.id, q), etag=etag,
                       **live_events.attributes(store.id, etag), **_stock_context(store))
    return render("stock/home.html", block, status=status, **context)


@bp.get("/stores/<int:store_id>/")
@login_required
def home(store_id):
    """A shopkeeper's store: find a product, sell or receive it, watch the stock."""
    store = access.open_store(store_id)
    product = None
    if request.args.get("product"):
        product = lookup.product_in_store(store.id, _int(request.args["product"]) or 0)
        if product is None:
            abort(404)
    return _home(store, _action_forms(), product, block="panel")


@bp.get("/stores/<int:store_id>/picker")
@login_required
def picker(store_id):
    """Active search: the products matching what has been typed so far."""
    store = _fragment_store(store_id)
    q = request.args.get("q", "")
    return render_fragment("stock/home.html", "picker_results", store=store, q=q,
                  results=lookup.find_products(store.id, q))


@bp.get("/stores/<int:store_id>/stock")
@login_required
def stock_list(store_id):
    """The live stock list; answers 304 while nothing in the store has changed (polls.py
    answers most of those before this view is reached)."""
    store = _fragment_store(store_id)
    etag = polls.current_etag(store.id)
    if polls.matches(etag):
        return polls.not_modified(etag)
    selected = lookup.product_in_store(store.id, _int(request.args.get("product_id")) or 0) \
        if request.args.get("product_id") else None
    args = _stock_args()
    levels, has_next = inventory.list_page(store, low=bool(args["low"]), page=args["page"],
                                           per_page=STOCK_PAGE_SIZE)
    response = render_fragment("stock/home.html", "stock_list", store=store, etag=etag,
                               oob_product=selected, **live_events.attributes(store.id, etag),
                               levels=levels, list_rows=list_rows(store.id, levels),
                               stock_args=args, has_next=has_next)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("HX-Request")
    return response


@bp.post("/stores/<int:store_id>/movements")
@login_required
def record_movement(store_id):
    """One sale, stock-in or removal (the form's hidden `type`); the new level shows at once.

    The handler decides whether this user may write in this store; the store is loaded for
    the page after it (404 then when it is not theirs)."""
    kind = request.form.get("type")
    form = _movement_form(formdata=request.form, kind=kind if kind in QUICK_TYPES else "sale")
    product = lookup.product_in_store(store_id, _int(form.product_id.data) or 0)
    if product is None:
        abort(404)
    shown = kind if kind in QUICK_TYPES else "sale"
    user = access.viewer()
    try:
        command = form.command(store_id, product["product_id"], kind)
        # The movement commits this request's session, and nothing it writes is an object the
        # session holds: the user and their stores stay loaded, not read again for the page.
        db.session().expire_on_commit = False  # for the rest of the request (later commits too)
        result = handle(access.actor(), command, form.key.data or None)
    except DomainError as error:
        store = access.store_or_404(store_id, user)
        form.show_error(error)
        return _home(store, _action_forms((shown, form)), product, status=422,
                     block="panel", open_kind=shown)
    store = _fragment_store(store_id, user)
    message = recorded_message(kind, product, result.data["movement"], result.data["level"])
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("stock.home", store_id=store.id,
                                product=product["product_id"]), 303)
    # The level just written is the one to show (as the message says): no second read; a
    # replayed key's answer is an earlier one, so the level is read as it is now.
    product = lookup.product_in_store(store.id, product["product_id"]) if result.replayed \
        else {**product, **result.data["level"]}
    response = _home(store, _action_forms(), product, result=message, block="panel")
    return trigger(response, "stock-changed")


def recorded_message(kind, product, movement, level):
    """What was just recorded, with unit, amount, level and the entry number: a second tap
    is visibly a second entry ("Sold 1.5 kg Cheeni = Rs 225 · 111.377 kg left · entry 812")."""
    values = {"quantity": fmt_qty(movement["quantity"]), "unit": unit_label(product["unit"]),
              "name": product["name"], "level": fmt_qty(level["quantity"]),
              "number": movement["id"]}
    if kind == "sale":
        amount = Decimal(movement["quantity"]) * Decimal(movement["unit_price"] or 0)
        message = _("Sold %(quantity)s %(unit)s %(name)s = %(amount)s · %(level)s %(unit)s "
                    "left · entry %(number)s", amount=fmt_rupees(amount), **values)
    elif kind == "stock_in":
        message = _("Received %(quantity)s %(unit)s %(name)s · %(level)s %(unit)s in stock "
                    "· entry %(number)s", **values)
    else:
        message = _("Removed %(quantity)s %(unit)s %(name)s (%(reason)s) · %(level)s %(unit)s "
                    "left · entry %(number)s", reason=movement["reason"], **values)
    if "batches" in movement:  # which batches it took or went into, soonest first
        message += " · " + batch_text(movement["batches"])
    return message


def batch_text(parts):
    """A movement's batches in words: "Batches: 31 May 2027 × 2 · 30 Jun 2027 × 1"."""
    return _("Batches: %(batches)s", batches=" · ".join(
        "%s × %s" % (_("%(date)s (%(code)s)", date=day(p["expires_on"]), code=p["batch_code"])
                     if p["batch_code"] else day(p["expires_on"]) if p["expires_on"]
                     else _("no batch"), fmt_qty(p["quantity"]))
        for p in parts))


# --- transfer ---------------------------------------------------------------------------------

def _transfer_form(store, formdata=None):
    form = TransferForm(formdata=formdata)
    form.to_store_id.choices = [("", _("Choose a store"))] + [
        (str(s.id), f"{s.code} · {s.name}") for s in policy.visible_stores(current_user)
        if s.id != store.id]
    return form


def _transfer_page(store, form, status=200):
    product = None
    if request.values.get("product"):
        product = lookup.product_in_store(store.id, _int(request.values["product"]) or 0)
        if product is None:
            abort(404)
    q = request.args.get("q", "")
    return render("stock/transfer.html", status=status, store=store, form=form, product=product,
                  q=q, results=lookup.find_products(store.id, q))


@bp.get("/stores/<int:store_id>/transfer")
@login_required
def transfer(store_id):
    """Move stock from this store to another."""
    store = access.open_store(store_id)
    return _transfer_page(store, _transfer_form(store))


@bp.post("/stores/<int:store_id>/transfer")
@login_required
def submit_transfer(store_id):
    """Send stock to another store the user may see (the handler decides); errors stay on the
    form."""
    store = access.store_or_404(store_id)
    form = _transfer_form(store, request.form)
    product_id = _int(request.form.get("product"))
    if not form.validate() or product_id is None:
        return _transfer_page(store, form, status=422)
    to_store_id = _int(form.to_store_id.data)
    try:
        if to_store_id is None:
            raise DomainError("invalid", N_("Choose the store to send to."), field="to_store_id")
        command = commands.Transfer.parse(from_store_id=store.id, to_store_id=to_store_id,
                                          product_id=product_id, quantity=form.quantity.data,
                                          note=form.note.data)
        result = handle(access.actor(), command, form.key.data or None)
    except DomainError as error:
        if error.code == "not_found" and "to_store_id" in error.fields:
            error.fields["to_store_id"] = N_("Choose one of the stores listed.")
        form.show_error(error)
        return _transfer_page(store, form, status=422)
    data = result.data
    flash(_("Sent %(quantity)s to %(store)s. Now %(here)s here, %(there)s there.",
            quantity=fmt_qty(data["transfer_out"]["quantity"]),
            store=catalog.get_store(to_store_id).code,
            here=fmt_qty(data["from_level"]["quantity"]),
            there=fmt_qty(data["to_level"]["quantity"])), "success")
    return redirect_to(url_for("stock.transfer", store_id=store.id, product=product_id))


# --- history ----------------------------------------------------------------------------------

def _user_choices():
    query = select(User.id, User.username).order_by(func.lower(User.username))
    if not policy.can(current_user, "history.view_all_users"):
        query = query.where(User.id.in_(select(user_stores.c.user_id).where(
            user_stores.c.store_id.in_(current_user.store_ids or [0]))))
    return [("", _("Anyone"))] + [(str(r.id), r.username) for r in db.session.execute(query)]


def _product_by_code(code):
    code = code.strip()
    return db.session.execute(select(Product).where(
        (func.lower(Product.sku) == code.lower()) | (Product.barcode == code))).scalar()


@bp.get("/history")
@login_required
def history():
    """Movement history, filtered by store, product, type, user and Pakistan dates."""
    form = HistoryFilterForm(request.args)
    stores = policy.visible_stores(current_user, include_inactive=True)
    form.store.choices = [("", _("All stores") if policy.sees_all_stores(current_user)
                           else _("All my stores"))] + [(str(s.id), f"{s.code} · {s.name}")
                                                  for s in stores]
    form.user.choices = _user_choices()
    rows, has_next, status = [], False, 200
    store_id = _int(form.store.data)
    if form.store.data and store_id is None:
        abort(404)
    if store_id:
        access.store_or_404(store_id)
    product = db.session.get(Product, form.product.data) if form.product.data else None
    valid = form.validate()
    if valid and form.sku.data:
        product = _product_by_code(form.sku.data)
        if product is None:
            form.sku.errors = [_("No product has this SKU or barcode.")]
            valid = False
    if valid:
        flt = history_service.MovementFilter(
            store_ids=[store_id] if store_id else policy.visible_store_ids(current_user),
            product_id=product.id if product else None, type=form.type.data or None,
            user_id=_int(form.user.data), date_from=form.date_from.data,
            date_to=form.date_to.data)
        try:
            result = history_service.movements(flt, page=page_arg(), count=False, names=True)
            rows, has_next = result.items, result.has_next
        except DomainError as error:
            form.show_error(error)
            status = 422
    else:
        status = 422
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("stock/history.html", "history_rows", status=status, form=form, rows=rows,
                  batches=history_service.batches_by_movement([m.id for m in rows]),
                  has_next=has_next, page=page_arg(), args=args, product=product,
                  without_product={k: v for k, v in args.items() if k not in ("product", "sku")})
