"""Pages: make orders from low stock, list/show/edit orders, share, print, CSV, receive.

Every form is a plain POST that redirects (htmx boosts it); business rules stay in
services/purchasing.py, and their DomainErrors come back inline on the same page (422).
"""
import uuid

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.blueprints.purchasing import bp
from webapp.blueprints.reports import export, forms as report_forms
from webapp.models import ORDER_STATUSES
from webapp.services import policy, purchasing
from webapp.services.errors import DomainError
from webapp.services.handlers import handle
from webapp.web import access
from webapp.web.htmx import redirect_to, render
from webapp.web.i18n import translate
from webapp.web.paging import page_arg
from webapp.web.safe_text import message_value

PER_PAGE = 50


def _status_label(status):
    return {"draft": _("Draft"), "sent": _("Sent"), "partly_received": _("Partly received"),
            "received": _("Received"), "cancelled": _("Cancelled")}.get(status, status)


@bp.app_context_processor
def _labels():
    return {"po_status": _status_label}


def _optional_int(name):
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/")
@login_required
def orders():
    """Orders the user's stores may see, newest first; filters by store and status."""
    store_id, status = _optional_int("store_id"), request.args.get("status") or None
    if status not in (None, *ORDER_STATUSES):
        status = None
    if store_id is not None:
        access.store_or_404(store_id)
    result = purchasing.list_orders(current_user, store_id=store_id, status=status,
                                    page=page_arg(), per_page=PER_PAGE)
    args = {k: v for k, v in (("store_id", store_id), ("status", status)) if v}
    return render("purchasing/orders.html", orders=result.items, total=result.total,
                  page=result.page, has_next=result.has_next, args=args, status=status,
                  store_id=store_id, stores=policy.visible_stores(current_user),
                  statuses=ORDER_STATUSES,
                  totals={o.id: purchasing.order_total(o) for o in result.items})


# --- make orders from low stock ---------------------------------------------------------------

def _suggest_page(error=None, status=200, failed_group=None):
    stores, store_id = report_forms.scope(current_user, request.args)
    groups = purchasing.suggestions(stores, store_id=store_id,
                                    **report_forms.low_filters(request.args))
    return render("purchasing/suggest.html", status=status, groups=groups, error=error,
                  failed_group=failed_group, args=request.args,
                  suppliers=purchasing.visible_suppliers(),
                  stores=policy.visible_stores(current_user), store_id=store_id)


@bp.get("/make")
@access.page_permission("purchasing.manage")
def suggest():
    """Low stock grouped by supplier in whole buying packs: one form per supplier."""
    try:
        return _suggest_page()
    except DomainError as error:
        if error.status == 404:
            raise
        request.args = {}
        return _suggest_page(error=error, status=422)


@bp.post("/make")
@access.page_permission("purchasing.manage")
def make_order():
    """Save one supplier group as a draft order, with the packs and costs as edited."""
    form = request.form
    product_ids = form.getlist("product_id")
    lines = [{"product_id": pid, "packs": form.get(f"packs-{pid}", ""),
              "unit_cost": form.get(f"cost-{pid}", "")} for pid in product_ids]
    try:
        order = purchasing.create_order(access.actor(), current_user,
                                        store_id=form.get("store_id"),
                                        supplier_id=form.get("supplier_id"), lines=lines)
    except DomainError as error:
        if error.status == 404 and "supplier_id" not in error.fields:
            raise
        return _suggest_page(error=error, status=422,
                             failed_group=(form.get("store_id"), form.get("group")))
    flash(_("Draft order %(id)s saved for %(supplier)s.", id=order.id,
            supplier=order.supplier.name), "success")
    return redirect_to(url_for("purchasing.order", order_id=order.id))


# --- one order --------------------------------------------------------------------------------

def _share_text(order):
    """The order in the supplier's words: what, how many packs of how many, for which shop.
    Names and the note go through safe_text.message_value (one line each)."""
    from webapp.web.filters import unit
    lines = [_("Order %(id)s from %(store)s (%(code)s)", id=order.id,
               store=message_value(order.store.name), code=message_value(order.store.code))]
    for line in order.lines:
        if line.added_at_receipt:
            continue
        lines.append(_("%(packs)s × %(size)s %(unit)s — %(name)s (%(sku)s)",
                       packs=_n(line.packs), size=_n(line.pack_size), unit=unit(line.product.unit),
                       name=message_value(line.product.name),
                       sku=message_value(line.product.sku)))
    if order.note:
        lines.append(message_value(order.note))
    return "\n".join(lines)


def _n(value):
    from webapp.web.filters import quantity
    return quantity(value)


@bp.get("/<int:order_id>")
@login_required
def order(order_id):
    """An order: its lines and totals, what arrived, and what can be done next."""
    order = purchasing.get_order(order_id, current_user)
    total, costed = purchasing.order_total(order)
    return render("purchasing/order.html", order=order, total=total, costed=costed,
                  receipts=purchasing.receipts(order),
                  whatsapp=purchasing.whatsapp_url(order.supplier.phone, _share_text(order)),
                  transitions=purchasing.TRANSITIONS[order.status],
                  receivable=order.status in purchasing.RECEIVABLE)


@bp.post("/<int:order_id>/status")
@access.page_permission("purchasing.manage")
def change_status(order_id):
    """Send, cancel, reopen or close an order (refused moves come back as a message)."""
    try:
        order = purchasing.change_status(access.actor(), current_user, order_id,
                                         request.form.get("status", ""))
    except DomainError as error:
        if error.status == 404:
            raise
        flash(translate(error.message), "error")
        return redirect_to(url_for("purchasing.order", order_id=order_id))
    flash(_("Order %(id)s is now: %(status)s.", id=order.id,
            status=_status_label(order.status)), "success")
    return redirect_to(url_for("purchasing.order", order_id=order.id))


@bp.route("/<int:order_id>/edit", methods=["GET", "POST"])
@access.page_permission("purchasing.manage")
def edit(order_id):
    """Change a draft: packs and cost per line, add a product by SKU, the note."""
    order = purchasing.get_order(order_id, current_user)
    if order.status != "draft":
        flash(_("Only a draft order can be edited."), "error")
        return redirect_to(url_for("purchasing.order", order_id=order.id))
    error = None
    if request.method == "POST":
        form = request.form
        lines = [{"product_id": pid, "packs": form.get(f"packs-{pid}", ""),
                  "unit_cost": form.get(f"cost-{pid}", "")} for pid in form.getlist("product_id")]
        try:
            add = (form.get("add_sku") or "").strip()
            if add:
                product = purchasing.product_by_sku(add, field="add_sku")
                lines.append({"product_id": product.id, "packs": form.get("add_packs") or "1",
                              "unit_cost": ""})
            purchasing.update_order(access.actor(), current_user, order.id, lines=lines,
                                    note=form.get("note", ""))
        except DomainError as err:
            if err.status == 404 and not err.fields:
                raise
            error = err
            order = purchasing.get_order(order_id, current_user)
        else:
            flash(_("Order %(id)s saved.", id=order.id), "success")
            return redirect_to(url_for("purchasing.order", order_id=order.id))
    return render("purchasing/edit.html", status=422 if error else 200, order=order,
                  error=error, form=request.form if error else None)


@bp.get("/<int:order_id>/print")
@login_required
def print_view(order_id):
    """A plain page to print or save as PDF and hand to the supplier."""
    order = purchasing.get_order(order_id, current_user)
    total, costed = purchasing.order_total(order)
    return render_template("purchasing/print.html", order=order, total=total, costed=costed)


CSV_HEADER = ["order", "store_code", "supplier", "sku", "product", "unit", "packs", "pack_size",
              "quantity", "unit_cost", "line_cost", "received"]


@bp.get("/<int:order_id>.csv")
@login_required
def order_csv(order_id):
    """The order as a spreadsheet (UTF-8 with a BOM, so Excel shows Urdu names)."""
    order = purchasing.get_order(order_id, current_user)
    rows = [[order.id, order.store.code, order.supplier.name, line.product.sku,
             line.product.name, line.product.unit, line.packs, line.pack_size, line.quantity,
             line.unit_cost, None if line.unit_cost is None else
             (line.quantity * line.unit_cost).quantize(line.unit_cost),
             line.received_quantity] for line in order.lines]
    return export.stream(f"order-{order.id}.csv", CSV_HEADER, rows)


# --- receiving --------------------------------------------------------------------------------

@bp.route("/<int:order_id>/receive", methods=["GET", "POST"])
@access.page_permission("purchasing.receive")
def receive(order_id):
    """What arrived: per line the quantity (prefilled with what is still due) and the invoice
    cost; plus an extra or substitute product by SKU. One transaction; a double tap replays."""
    order = purchasing.get_order(order_id, current_user)
    if order.status not in purchasing.RECEIVABLE:
        flash(_("This order is closed; nothing more can be received on it."), "error")
        return redirect_to(url_for("purchasing.order", order_id=order.id))
    error, form = None, None
    if request.method == "POST":
        form = request.form
        lines = [{"product_id": pid, "quantity": form.get(f"qty-{pid}", ""),
                  "unit_cost": form.get(f"cost-{pid}", "")} for pid in form.getlist("product_id")]
        try:
            extra = (form.get("extra_sku") or "").strip()
            if extra:
                product = purchasing.product_by_sku(extra, field="extra_sku")
                lines = [line for line in lines if str(line["product_id"]) != str(product.id)]
                lines.append({"product_id": product.id,
                              "quantity": form.get("extra_qty", ""),
                              "unit_cost": form.get("extra_cost", ""),
                              "line_id": form.get("extra_for", "")})
            command = purchasing.parse_delivery(order.id, lines, form.get("note", ""))
            result = handle(access.actor(), command, form.get("key") or None)
        except DomainError as err:
            if err.status == 404 and not err.fields:
                raise
            error = err
            order = purchasing.get_order(order_id, current_user)
        else:
            data = result.data
            if data["over_received"]:
                flash(_("Received. More than ordered arrived on some lines; they are flagged."),
                      "warning")
            else:
                flash(_("Received. The order is now: %(status)s.",
                        status=_status_label(data["order"]["status"])), "success")
            return redirect_to(url_for("purchasing.order", order_id=order.id))
    return render("purchasing/receive.html", status=422 if error else 200, order=order,
                  error=error, form=form,
                  key=(form.get("key") if form else None) or str(uuid.uuid4()))
