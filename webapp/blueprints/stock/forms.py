import uuid

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from webapp.models import MOVEMENT_TYPES, REMOVAL_REASONS
from webapp.web.filters import MOVEMENT_TYPES as TYPE_LABELS
from webapp.web.filters import REASONS as REASON_LABELS
from webapp.web.forms import Form

QUICK_TYPES = ("sale", "stock_in", "removal")


def new_key():
    return uuid.uuid4().hex


class MovementForm(Form):
    """Sale, stock-in or removal of one product; the button pressed says which."""

    field_aliases = {"product_id": "quantity", "idempotency_key": "quantity"}

    product_id = HiddenField()
    key = HiddenField(default=new_key)
    quantity = StringField(_l("Quantity"), default="1",
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    supplier_id = SelectField(_l("Supplier"), choices=[], validate_choice=False)
    unit_cost = StringField(_l("Unit cost (Rs, optional)"), render_kw={"inputmode": "decimal"})
    reason = SelectField(_l("Reason"), choices=[("", _l("Choose…"))] + [
        (r, _l(REASON_LABELS[r].msgid)) for r in REMOVAL_REASONS], validate_choice=False)
    note = StringField(_l("Note (optional)"))


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
