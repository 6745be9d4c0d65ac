from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, TextAreaField

from webapp.web.forms import Form


class StoreForm(Form):
    code = StringField(_l("Code"), render_kw={"placeholder": "KHI-0003",
                                              "autocapitalize": "characters", "dir": "ltr"})
    name = StringField(_l("Name"))
    city = StringField(_l("City"))
    address = TextAreaField(_l("Address"))
    phone = StringField(_l("Phone"), render_kw={"inputmode": "tel", "dir": "ltr"})
    active = BooleanField(_l("Open (active)"), default=True)
    allow_negative_stock = BooleanField(_l("Allow sales below zero stock"))
    # Text, not IntegerField: the service reads the number and says what is wrong with it.
    expiry_warning_days = StringField(_l("Warn of expiry (days before)"), default="7",
                                      render_kw={"inputmode": "numeric", "dir": "ltr"})

    def service_data(self):
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}
