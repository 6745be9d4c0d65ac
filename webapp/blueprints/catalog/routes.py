from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from webapp.blueprints.catalog import bp
from webapp.blueprints.catalog.forms import ProductForm
from webapp.extensions import db
from webapp.models import Product
from webapp.services import catalog, inventory, purchasing
from webapp.web import access
from webapp.web.htmx import redirect_to, render
from webapp.web.paging import page_arg

PER_PAGE = 50


@bp.get("/")
@login_required
def products():
    """Products with search (name, SKU, barcode); archived ones on request."""
    q = request.args.get("q", "").strip()[:100]
    archived = request.args.get("archived") == "1"
    query = select(Product).where(Product.archived.is_(archived))
    if q:
        query = query.where(inventory.search_clause(q))
    page = page_arg()
    rows = db.session.execute(query.order_by(Product.name, Product.id)
                              .limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).scalars().all()
    args = {k: v for k, v in (("q", q), ("archived", "1" if archived else None)) if v}
    return render("catalog/products.html", "product_rows", products=rows[:PER_PAGE],
                  has_next=len(rows) > PER_PAGE, page=page, q=q, archived=archived, args=args)


def _supplier_choices(form):
    """The supplier list for the "buy from" select (purchase orders group by it)."""
    form.preferred_supplier_id.choices = [("", "—")] + [
        (str(s.id), s.name) for s in purchasing.visible_suppliers()]
    if form.preferred_supplier_id.data is not None:
        form.preferred_supplier_id.data = str(form.preferred_supplier_id.data)
    return form


def _form_page(form, heading, status=200):
    return render("form_page.html", status=status, form=form, heading=heading,
                  cancel_url=url_for("catalog.products"),
                  hints={"reorder_level": _("Low-stock badge at or below this level."),
                         "sku": _("Unique; compared without regard to case."),
                         "pack_price": _("With a pack size above 1 the counter can sell the "
                                         "whole pack at this price; empty: pack size × sale "
                                         "price.")})


@bp.route("/new", methods=["GET", "POST"])
@access.page_permission("catalog.manage")
def create():
    """Add a product; the service checks SKU and barcode uniqueness."""
    form = _supplier_choices(ProductForm())
    del form.archived
    if request.method == "GET" and request.args.get("barcode"):
        # The scanner's "Add product" link for a code no product has yet.
        form.barcode.data = request.args["barcode"].strip()[:64]
    return form.save(lambda: catalog.create_product(access.actor(), form.service_data()),
                     lambda product: _("Product %(sku)s created.", sku=product.sku),
                     lambda product: url_for("catalog.products", q=product.sku)) \
        or _form_page(form, _("New product"), form.status)


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@access.page_permission("catalog.manage")
def edit(product_id):
    """Change a product; archiving is a checkbox here and a button on the list."""
    product = catalog.get_product(product_id)
    form = _supplier_choices(ProductForm(obj=product))
    return form.save(lambda: catalog.update_product(access.actor(), product.id,
                                                    form.service_data()),
                     lambda saved: _("Product %(sku)s saved.", sku=saved.sku),
                     lambda saved: url_for("catalog.products", q=saved.sku)) \
        or _form_page(form, _("Edit %(name)s", name=product.sku), form.status)


@bp.post("/<int:product_id>/archive")
@access.page_permission("catalog.manage")
def archive(product_id):
    """Archive or restore: archived products leave the stock pages but keep their history."""
    product = catalog.get_product(product_id)
    archived = request.form.get("archived") == "1"
    catalog.update_product(access.actor(), product.id, {"archived": archived})
    flash(_("%(name)s archived.", name=product.name) if archived
          else _("%(name)s restored.", name=product.name), "success")
    return redirect_to(url_for("catalog.products", archived="1" if not archived else None))
