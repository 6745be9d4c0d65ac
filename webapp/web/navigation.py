"""The main menu, built per role from the permissions in access.py."""
from dataclasses import dataclass

from flask import request, session, url_for
from flask_login import current_user

from webapp.services import policy
from webapp.web.i18n import gettext as _

CURRENT_STORE_KEY = "store_id"


@dataclass
class NavItem:
    label: str
    url: str
    boost: bool = True

    @property
    def active(self):
        return request.path == self.url.split("?")[0]


def remember_store(store_id):
    """The store last opened: the menu's count and transfer links go there."""
    session[CURRENT_STORE_KEY] = store_id


def current_store_id(user):
    store_id = session.get(CURRENT_STORE_KEY)
    if store_id and policy.can_see_store(user, store_id):
        return store_id
    stores = policy.visible_store_ids(user)
    if stores is not None and len(stores) == 1:
        return next(iter(stores))
    return None


def nav_items():
    """The links this user may follow, in menu order."""
    user = current_user
    if not user.is_authenticated:
        return []
    store_id = current_store_id(user)
    chooser = url_for("stores.index")
    items = [
        NavItem(_("Store"), url_for("stock.home", store_id=store_id) if store_id else chooser),
        NavItem(_("Count"), url_for("stock.count", store_id=store_id) if store_id else chooser),
        NavItem(_("Expiring"),
                url_for("stock.expiring", store_id=store_id) if store_id else chooser),
        NavItem(_("Transfer"),
                url_for("stock.transfer", store_id=store_id) if store_id else chooser),
        NavItem(_("Khata"), url_for("khata.customers", store_id=store_id) if store_id
                else chooser),
        NavItem(_("Close the day"),
                url_for("khata.closing_form", store_id=store_id) if store_id else chooser),
        NavItem(_("History"), url_for("stock.history")),
        NavItem(_("Products"), url_for("catalog.products")),
        NavItem(_("Stores"), chooser),
    ]
    if policy.can(user, "reports.view"):
        items.append(NavItem(_("Reports"), "/reports/", boost=False))
    if policy.can(user, "purchasing.receive"):
        items.append(NavItem(_("Orders"), url_for("purchasing.orders")))
    if policy.can(user, "imports.run"):
        items.append(NavItem(_("Import"), url_for("imports.new")))
    if policy.can(user, "suppliers.view"):
        items.append(NavItem(_("Suppliers"), url_for("admin.suppliers")))
        items.append(NavItem(_("Money"), url_for("khata.money")))
    if policy.can(user, "users.manage"):
        items.append(NavItem(_("Users"), url_for("admin.users")))
    if policy.can(user, "audit.view"):
        items.append(NavItem(_("Audit log"), url_for("audit.index")))
    if policy.can(user, "jobs.manage"):
        items.append(NavItem(_("Jobs"), url_for("jobs.index")))
    if policy.can(user, "webhooks.manage"):
        items.append(NavItem(_("Webhooks"), url_for("admin.webhooks_index")))
    items.append(NavItem(_("API tokens"), url_for("admin.tokens")))
    items.append(NavItem(_("Change password"), url_for("auth.change_password")))
    items.append(NavItem(_("Log out all my devices"), url_for("auth.logout_everywhere")))
    return items


def register(app):
    @app.context_processor
    def navigation_context():
        return {"nav_items": nav_items, "can": lambda permission: policy.can(current_user,
                                                                             permission)}
