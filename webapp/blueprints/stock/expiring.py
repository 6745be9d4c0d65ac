"""The shopkeeper's Expiring list: a store's batches expired or expiring within its warning
window, soonest first, each with one tap to remove what is left of it as expired (a removal
naming its batch, through services/handlers.handle like every other write)."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from webapp.blueprints.stock import bp
from webapp.blueprints.stock.forms import ExpiredRemovalForm, new_key
from webapp.services import expiry, lookup
from webapp.services.errors import DomainError
from webapp.services.handlers import handle
from webapp.web import access
from webapp.web.filters import day as fmt_day
from webapp.web.filters import measure
from webapp.web.htmx import redirect_to, render
from webapp.web.i18n import translate
from webapp.web.paging import page_arg


def _page(store, error=None, status=200):
    batches = expiry.store_expiring(store, page=page_arg())
    return render("stock/expiring.html", status=status, store=store, batches=batches,
                  days=expiry.window(store), today=expiry.today(), new_key=new_key,
                  error=translate(error.message) if error else None)


@bp.get("/stores/<int:store_id>/expiring")
@login_required
def expiring(store_id):
    """What is expired or expires within the store's window, soonest first."""
    store = access.open_store(store_id)
    return _page(store)


@bp.post("/stores/<int:store_id>/expiring")
@login_required
def remove_expired(store_id):
    """Remove what is left of one batch as expired (one tap); the list comes back without it.
    The handler decides whether this user may write in this store (404 when not theirs)."""
    form = ExpiredRemovalForm(formdata=request.form)
    try:
        result = handle(access.actor(), form.command(store_id), form.key.data or None)
    except DomainError as error:
        store = access.store_or_404(store_id)
        return _page(store, error, status=422)
    store = access.store_or_404(store_id)
    movement, level = result.data["movement"], result.data["level"]
    product = lookup.product_in_store(store.id, movement["product_id"]) or {}
    unit = product.get("unit")
    flash(_("Removed %(amount)s %(name)s of %(date)s as expired · %(level)s left · entry "
            "%(number)s", amount=measure(movement["quantity"], unit),
            name=product.get("name", ""), date=fmt_day(form.expires_on.data),
            level=measure(level["quantity"], unit), number=movement["id"]), "success")
    return redirect_to(url_for("stock.expiring", store_id=store.id))
