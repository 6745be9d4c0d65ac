from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.models import ROLES
from webapp.web.forms import Form


class SupplierForm(Form):
    name = StringField("Name")
    phone = StringField("Phone", render_kw={"inputmode": "tel"})
    notes = TextAreaField("Notes")
    active = BooleanField("Active (offered on stock-in)", default=True)

    def service_data(self):
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(Form):
    field_aliases = {"store_ids": "stores"}

    username = StringField("Username", render_kw={"autocapitalize": "none", "autocomplete": "off"})
    full_name = StringField("Full name")
    role = SelectField("Role", choices=[(r, r.title()) for r in ROLES], default="shopkeeper")
    stores = MultiCheckboxField("Stores (for shopkeepers)", coerce=int, choices=[],
                                validate_choice=False)
    password = PasswordField("Password", render_kw={"autocomplete": "new-password"})
    active = BooleanField("Active (may log in)", default=True)


class TokenForm(Form):
    name = StringField("Token name", render_kw={"placeholder": "e.g. POS at KHI-0001"})
    ttl_days = IntegerField("Valid for (days)", default=90,
                            validators=[InputRequired("Enter a number of days."),
                                        NumberRange(1, 3650, "Between 1 and 3650 days.")])
    # Asked for when the password was last typed more than REAUTH_SECONDS ago.
    password = PasswordField(_l("Your password"), render_kw={"autocomplete": "current-password"})
