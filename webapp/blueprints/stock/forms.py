import uuid

from flask_babel import gettext as _
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from webapp.models import MOVEMENT_TYPES, REMOVAL_REASONS
from webapp.services import commands
from webapp.services.errors import DomainError
from webapp.web.forms import Form, blank_to_none

QUICK_TYPES = ("sale", "stock_in", "removal")


def new_key():
    return uuid.uuid4().hex


class MovementForm(Form):
    """Sale, stock-in or removal of one product; the button pressed says which."""

    field_aliases = {"product_id": "quantity", "idempotency_key": "quantity"}

    product_id = HiddenField()
    key = HiddenField(default=new_key)
    quantity = StringField("Quantity", default="1",
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    supplier_id = SelectField("Supplier", choices=[], validate_choice=False)
    unit_cost = StringField("Unit cost (Rs, optional)", render_kw={"inputmode": "decimal"})
    reason = SelectField("Reason", choices=[("", "Choose…")] + [(r, r.title()) for r in
                                                                  REMOVAL_REASONS],
                         validate_choice=False)
    note = StringField("Note (optional)")

    def command(self, store_id, product_id, kind):
        """The movement this form asks for, pressed as `kind`; DomainError when it cannot be."""
        if not self.validate():
            raise DomainError("invalid", _("Check the form."))
        if kind not in QUICK_TYPES:
            raise DomainError("invalid", "Choose sale, stock in or removal.")
        stock_in = kind == "stock_in"
        return commands.Movement.parse(
            store_id=store_id, product_id=product_id, type=kind, quantity=self.quantity.data,
            supplier_id=_id(self.supplier_id.data) if stock_in else None,
            unit_cost=blank_to_none(self.unit_cost.data) if stock_in else None,
            reason=self.reason.data or None if kind == "removal" else None, note=self.note.data)


def _id(text):
    """A chosen id, or None for "none chosen" (or anything that is not one)."""
    return int(text) if text and text.isdigit() and 0 < int(text) < 2**31 else None


class TransferForm(Form):
    field_aliases = {"product_id": "quantity", "from_store_id": "to_store_id",
                     "idempotency_key": "quantity"}

    key = HiddenField(default=new_key)
    to_store_id = SelectField("To store", choices=[], validate_choice=False)
    quantity = StringField("Quantity", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = StringField("Note (optional)")


class HistoryFilterForm(Form):
    class Meta:
        csrf = False

    store = SelectField("Store", choices=[], validate_choice=False)
    product = IntegerField("Product", validators=[Optional()])
    sku = StringField("Product SKU or barcode", validators=[Optional()])
    type = SelectField("Type", choices=[("", "Any type")] + [(t, t.replace("_", " "))
                                                           for t in MOVEMENT_TYPES],
                       validate_choice=False)
    user = SelectField("User", choices=[], validate_choice=False)
    date_from = DateField("From (date)", validators=[Optional()])
    date_to = DateField("To (date)", validators=[Optional()])
