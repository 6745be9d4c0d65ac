"""Who may see which store and do what: the one table that pages, the API and jobs ask.

Three tables, all here: PERMISSIONS (what a role may do beyond reading its stores; the pages'
and the API's decorators and the navigation ask `can`), COMMAND_RULES (for each command that
changes stock or money: which stores it touches, the permission it needs, which client time
it carries; services/handlers.handle asks `authorize` before anything is read or written) and
the role rules with figures in them (backdating, voiding, the discount a role may give).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Customer, PurchaseOrder, Sale, Store, User
from webapp.services import commands
from webapp.services.audit import Actor
from webapp.services.errors import N_, DomainError, Forbidden, NotFound

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


def in_stores(query, column, user, store_id=None):
    """`query` kept to the rows whose store `column` this user may see (and to `store_id` when
    one is asked for): the one way a list or total asks for its rows."""
    ids = visible_store_ids(user)
    if ids is not None:
        query = query.where(column.in_(ids or [0]))
    if store_id is not None:
        query = query.where(column == store_id)
    return query


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
    "webhooks.manage": ("admin",),
    "reports.view": ("admin", "manager", "shopkeeper"),
    "history.view_all_users": MANAGERS,
    "sync.view_all_jobs": ("admin",),
    "purchasing.manage": MANAGERS,
    "purchasing.receive": ("admin", "manager", "shopkeeper"),
    "imports.run": MANAGERS,
    "imports.view_all_jobs": ("admin",),
}


def can(user, permission):
    """True when the user is logged in and their role holds this permission."""
    return bool(getattr(user, "is_authenticated", False)) and user.role in PERMISSIONS[permission]


def visible_stores(user, include_inactive=False):
    """The stores this user may see, by code."""
    query = in_stores(db.select(Store).order_by(Store.code), Store.id, user)
    if not include_inactive:
        query = query.where(Store.active.is_(True))
    return db.session.execute(query).scalars().all()


def actor_for(user, source, ip=None):
    """The audit Actor of a logged-in user or a Principal, carrying what `authorize` asks
    (role, and a shopkeeper's stores), so that authorizing a write costs no query."""
    role = user.role
    return Actor(user.id, source, ip, role,
                 None if role in MANAGERS else frozenset(user.store_ids))


def _principal(actor):
    """(role, store ids or None for every store) of an actor; the system (no user) is an
    admin. An actor built without its role (a job, a test) is looked up here."""
    if actor.user_id is None:
        return "admin", None
    if actor.role is not None:
        return actor.role, actor.store_ids
    user = db.session.get(User, actor.user_id)
    if user is None:
        return "none", frozenset()
    return user.role, None if user.role in MANAGERS else frozenset(user.store_ids)


def sees_store(actor, store_id):
    """Whether this actor belongs to this store (managers and the system: every store)."""
    store_ids = _principal(actor)[1]
    return store_ids is None or store_id in store_ids


def role_of(actor):
    """The acting user's role; the system (no user) acts with an admin's rights."""
    return _principal(actor)[0] if actor is not None else "admin"


# ---------------------------------------------------------------------------------------------
# Commands: who may carry out which (services/handlers.handle asks before anything else)


@dataclass(frozen=True)
class Rule:
    """What a command needs: the stores it names (fields of the command), or the row whose
    store it acts on ((model, id field, label): a void names its sale, a receipt its order);
    a permission of PERMISSIONS; the field holding the client's time, which a shopkeeper may
    not date before the offline window."""

    stores: tuple = ()
    owner: tuple | None = None
    permission: str | None = None
    backdated: str | None = None


COMMAND_RULES = {
    commands.Movement: Rule(stores=("store_id",), backdated="occurred_at"),
    commands.DatedMovement: Rule(stores=("store_id",), backdated="occurred_at"),
    commands.Transfer: Rule(stores=("from_store_id", "to_store_id")),
    commands.Count: Rule(stores=("store_id",)),
    commands.CountReview: Rule(stores=("store_id",)),
    commands.OpeningStock: Rule(stores=("store_id",), permission="imports.run"),
    commands.Sale: Rule(stores=("store_id",), backdated="occurred_at"),
    commands.Void: Rule(owner=(Sale, "sale_id", "Sale")),
    commands.Return: Rule(owner=(Sale, "sale_id", "Sale")),
    commands.Delivery: Rule(owner=(PurchaseOrder, "order_id", "Order"),
                            permission="purchasing.receive"),
    commands.NewCustomer: Rule(stores=("store_id",)),
    commands.CustomerChange: Rule(owner=(Customer, "customer_id", "Customer")),
    commands.CustomerPayment: Rule(owner=(Customer, "customer_id", "Customer")),
    commands.SupplierPayment: Rule(stores=("store_id",)),
    commands.Closing: Rule(stores=("store_id",)),
}


def authorize(actor, command):
    """Refuse `command` unless `actor` may carry it out: NotFound for a store (or a store's
    sale or order) the user does not belong to, so another shop looks like a missing one;
    Forbidden for a role without the permission; occurred_at_too_old for a shopkeeper's
    backdated write. Managers and the system see every store; nothing is read for them."""
    rule = COMMAND_RULES[type(command)]
    if actor.user_id is None:
        return
    role, store_ids = _principal(actor)
    if rule.permission is not None and role not in PERMISSIONS[rule.permission]:
        raise Forbidden(N_("Your role may not do this."))
    if store_ids is not None:
        for field in rule.stores:
            if getattr(command, field) not in store_ids:
                raise NotFound("Store", field=field)
        if rule.owner is not None:
            model, field, label = rule.owner
            table = model.__table__
            store_id = db.session.execute(select(table.c.store_id).where(
                table.c.id == getattr(command, field))).scalar()
            if store_id is None or store_id not in store_ids:
                raise NotFound(label)
    if rule.backdated is not None:
        check_backdating(actor, getattr(command, rule.backdated), role)


# ---------------------------------------------------------------------------------------------
# Role rules with figures in them


def voids_any_sale(role):
    """Whether this role may void any sale at any time (no cashier or window rule)."""
    return role in MANAGERS


def may_void(role, user_id, sale_cashier_id, sale_created_at, window_minutes, now):
    """Whether this role and user may void a sale now: managers always; a shopkeeper only
    their own sale, within the store's void window."""
    if voids_any_sale(role):
        return True
    return sale_cashier_id == user_id and now - sale_created_at <= timedelta(
        minutes=window_minutes)


def check_may_void(actor, sale, window_minutes, now):
    """Refuse a void that may_void does not allow, saying why (403)."""
    role = role_of(actor)
    if may_void(role, actor.user_id, sale.cashier_id, sale.created_at, window_minutes, now):
        return
    if sale.cashier_id != actor.user_id:
        raise Forbidden(N_("Only the cashier who made this sale, or a manager, may void it."))
    error = Forbidden(N_("The %(minutes)d minutes to void this sale have passed. Ask a "
                         "manager, or take a return.", minutes=window_minutes))
    error.code = "void_window_passed"
    raise error


def may_sell_above_list(role):
    """Whether this role may charge more than a product's list price."""
    return role in MANAGERS


def sets_last_cost(role):
    """Whether a receipt by this role updates the product's last purchase cost (a shopkeeper's
    invoice figure is kept on the receipt only)."""
    return role in MANAGERS


def limits_discount(role):
    """Whether this role's price overrides are held to the store's max_discount_percent."""
    return role not in MANAGERS


def check_backdating(actor, occurred_at, role=None):
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
    if (role or role_of(actor)) in MANAGERS:
        return occurred_at
    raise DomainError(
        "occurred_at_too_old",
        N_("Made more than %(hours)s hours ago: too old to record from a phone. "
           "Ask a manager to record it.", hours=f"{hours:g}"),
        field="occurred_at", window_hours=hours)
