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
from webapp.web.filters import ROLES as ROLE_LABELS
from webapp.web.forms import Form


class SupplierForm(Form):
    name = StringField(_l("Name"))
    phone = StringField(_l("Phone"), render_kw={"inputmode": "tel", "dir": "ltr"})
    notes = TextAreaField(_l("Notes"))
    active = BooleanField(_l("Active (offered on stock-in)"), default=True)

    def service_data(self):
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(Form):
    field_aliases = {"store_ids": "stores"}

    username = StringField(_l("Username"), render_kw={"autocapitalize": "none",
                                                      "autocomplete": "off"})
    full_name = StringField(_l("Full name"))
    role = SelectField(_l("Role"), choices=[(r, _l(ROLE_LABELS[r].msgid)) for r in ROLES],
                       default="shopkeeper")
    stores = MultiCheckboxField(_l("Stores (for shopkeepers)"), coerce=int, choices=[],
                                validate_choice=False)
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "new-password"})
    active = BooleanField(_l("Active (may log in)"), default=True)


class TokenForm(Form):
    name = StringField(_l("Token name"), render_kw={"placeholder": _l("e.g. POS at KHI-0001")})
    ttl_days = IntegerField(_l("Valid for (days)"), default=90,
                            validators=[InputRequired(_l("Enter a number of days.")),
                                        NumberRange(min=1, message=_l("At least 1 day."))])
    # Asked every time: a session alone (a copied cookie) must never mint a token (issue 23).
    password = PasswordField(_l("Your password"), render_kw={"autocomplete": "current-password"})


class WebhookForm(Form):
    url = StringField(_l("URL"), render_kw={"inputmode": "url", "dir": "ltr",
                                            "autocapitalize": "none",
                                            "placeholder": "https://erp.example.pk/kiryana"})
    events = MultiCheckboxField(_l("Events"), choices=[], validate_choice=False)
