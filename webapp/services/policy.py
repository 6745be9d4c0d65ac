"""Who may see which store and do what: the one table that pages, the API and jobs ask."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app

from webapp.extensions import db
from webapp.models import Store, User
from webapp.services.errors import N_, DomainError, NotFound

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
    "purchasing.manage": MANAGERS,
    "purchasing.receive": ("admin", "manager", "shopkeeper"),
    "imports.run": MANAGERS,
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


def check_backdating(actor, occurred_at):
    """A movement's occurred_at, if this actor may date it so far back.

    Shopkeepers reach back OFFLINE_WINDOW_HOURS at most (the phone's offline queue); older
    dates would rewrite closed days in the sales report. Managers, admins and system actors
    (no user) are unrestricted; the audit event of every movement carries its occurred_at
    beside created_at, so a backdated entry shows in the audit log.
    """
    if occurred_at is None or actor.user_id is None:
        return occurred_at
    hours = current_app.config["OFFLINE_WINDOW_HOURS"]
    if occurred_at >= datetime.now(timezone.utc) - timedelta(hours=hours):
        return occurred_at
    user = db.session.get(User, actor.user_id)
    if user is not None and sees_all_stores(user):
        return occurred_at
    raise DomainError(
        "occurred_at_too_old",
        N_("Made more than %(hours)s hours ago: too old to record from a phone. "
           "Ask a manager to record it.", hours=f"{hours:g}"),
        field="occurred_at", window_hours=hours)
