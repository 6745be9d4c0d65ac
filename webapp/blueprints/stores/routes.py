from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from webapp.blueprints.stores import bp
from webapp.blueprints.stores.forms import StoreForm
from webapp.extensions import db
from webapp.models import Product, StockLevel
from webapp.services import catalog, policy
from webapp.services.inventory import REORDER
from webapp.web import access
from webapp.web.htmx import render


def _low_counts(store_ids):
    """Low-stock products per store, in one grouped query."""
    levels = StockLevel.__table__
    rows = db.session.execute(
        select(levels.c.store_id, func.count())
        .select_from(levels.join(Product.__table__, Product.id == levels.c.product_id))
        .where(levels.c.store_id.in_(store_ids or [0]), Product.archived.is_(False),
               levels.c.quantity <= REORDER)
        .group_by(levels.c.store_id)).all()
    return dict(rows)


@bp.get("/")
@login_required
def index():
    """The stores this user works in (every store for managers)."""
    show_closed = policy.can(current_user, "stores.manage")
    stores = policy.visible_stores(current_user, include_inactive=show_closed)
    return render("stores/index.html", stores=stores, low=_low_counts([s.id for s in stores]))


def _form_page(form, heading, status=200):
    return render("form_page.html", status=status, form=form, heading=heading,
                  cancel_url=url_for("stores.index"),
                  hints={"allow_negative_stock": _("For shops that hand goods over before "
                                                   "recording them; negative levels are flagged.")})


@bp.route("/new", methods=["GET", "POST"])
@access.page_permission("stores.manage")
def create():
    """Open a new store (managers)."""
    form = StoreForm()
    return form.save(lambda: catalog.create_store(access.actor(), form.service_data()),
                     lambda store: _("Store %(code)s created.", code=store.code),
                     lambda store: url_for("stores.index")) \
        or _form_page(form, _("New store"), form.status)


@bp.route("/<int:store_id>/edit", methods=["GET", "POST"])
@access.page_permission("stores.manage")
def edit(store_id):
    """Change a store's details, close it, or let it sell below zero (managers)."""
    store = catalog.get_store(store_id)
    form = StoreForm(obj=store)
    return form.save(lambda: catalog.update_store(access.actor(), store.id, form.service_data()),
                     lambda saved: _("Store %(code)s saved.", code=saved.code),
                     lambda saved: url_for("stores.index")) \
        or _form_page(form, _("Edit %(name)s", name=store.code), form.status)
