"""The logged-in user at the door: the permission decorator, the acting user, where "/" goes.

The rules themselves live in services/policy.py; this module only applies them to a request.
"""
from functools import wraps

from flask import abort, request, url_for
from flask_login import current_user

from webapp.extensions import login_manager
from webapp.services import policy
from webapp.web import navigation
from webapp.services.errors import DomainError


def page_permission(permission):
    """Page decorator: the logged-in user must hold `permission` in services/policy.py (else
    403; the login page when nobody is logged in). The view keeps the name of its permission
    (`view.permission`), which tests/test_policy_table.py reads."""
    policy.PERMISSIONS[permission]  # a misspelt permission fails at import, not at request

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not policy.can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)
        wrapped.permission = permission
        return wrapped
    return decorator


def store_or_404(store_id, viewer=None):
    """The store if the logged-in user (or `viewer`, the same user as plain values: viewer())
    may see it; NotFound otherwise (see policy)."""
    return policy.get_store_or_404(store_id, current_user if viewer is None else viewer)


def open_store(store_id):
    """store_or_404 for a page the user opens: the store is also remembered as the menu's
    current store (its count and transfer links go there)."""
    store = store_or_404(store_id)
    navigation.remember_store(store.id)
    return store


def viewer():
    """The logged-in user's id, role and stores as plain values (a policy.Principal), for a
    check after a write: the write's commit expires the user's ORM object, and reading its role
    again would load the user and its stores once more."""
    return policy.Principal.of(current_user)


def in_store_or_404(store, load, thing_id):
    """A service's view of one thing (a sale, a customer, a closing) that this user may see
    and that belongs to `store`; 404 otherwise, as for a store they may not see."""
    try:
        thing = load(current_user, thing_id)
    except DomainError:
        abort(404)
    if thing["store_id"] != store.id:
        abort(404)
    return thing


def home_url(user):
    """Where "/" sends this user: a shopkeeper with one store goes straight to it."""
    stores = policy.visible_stores(user)
    if not policy.sees_all_stores(user) and len(stores) == 1:
        return url_for("stock.home", store_id=stores[0].id)
    return url_for("stores.index")


def actor():
    """The logged-in user acting through the web pages, for the handler and the audit trail
    (with the role and stores the handler's authorization asks)."""
    return policy.actor_for(current_user, "web", request.remote_addr)
