from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField

from webapp.models import UNITS
from webapp.web.filters import UNITS as UNIT_LABELS
from webapp.web.forms import Form


class ProductForm(Form):
    sku = StringField(_l("SKU"), render_kw={"autocapitalize": "characters", "autocomplete": "off",
                                            "dir": "ltr"})
    name = StringField(_l("Name"))
    category = StringField(_l("Category"))
    unit = SelectField(_l("Unit"), choices=[(u, _l(UNIT_LABELS[u].msgid)) for u in UNITS],
                       default="piece", validate_choice=False)
    barcode = StringField(_l("Barcode (optional)"), render_kw={"inputmode": "numeric",
                                                              "dir": "ltr"})
    sale_price = StringField(_l("Sale price (Rs)"), render_kw={"inputmode": "decimal"})
    cost = StringField(_l("Cost (Rs, optional)"), render_kw={"inputmode": "decimal"})
    reorder_level = StringField(_l("Reorder level"), default="0",
                                render_kw={"inputmode": "decimal"})
    preferred_supplier_id = SelectField(_l("Buy from (supplier)"), choices=[("", "—")],
                                        default="", validate_choice=False)
    pack_size = StringField(_l("Buying pack size (units in a carton or bag)"), default="1",
                            render_kw={"inputmode": "decimal"})
    pack_price = StringField(_l("Pack price at the counter (Rs, optional)"),
                             render_kw={"inputmode": "decimal"})
    pack_name = SelectField(_l("What the pack is called on the receipt"),
                            choices=[("", _l("pack")), ("carton", _l("carton")),
                                     ("box", _l("box")), ("bag", _l("bag")),
                                     ("tray", _l("tray"))],
                            default="", validate_choice=False)
    tracks_expiry = BooleanField(_l("Track expiry dates (each stock-in names its date; sales "
                                    "take the batch that expires first)"))
    archived = BooleanField(_l("Archived (hidden from the stock pages; history is kept)"))

    def service_data(self):
        data = {name: f.data for name, f in self._fields.items() if name != "csrf_token"}
        for name in ("sku", "name", "category", "barcode", "sale_price", "cost",
                     "reorder_level", "preferred_supplier_id", "pack_size", "pack_price",
                     "pack_name"):
            data[name] = "" if data[name] is None else str(data[name])
        return data
