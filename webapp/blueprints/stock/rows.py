"""The rows of a product list (the live stock list, the picker): one <li> a product.

Written here rather than in a Jinja loop: every phone's list refresh renders 50 of them, and
the macro's per-row work (a dozen escaped outputs, a filter call, a macro call for a badge)
was a fifth of the refresh's instructions. The HTML is the macro's, byte for byte
(tests/test_store_rows.py); stock/_stock.html's product_rows() calls this.
"""
from flask import get_template_attribute, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from webapp.blueprints.stock import bp
from webapp.web.filters import quantity, unit


def _escape(text):
    """markupsafe.escape of a str, as five C-level replaces: the same entities (&#39; &#34;,
    tests/test_store_rows.py) without its wrapping in a Markup, three times a row."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace("'", "&#39;").replace('"', "&#34;")

_ROW = ('\n        <li><a class="row" href="{url}"\n     hx-get="{url}"\n'
        '     hx-target="#panel" hx-swap="outerHTML show:#panel:top" hx-push-url="true"\n'
        '     data-product-id="{id}">\n'
        '    <span class="name">{name}<span class="sub"><bdi>{sku}</bdi>{barcode}</span>'
        '{flag}</span>\n'
        '    <span class="qty{negative}" data-quantity="{shown}">{shown}<span class="unit">'
        '{unit}</span>{badge}</span>\n'
        '  </a></li>')


@bp.app_template_global()
def stock_rows(store, items, flags=None):
    """The rows of `items` (level dicts with name, sku, unit, maybe barcode) in `store`;
    `flags` (expiry flags by product id) adds a product's flag. Plain strings throughout (a
    Markup's + escapes its other side again): the store's link built once, each distinct
    quantity and unit escaped once, the badges' words looked up once."""
    home = f"{escape(url_for('stock.home', store_id=store.id))}?product="
    words, shown, units, badges, out = unit.words(), {}, {}, {}, []
    expiry_flag = get_template_attribute("stock/_stock.html", "expiry_flag") if flags else None
    for item in items:
        product_id, value, code = item["product_id"], item["quantity"], item["unit"]
        text = shown.get(value)
        if text is None:
            text = shown[value] = str(escape(quantity(value)))
        unit_text = units.get(code)
        if unit_text is None:
            unit_text = units[code] = str(escape(words[code]))
        negative, badge = item["negative"], ""
        if negative or item["low"]:
            kind = "negative" if negative else "low"
            badge = badges.get(kind)
            if badge is None:  # as _macros/forms.html's badges() writes them
                badge = badges[kind] = (
                    f'<span class="badge badge-negative">{escape(_("Negative"))}</span>\n  '
                    if negative else
                    f'<span class="badge badge-low">{escape(_("Low"))}</span>')
        barcode = item.get("barcode")
        out.append(_ROW.format(
            url=f"{home}{product_id}", id=product_id, name=_escape(str(item["name"])),
            sku=_escape(str(item["sku"])),
            barcode=f" · <bdi>{_escape(str(barcode))}</bdi>" if barcode else "",
            flag=expiry_flag(flags[product_id]) if flags and product_id in flags else "",
            negative=" negative" if negative else "", shown=text, unit=unit_text, badge=badge))
    return Markup("".join(out))
