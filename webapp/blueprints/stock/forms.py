import uuid

from flask import get_template_attribute, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from webapp.models import MOVEMENT_TYPES, REMOVAL_REASONS
from webapp.services import commands
from webapp.services.errors import N_, DomainError
from webapp.web.filters import MOVEMENT_TYPES as TYPE_LABELS
from webapp.web.filters import REASONS as REASON_LABELS
from webapp.web.forms import Form, blank_to_none
from webapp.web.i18n import current_language

QUICK_TYPES = ("sale", "stock_in", "removal")


def new_key():
    return uuid.uuid4().hex


class MovementForm(Form):
    """Sale, stock-in or removal of one product: each is its own <form> on the page (a hidden
    `type` says which), so Enter in a field records that form's action and no other.

    The three forms share field names (the server reads one contract); `for_action` gives each
    its own element ids.
    """

    field_aliases = {"product_id": "quantity", "idempotency_key": "quantity"}

    product_id = HiddenField()
    key = HiddenField(default=new_key)
    quantity = StringField(_l("Quantity"), render_kw={"inputmode": "decimal",
                                                      "autocomplete": "off"})
    supplier_id = SelectField(_l("Supplier"), choices=[], validate_choice=False)
    unit_cost = StringField(_l("Unit cost (Rs, optional)"), render_kw={"inputmode": "decimal"})
    reason = SelectField(_l("Reason"), choices=[("", _l("Choose…"))] + [
        (r, _l(REASON_LABELS[r].msgid)) for r in REMOVAL_REASONS], validate_choice=False)
    note = StringField(_l("Note (optional)"))
    # A product that tracks expiry: the date on what arrived (needed), or the batch an expired
    # or damaged removal takes (optional; without it, the batch that expires first).
    expires_on = StringField(_l("Expiry date (products that track expiry)"),
                             render_kw={"type": "date", "dir": "ltr"})
    batch_code = StringField(_l("Batch code (optional)"), render_kw={"dir": "ltr",
                                                                     "autocomplete": "off"})

    def for_action(self, kind):
        """Give every field an id of its own (`sale-quantity`, `stock_in-quantity`, …)."""
        self.kind = kind
        for name, f in self._fields.items():
            f.id = f"{kind}-{name}"
            f.label.field_id = f.id
        return self

    def command(self, store_id, product_id, kind):
        """The movement this form asks for, pressed as `kind`; DomainError when it cannot be."""
        if not self.validate():
            raise DomainError("invalid", _("Check the form."))
        if kind not in QUICK_TYPES:
            raise DomainError("invalid", N_("Choose sale, stock in or removal."))
        stock_in = kind == "stock_in"
        batch = {"expires_on": self.expires_on.data or None,
                 "batch_code": self.batch_code.data or None} \
            if kind != "sale" and (self.expires_on.data or self.batch_code.data) else {}
        return commands.Movement.parse(
            store_id=store_id, product_id=product_id, type=kind, quantity=self.quantity.data,
            supplier_id=_id(self.supplier_id.data) if stock_in else None,
            unit_cost=blank_to_none(self.unit_cost.data) if stock_in else None,
            reason=self.reason.data or None if kind == "removal" else None,
            note=self.note.data if kind == "removal" else None, **batch)


class ActionForm:
    """One of the store panel's three action forms, as stock/_action_forms.html shows it: a
    refused post from its WTForms form (`posted`: values, errors, key), a fresh one (nothing
    posted) with no value and no error, built as a WTForms form only when rendered."""

    def __init__(self, kind, posted=None, suppliers=(), key=None):
        self.kind, self.posted, self.suppliers = kind, posted, suppliers
        self.key = posted.key.data if posted is not None else key or new_key()
        self.form_errors = posted.form_errors if posted is not None else ()

    def field(self, name, **kwargs):
        """The field's HTML as `_macros/forms.html`'s field(form[name], **kwargs) writes it."""
        form = self.posted
        if form is None:
            form = MovementForm(formdata=None).for_action(self.kind)
            form.supplier_id.choices = list(self.suppliers)
        return get_template_attribute("_macros/forms.html", "field")(form[name], **kwargs)


def action_forms_html(forms, store_id, product, open_kind=None):
    """The panel's three action forms (`forms`: kind → ActionForm) for `product` (or none).

    Fresh forms read the same on every panel of a language, product unit and supplier list but
    for the store, the product, the CSRF token and their keys: they are rendered once with
    stand-ins for those five, kept, and the stand-ins replaced. Building and rendering three
    WTForms forms was half of a quick sale's instructions.
    """
    unit = product["unit"] if product else None
    values = {"action_url": url_for("stock.record_movement", store_id=store_id),
              "store_id": store_id, "csrf": generate_csrf(),
              "product_id": product["product_id"] if product else ""}
    if any(form.posted is not None for form in forms.values()):
        return Markup(render_template("stock/_action_forms.html", forms=forms, unit=unit,
                                      open_kind=open_kind, **values))
    cache_key = (current_language(), unit, open_kind, forms["stock_in"].suppliers)
    html = _FRESH_FORMS.get(cache_key)
    if html is None:
        if len(_FRESH_FORMS) >= _FRESH_FORMS_MAX:  # supplier lists come and go
            _FRESH_FORMS.clear()
        stand_ins = {kind: ActionForm(kind, suppliers=form.suppliers, key=_STAND_IN % kind)
                     for kind, form in forms.items()}
        html = _FRESH_FORMS[cache_key] = render_template(
            "stock/_action_forms.html", forms=stand_ins, unit=unit, open_kind=open_kind,
            **{name: _STAND_IN % name for name in values})
    for name, value in values.items():
        html = html.replace(_STAND_IN % name, escape(value))
    for kind, form in forms.items():
        html = html.replace(_STAND_IN % kind, escape(form.key))
    return Markup(html)


# What no value can hold (NUL is never in a URL, token, id or key), left as is by escaping.
_STAND_IN = "\x00%s\x00"
# (language, unit, open details, supplier choices) → the fresh forms' HTML with stand-ins.
_FRESH_FORMS = {}
_FRESH_FORMS_MAX = 1000


def _id(text):
    """A chosen id, or None for "none chosen" (or anything that is not one)."""
    return int(text) if text and text.isdigit() and 0 < int(text) < 2**31 else None


class TransferForm(Form):
    field_aliases = {"product_id": "quantity", "from_store_id": "to_store_id",
                     "idempotency_key": "quantity"}

    key = HiddenField(default=new_key)
    to_store_id = SelectField(_l("To store"), choices=[], validate_choice=False)
    quantity = StringField(_l("Quantity"), render_kw={"inputmode": "decimal",
                                                      "autocomplete": "off"})
    note = StringField(_l("Note (optional)"))


class HistoryFilterForm(Form):
    class Meta:
        csrf = False

    store = SelectField(_l("Store"), choices=[], validate_choice=False)
    product = IntegerField(_l("Product"), validators=[Optional()])
    sku = StringField(_l("Product SKU or barcode"), validators=[Optional()])
    type = SelectField(_l("Type"), choices=[("", _l("Any type"))] + [
        (t, _l(TYPE_LABELS[t].msgid)) for t in MOVEMENT_TYPES], validate_choice=False)
    user = SelectField(_l("User"), choices=[], validate_choice=False)
    date_from = DateField(_l("From (date)"), validators=[Optional()])
    date_to = DateField(_l("To (date)"), validators=[Optional()])


class ExpiredRemovalForm(Form):
    """One tap on the Expiring list: what is left of one batch, removed as expired. The batch
    is named by its date and code, and the quantity is what the list showed: if a sale took
    some of it meanwhile, the ledger refuses the removal and the list is shown again."""

    product_id = HiddenField()
    expires_on = HiddenField()
    batch_code = HiddenField()
    quantity = HiddenField()
    key = HiddenField(default=new_key)

    def command(self, store_id):
        """The removal this row asks for; DomainError when it cannot be one."""
        return commands.Movement.parse(
            store_id=store_id, product_id=self.product_id.data, type="removal",
            quantity=self.quantity.data, reason="expired",
            expires_on=self.expires_on.data or None, batch_code=self.batch_code.data or None)
