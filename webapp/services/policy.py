"""Who may see which store and do what: the one table that pages, the API and jobs ask."""
from dataclasses import dataclass

from webapp.extensions import db
from webapp.models import Store
from webapp.services.errors import NotFound

MANAGERS = ("admin", "manager")


@dataclass(frozen=True)
class Principal:
    """Who is acting, as plain values (an API token's user, a sync job's submitter): what
    this module needs, without an ORM object that a commit would expire."""

    id: int
    role: str
    store_ids: frozenset
    active: bool = True
    is_authenticated = True  # what can() asks of a logged-in user

    @classmethod
    def of(cls, user):
        return cls(user.id, user.role, frozenset(user.store_ids), user.active)


def sees_all_stores(user):
    return user.role in MANAGERS


def visible_store_ids(user):
    """None when the user sees every store, else the set of their stores' ids."""
    return None if sees_all_stores(user) else user.store_ids


def can_see_store(user, store_id):
    return sees_all_stores(user) or store_id in user.store_ids


def get_store_or_404(store_id, user):
    """The store, if it exists and the user belongs to it; otherwise NotFound (never 403).

    A shopkeeper must not learn that another shop exists, so both cases look the same.
    """
    store = db.session.get(Store, store_id) if isinstance(store_id, int) else None
    if store is None or not can_see_store(user, store.id):
        raise NotFound("Store")
    return store


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
    "sync.view_all_jobs": ("admin",),
}


def can(user, permission):
    """True when the user is logged in and their role holds this permission."""
    return bool(getattr(user, "is_authenticated", False)) and user.role in PERMISSIONS[permission]


def visible_stores(user, include_inactive=False):
    """The stores this user may see, by code."""
    query = db.select(Store).order_by(Store.code)
    ids = visible_store_ids(user)
    if ids is not None:
        query = query.where(Store.id.in_(ids or [0]))
    if not include_inactive:
        query = query.where(Store.active.is_(True))
    return db.session.execute(query).scalars().all()
