"""The shopkeeper's Expiring list: a store's batches expired or expiring within its warning
window, soonest first, with what is left of each and its value at cost."""
from flask_login import login_required

from webapp.blueprints.stock import bp
from webapp.services import expiry
from webapp.web import access
from webapp.web.htmx import render
from webapp.web.navigation import remember_store
from webapp.web.paging import page_arg


@bp.get("/stores/<int:store_id>/expiring")
@login_required
def expiring(store_id):
    """What is expired or expires within the store's window, soonest first."""
    store = access.store_or_404(store_id)
    remember_store(store.id)
    return render("stock/expiring.html", store=store, days=expiry.window(store),
                  batches=expiry.store_expiring(store, page=page_arg()), today=expiry.today())
