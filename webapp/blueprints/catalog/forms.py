from wtforms import BooleanField, SelectField, StringField

from webapp.models import UNITS
from webapp.web.forms import Form


class ProductForm(Form):
    sku = StringField("SKU", render_kw={"autocapitalize": "characters", "autocomplete": "off"})
    name = StringField("Name")
    category = StringField("Category")
    unit = SelectField("Unit", choices=[(u, u) for u in UNITS], default="piece",
                       validate_choice=False)
    barcode = StringField("Barcode (optional)", render_kw={"inputmode": "numeric"})
    sale_price = StringField("Sale price (Rs)", render_kw={"inputmode": "decimal"})
    cost = StringField("Cost (Rs, optional)", render_kw={"inputmode": "decimal"})
    reorder_level = StringField("Reorder level", default="0", render_kw={"inputmode": "decimal"})
    preferred_supplier_id = SelectField("Buy from (supplier)", choices=[("", "—")],
                                        default="", validate_choice=False)
    pack_size = StringField("Buying pack size (units in a carton or bag)", default="1",
                            render_kw={"inputmode": "decimal"})
    archived = BooleanField("Archived (hidden from the stock pages; history is kept)")

    def service_data(self):
        data = {name: f.data for name, f in self._fields.items() if name != "csrf_token"}
        for name in ("sku", "name", "category", "barcode", "sale_price", "cost",
                     "reorder_level", "preferred_supplier_id", "pack_size"):
            data[name] = "" if data[name] is None else str(data[name])
        return data
