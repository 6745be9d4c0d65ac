"""Who may see and change what: the one place views and API endpoints ask."""
from functools import wraps

from flask import abort
from flask_login import current_user

from webapp.extensions import db, login_manager
from webapp.models import Store
from webapp.services.errors import NotFound

MANAGERS = ("admin", "manager")


def sees_all_stores(user):
    return user.role in MANAGERS


def visible_store_ids(user):
    """None when the user sees every store, else the set of their stores' ids."""
    return None if sees_all_stores(user) else user.store_ids


def can_see_store(user, store_id):
    return sees_all_stores(user) or store_id in user.store_ids


def get_store_or_404(store_id, user=None):
    """The store, if it exists and the user belongs to it; otherwise NotFound (never 403).

    A shopkeeper must not learn that another shop exists, so both cases look the same.
    """
    user = user or current_user
    store = db.session.get(Store, store_id) if isinstance(store_id, int) else None
    if store is None or not can_see_store(user, store.id):
        raise NotFound("Store")
    return store


def role_required(*roles):
    """View decorator: the logged-in user must have one of these roles (else 403)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


# What each role may do beyond reading its stores: the pages, the nav and the API ask here.
PERMISSIONS = {
    "catalog.manage": MANAGERS,
    "stores.manage": MANAGERS,
    "suppliers.view": MANAGERS,
    "suppliers.manage": MANAGERS,
    "users.manage": ("admin",),
    "audit.view": MANAGERS,
    "jobs.manage": ("admin",),
    "reports.view": ("admin", "manager", "shopkeeper"),
    "history.view_all_users": MANAGERS,
}


def can(user, permission):
    """True when the user is logged in and their role holds this permission."""
    return bool(getattr(user, "is_authenticated", False)) and user.role in PERMISSIONS[permission]


def permission_required(permission):
    """View decorator: the logged-in user must hold `permission` (else 403)."""
    return role_required(*PERMISSIONS[permission])


def visible_stores(user, include_inactive=False):
    """The stores this user may see, by code."""
    query = db.select(Store).order_by(Store.code)
    ids = visible_store_ids(user)
    if ids is not None:
        query = query.where(Store.id.in_(ids or [0]))
    if not include_inactive:
        query = query.where(Store.active.is_(True))
    return db.session.execute(query).scalars().all()


def home_url(user):
    """Where "/" sends this user: a shopkeeper with one store goes straight to it."""
    from flask import url_for

    stores = visible_stores(user)
    if user.role == "shopkeeper" and len(stores) == 1:
        return url_for("stock.home", store_id=stores[0].id)
    return url_for("stores.index")


def actor():
    """The logged-in user acting through the web pages, for services and the audit trail."""
    from flask import request

    from webapp.services.audit import Actor

    return Actor(user_id=current_user.id, source="web", ip=request.remote_addr)
