"""Audit events told as sentences: "dukan sold 1.5 kg Cheeni at KHI-0001".

Each kind of event has its gettext template with named placeholders, so a translator puts the
words in Urdu order; never pieces glued together. The values going in are escaped here, and
codes, names and figures isolated in <bdi> so they keep their own direction inside Urdu; the
template's own text comes from our catalogue (as in Jinja's i18n blocks). An event of a kind
not listed gets a plain "who did what" sentence; the raw event is one tap away on the page.
"""
from flask_babel import gettext, ngettext
from markupsafe import Markup, escape

from webapp.services.errors import N_
from webapp.web import filters
from webapp.web.i18n import translate

FIELDS = {
    "sku": N_("SKU"), "name": N_("name"), "category": N_("category"), "unit": N_("unit"),
    "barcode": N_("barcode"), "sale_price": N_("sale price"), "cost": N_("cost"),
    "reorder_level": N_("reorder level"), "archived": N_("archived"),
    "preferred_supplier_id": N_("preferred supplier"), "pack_size": N_("pack size"),
    "pack_price": N_("pack price"), "pack_name": N_("pack name"),
    "tracks_expiry": N_("tracks expiry"),
    "code": N_("store code"), "city": N_("city"), "address": N_("address"),
    "phone": N_("phone"), "active": N_("active"), "allow_negative_stock": N_("negative stock"),
    "expiry_warning_days": N_("expiry warning days"),
    "notes": N_("notes"), "full_name": N_("full name"), "role": N_("role"),
    "stores": N_("stores"), "status": N_("status"), "lines": N_("lines"), "note": N_("note"),
}
REVOKE_REASONS = {"password_change": N_("password changed"), "password_set": N_("password set"),
                  "logout_everywhere": N_("logged out everywhere")}
ORDER_STATUSES = {"draft": N_("Draft"), "sent": N_("Sent"),
                  "partly_received": N_("Partly received"), "received": N_("Received"),
                  "cancelled": N_("Cancelled")}


def _bdi(value):
    return Markup("<bdi>%s</bdi>") % value


def _say(text):
    """A sentence from gettext whose values were escaped before they went in."""
    return Markup(text)


class _Event:
    """One event's values, escaped and isolated, ready for a sentence's placeholders."""

    def __init__(self, event, names):
        self.event, self.names = event, names
        self.after = event["after"] if isinstance(event.get("after"), dict) else {}
        self.before = event["before"] if isinstance(event.get("before"), dict) else {}

    @property
    def actor(self):
        e = self.event
        if e.get("actor"):
            return _bdi(e["actor"])
        if e.get("actor_id") is None:
            return escape(gettext("system"))
        return escape(gettext("user %(id)s", id=e["actor_id"]))

    def _name(self, kind, value):
        try:
            key = int(value)
        except (TypeError, ValueError):
            return None
        return self.names.get(kind, {}).get(key)

    def store(self, value):
        code = self._name("store", value)
        return _bdi(code if code else f"#{value}")

    def product(self, value):
        product = self._name("product", value)
        return _bdi(product["name"] if product else f"#{value}")

    def unit(self, value):
        product = self._name("product", value)
        return escape(filters.unit(product["unit"])) if product else ""

    def user(self, value):
        name = self._name("user", value)
        return _bdi(name if name else f"#{value}")

    def sale(self):
        return self._name("sale", self.event.get("entity_id")) or {}

    def number(self, value):
        return _bdi(filters.quantity(value))

    def money(self, value):
        return _bdi(filters.rupees(value))

    def entity_id(self):
        return _bdi(self.event.get("entity_id") or "")

    def changed(self):
        """The fields an update changed, in the reader's words."""
        keys = [k for k in self.after if self.before.get(k) != self.after.get(k)]
        words = [translate(FIELDS[k]) if k in FIELDS else k.replace("_", " ") for k in keys]
        return escape(gettext(", ").join(words)) if words else ""


# --- stock ----------------------------------------------------------------------------------

def _movement(e):
    m = e.after
    values = dict(actor=e.actor, quantity=e.number(m.get("quantity")),
                  unit=e.unit(m.get("product_id")), product=e.product(m.get("product_id")),
                  store=e.store(m.get("store_id")))
    kind = m.get("type")
    if kind == "sale":
        return gettext("%(actor)s sold %(quantity)s %(unit)s %(product)s at %(store)s", **values)
    if kind == "stock_in":
        return gettext("%(actor)s received %(quantity)s %(unit)s %(product)s at %(store)s",
                       **values)
    if kind == "removal":
        return gettext("%(actor)s removed %(quantity)s %(unit)s %(product)s at %(store)s "
                       "(%(reason)s)", reason=escape(filters.reason(m.get("reason"))), **values)
    if kind == "adjustment":
        delta = str(m.get("delta") or "")
        shown = filters.quantity(delta)
        return gettext("%(actor)s corrected %(product)s at %(store)s by %(delta)s %(unit)s "
                       "(%(reason)s)", delta=_bdi(shown if shown.startswith("-") else
                                                  "+" + shown),
                       reason=escape(filters.reason(m.get("reason"))),
                       **{k: v for k, v in values.items() if k != "quantity"})
    return None


def _transfer(e):
    a = e.after
    return gettext("%(actor)s moved %(quantity)s %(unit)s %(product)s from %(source)s to "
                   "%(target)s", actor=e.actor, quantity=e.number(a.get("quantity")),
                   unit=e.unit(a.get("product_id")), product=e.product(a.get("product_id")),
                   source=e.store(a.get("from_store_id")), target=e.store(a.get("to_store_id")))


def _count(e):
    adjustments = e.after.get("adjustments")
    n = len(adjustments) if isinstance(adjustments, list) else 0
    return ngettext("%(actor)s applied a shelf count at %(store)s: %(num)s adjustment",
                    "%(actor)s applied a shelf count at %(store)s: %(num)s adjustments", n,
                    actor=e.actor, store=e.store(e.event.get("entity_id")))


# --- counter sales --------------------------------------------------------------------------

def _sale_complete(e):
    a = e.after
    lines = a.get("lines") if isinstance(a.get("lines"), list) else []
    common = dict(actor=e.actor, store=e.store(a.get("store_id")),
                  number=_bdi(a.get("number", "")), total=e.money(a.get("total")))
    if len(lines) == 1 and isinstance(lines[0], dict):
        line = lines[0]
        return gettext("%(actor)s sold %(quantity)s %(unit)s %(product)s at %(store)s "
                       "(sale #%(number)s, %(total)s)", quantity=e.number(line.get("quantity")),
                       unit=e.unit(line.get("product_id")),
                       product=e.product(line.get("product_id")), **common)
    return ngettext("%(actor)s sold %(num)s product at %(store)s (sale #%(number)s, %(total)s)",
                    "%(actor)s sold %(num)s products at %(store)s (sale #%(number)s, "
                    "%(total)s)", len(lines), **common)


def _sale_void(e):
    sale = e.sale()
    return gettext("%(actor)s voided sale #%(number)s at %(store)s; its goods went back to "
                   "stock", actor=e.actor, number=_bdi(e.after.get("number", sale.get("number",
                                                                                         ""))),
                   store=e.store(sale.get("store_id")))


def _sale_return(e):
    a, sale = e.after, e.sale()
    lines = a.get("lines") if isinstance(a.get("lines"), list) else []
    common = dict(actor=e.actor, number=_bdi(a.get("number", sale.get("number", ""))),
                  store=e.store(sale.get("store_id")), amount=e.money(a.get("amount")))
    if len(lines) == 1 and isinstance(lines[0], dict):
        line = lines[0]
        return gettext("%(actor)s took back %(quantity)s %(unit)s %(product)s from sale "
                       "#%(number)s at %(store)s (%(amount)s back)",
                       quantity=e.number(line.get("quantity")),
                       unit=e.unit(line.get("product_id")),
                       product=e.product(line.get("product_id")), **common)
    return ngettext("%(actor)s took back %(num)s product from sale #%(number)s at %(store)s "
                    "(%(amount)s back)",
                    "%(actor)s took back %(num)s products from sale #%(number)s at %(store)s "
                    "(%(amount)s back)", len(lines), **common)


def _sale_complete_paid(e):
    """A sale's sentence, and what of it went on a customer's khata."""
    text = _sale_complete(e)
    credit = e.after.get("paid_credit")
    if not credit:
        return text
    return gettext("%(sale)s; %(credit)s on udhaar", sale=Markup(text), credit=e.money(credit))


def _price_override(e):
    a = e.after
    return gettext("%(actor)s sold %(product)s at %(store)s for %(price)s instead of "
                   "%(list_price)s (%(percent)s%% off)", actor=e.actor,
                   product=e.product(a.get("product_id")), store=e.store(a.get("store_id")),
                   price=e.money(a.get("unit_price")), list_price=e.money(a.get("list_price")),
                   percent=e.number(a.get("discount_percent")))


# --- money: the khata, suppliers, the closing -------------------------------------------------

def _customer(e):
    action, a = e.event["action"], e.after
    name = _bdi(a.get("name") or e.before.get("name") or f"#{e.event.get('entity_id')}")
    if action == "customer.create":
        return gettext("%(actor)s added the customer %(name)s at %(store)s", actor=e.actor,
                       name=name, store=e.store(a.get("store_id")))
    if action == "customer.update":
        return gettext("%(actor)s changed the customer #%(id)s: %(fields)s", actor=e.actor,
                       id=e.entity_id(), fields=e.changed())
    if action == "customer.payment":
        return gettext("%(actor)s received %(amount)s from %(name)s (%(method)s); still owed "
                       "%(balance)s", actor=e.actor, amount=e.money(a.get("amount")), name=name,
                       method=escape(filters.payment_method(a.get("method"))),
                       balance=e.money(a.get("balance_after")))
    return None


def _supplier_payment(e):
    a = e.after
    return gettext("%(actor)s paid %(amount)s to %(name)s for %(store)s (%(method)s); still "
                   "owed %(balance)s", actor=e.actor, amount=e.money(a.get("amount")),
                   name=_bdi(a.get("name") or f"#{e.event.get('entity_id')}"),
                   store=e.store(a.get("store_id")),
                   method=escape(filters.payment_method(a.get("method"))),
                   balance=e.money(a.get("balance_after")))


def _closing(e):
    a = e.after
    return gettext("%(actor)s closed %(day)s at %(store)s: cash expected %(expected)s, "
                   "counted %(counted)s, difference %(difference)s", actor=e.actor,
                   day=_bdi(a.get("business_date", "")), store=e.store(a.get("store_id")),
                   expected=e.money(a.get("expected_cash")),
                   counted=e.money(a.get("counted_cash")),
                   difference=e.money(a.get("difference")))


# --- people and the catalogue ---------------------------------------------------------------

def _user_event(e):
    action, target = e.event["action"], e.user(e.event.get("entity_id"))
    same = str(e.event.get("actor_id")) == str(e.event.get("entity_id"))
    if action == "user.login":
        return gettext("%(actor)s logged in", actor=e.actor)
    if action == "user.login_failed":
        return gettext("Failed login as %(username)s",
                       username=_bdi(e.after.get("username", "")))
    if action == "user.create":
        return gettext("%(actor)s added the user %(user)s (%(role)s)", actor=e.actor,
                       user=_bdi(e.after.get("username", "")),
                       role=escape(filters.role(e.after.get("role"))))
    if action == "user.update":
        return gettext("%(actor)s changed the user %(user)s: %(fields)s", actor=e.actor,
                       user=target, fields=e.changed())
    if action == "user.sessions_ended":
        return gettext("%(actor)s logged %(user)s out of every device", actor=e.actor,
                       user=target)
    if action == "user.password_change":
        if same:
            return gettext("%(actor)s changed their password", actor=e.actor)
        return gettext("%(actor)s changed the password of %(user)s", actor=e.actor, user=target)
    return None


def _catalogue(e):
    kind, verb = e.event["action"].split(".", 1)
    name = e.after.get("name") or e.before.get("name") or ""
    if kind == "store":
        name = e.after.get("code") or e.before.get("code") or name
    values = dict(actor=e.actor, name=_bdi(name), fields=e.changed())
    sentences = {
        ("product", "create"): N_("%(actor)s added the product %(name)s"),
        ("product", "update"): N_("%(actor)s changed the product %(name)s: %(fields)s"),
        ("store", "create"): N_("%(actor)s added the store %(name)s"),
        ("store", "update"): N_("%(actor)s changed the store %(name)s: %(fields)s"),
        ("supplier", "create"): N_("%(actor)s added the supplier %(name)s"),
        ("supplier", "update"): N_("%(actor)s changed the supplier %(name)s: %(fields)s"),
    }
    template = sentences.get((kind, verb))
    return gettext(template, **values) if template else None


def _token(e):
    if e.event["action"] == "token.create":
        return gettext("%(actor)s made the API token “%(name)s” for %(user)s", actor=e.actor,
                       name=_bdi(e.after.get("name", "")), user=e.user(e.after.get("user_id")))
    if e.event["action"] == "token.revoke_all":
        tokens = e.after.get("tokens")
        count = len(tokens) if isinstance(tokens, list) else 0
        return ngettext("%(actor)s revoked %(num)s API token of %(user)s (%(reason)s)",
                        "%(actor)s revoked %(num)s API tokens of %(user)s (%(reason)s)", count,
                        actor=e.actor, user=e.user(e.entity_id()),
                        reason=escape(translate(REVOKE_REASONS.get(e.after.get("reason"), ""))
                                      or e.after.get("reason") or ""))
    return gettext("%(actor)s revoked API token #%(id)s", actor=e.actor, id=e.entity_id())


# --- purchasing, imports, sync, jobs --------------------------------------------------------

def _order(e):
    verb, values = e.event["action"].split(".", 1)[1], dict(actor=e.actor, id=e.entity_id())
    if verb == "create":
        return gettext("%(actor)s made purchase order #%(id)s", **values)
    if verb == "update":
        return gettext("%(actor)s changed purchase order #%(id)s", **values)
    if verb == "status":
        status = e.after.get("status")
        return gettext("%(actor)s marked purchase order #%(id)s: %(status)s",
                       status=escape(translate(ORDER_STATUSES[status]) if status in
                                     ORDER_STATUSES else status or ""), **values)
    if verb == "receive":
        return gettext("%(actor)s received goods against purchase order #%(id)s", **values)
    return None


def _other(e):
    action, values = e.event["action"], dict(actor=e.actor, id=e.entity_id())
    if action == "import.check":
        return gettext("%(actor)s checked the file %(file)s (import #%(id)s)",
                       file=_bdi(e.after.get("filename", "")), **values)
    if action == "import.confirm":
        return gettext("%(actor)s started import #%(id)s", **values)
    if action == "import.done":
        return gettext("Import #%(id)s finished", id=values["id"])
    if action == "product.import":
        return gettext("%(actor)s imported products (import #%(id)s)", **values)
    if action == "sync.submit":
        items = e.after.get("items")
        return ngettext("%(actor)s sent %(num)s movement to sync",
                        "%(actor)s sent %(num)s movements to sync",
                        items if isinstance(items, int) else 0, actor=e.actor)
    if action == "job.retry":
        return gettext("%(actor)s retried the background job %(id)s", **values)
    if action == "count.discard":
        lines = e.after.get("lines")
        return ngettext("%(actor)s threw away the count in progress at %(store)s "
                        "(%(num)s product counted)",
                        "%(actor)s threw away the count in progress at %(store)s "
                        "(%(num)s products counted)", lines if isinstance(lines, int) else 0,
                        actor=e.actor, store=e.store(e.event.get("entity_id")))
    return None


def _expiring(e):
    """The worker's daily stock.expiring event of one store."""
    batches, expired = e.after.get("batches"), e.after.get("expired")
    return ngettext("%(store)s: %(num)s batch expired or expiring within %(days)s days "
                    "(%(expired)s expired)",
                    "%(store)s: %(num)s batches expired or expiring within %(days)s days "
                    "(%(expired)s expired)", batches if isinstance(batches, int) else 0,
                    store=e.store(e.after.get("store_id")),
                    days=_bdi(e.after.get("within_days", "")),
                    expired=_bdi(expired if isinstance(expired, int) else 0))


TELLERS = {
    "stock.expiring": _expiring,
    "movement.create": _movement, "transfer.create": _transfer, "count.apply": _count,
    "sale.complete": _sale_complete_paid, "sale.void": _sale_void, "sale.return": _sale_return,
    "price.override": _price_override,
    "token.create": _token, "token.revoke": _token, "token.revoke_all": _token,
    "supplier.payment": _supplier_payment, "closing.create": _closing,
}
PREFIXES = {"customer": _customer, "user": _user_event, "product": _catalogue, "store": _catalogue,
            "supplier": _catalogue, "purchase_order": _order}


def sentence(event, names):
    """One event in words, as safe markup."""
    e = _Event(event, names)
    action = event.get("action") or ""
    teller = TELLERS.get(action) or PREFIXES.get(action.split(".", 1)[0]) or _other
    try:
        text = teller(e)
    except (KeyError, TypeError, ValueError, AttributeError):
        text = None  # an event written by an older version: the plain sentence below
    if text is None:
        entity = event.get("entity_type") or ""
        if event.get("entity_id"):
            entity = f"{entity} #{event['entity_id']}"
        text = gettext("%(actor)s: %(action)s, %(entity)s", actor=e.actor, action=_bdi(action),
                       entity=_bdi(entity))
    return _say(text)
