"""Who may see and change what: the one place views and API endpoints ask."""
from functools import wraps

from flask import abort
from flask_login import current_user

from webapp.extensions import db
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
                abort(401)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


manager_required = role_required(*MANAGERS)
admin_required = role_required("admin")
