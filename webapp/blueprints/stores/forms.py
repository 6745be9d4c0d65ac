from wtforms import BooleanField, StringField, TextAreaField

from webapp.web.forms import Form


class StoreForm(Form):
    code = StringField("Code", render_kw={"placeholder": "KHI-0003", "autocapitalize": "characters"})
    name = StringField("Name")
    city = StringField("City")
    address = TextAreaField("Address")
    phone = StringField("Phone", render_kw={"inputmode": "tel"})
    active = BooleanField("Open (active)", default=True)
    allow_negative_stock = BooleanField("Allow sales below zero stock")

    def service_data(self):
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}
