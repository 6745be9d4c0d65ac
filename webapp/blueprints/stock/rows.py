"""The rows of a product list (the live stock list, the picker): one <li> a product.

Written here rather than in a Jinja loop: every phone's list refresh renders 50 of them, and
the macro's per-row work (a dozen escaped outputs, a filter call, a macro call for a badge)
was a fifth of the refresh's instructions. The HTML is the macro's, byte for byte
(tests/test_store_rows.py); the picker and the full store page call stock_rows (level dicts),
the live list's refresh list_rows (inventory.list_page's rows).
"""
from flask import get_template_attribute, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from webapp.blueprints.stock import bp
from webapp.services.expiry import flag as expiry_flag_of
from webapp.web.filters import quantity, unit
from webapp.web.i18n import current_language

try:  # MarkupSafe's own C escape of a str (the same entities), without wrapping it in a Markup
    from markupsafe._speedups import _escape_inner as _escape
except ImportError:  # pragma: no cover (MarkupSafe before 3.0, or without its C speedups)
    def _escape(text):
        """markupsafe.escape of a str, as C-level finds and replaces (&#39; &#34;,
        tests/test_store_rows.py), without its wrapping in a Markup."""
        if "&" in text or "<" in text or ">" in text or "'" in text or '"' in text:
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
                .replace("'", "&#39;").replace('"', "&#34;")
        return text


# A quantity's text (filters.quantity) by its level's text ("20.000", or "20" from SQLite): the
# same few thousand levels are shown over and over, and Decimal's parse, normalize and format
# cost more than the rest of a row. Digits, sign and point only: nothing to escape. Emptied
# when full.
_SHOWN = {}
_SHOWN_MAX = 20000


# Per language: each unit code's words and the two badges, escaped (the catalogues are
# compiled before the process starts, so they never change while it runs).
_PARTS = {}


def _parts():
    language = current_language()
    parts = _PARTS.get(language)
    if parts is None:  # the badges as _macros/forms.html's badges() writes them
        words = unit.words()
        parts = _PARTS[language] = (
            {code: str(escape(text)) for code, text in words.items()}, words,
            f'<span class="badge badge-negative">{escape(_("Negative"))}</span>\n  ',
            f'<span class="badge badge-low">{escape(_("Low"))}</span>')
    return parts


@bp.app_template_global()
def stock_rows(store, items, flags=None):
    """The rows of `items` (level dicts with name, sku, unit, maybe barcode) in `store`;
    `flags` (expiry flags by product id) adds a product's flag."""
    def entries():
        for item in items:
            flag = flags.get(item["product_id"]) if flags else None
            yield (item["product_id"], item["name"], item["sku"], item.get("barcode"),
                   item["quantity"], item["unit"], item["negative"], item["low"],
                   *((None, None, None) if flag is None else
                     (flag.expired, flag.expiring, flag.first)))
    return list_rows(store.id, entries())


def list_rows(store_id, rows):
    """The rows of `rows`: tuples (product id, name, sku, barcode, quantity as level_dict or
    the database writes it, unit code, negative, low, and the expiry sums expired, expiring
    and first date, None without a flag: inventory.list_page's). Plain strings throughout (a
    Markup's + escapes its other side again), each row one f-string (str.format's keyword
    lookups cost more than the rest of a row): the store's link built once, each unit, badge
    and flag written once."""
    home = f"{escape(url_for('stock.home', store_id=store_id))}?product="
    units, words, negative_badge, low_badge = _parts()
    flags, out = {}, []
    for product_id, name, sku, barcode, value, code, negative, low, expired, expiring, first \
            in rows:
        text = _SHOWN.get(value)
        if text is None:
            if len(_SHOWN) >= _SHOWN_MAX:
                _SHOWN.clear()
            text = _SHOWN[value] = quantity(value)
        unit_text = units.get(code)
        if unit_text is None:  # a code the table does not name shows as itself
            unit_text = str(escape(words[code]))
        flag_html = ""
        if first is not None:
            flag = expiry_flag_of(expired, expiring, first)
            flag_html = flags.get(flag)
            if flag_html is None:
                flag_html = flags[flag] = str(get_template_attribute(
                    "stock/_stock.html", "expiry_flag")(flag))
        product_id = str(product_id)
        out.append(
            f'\n        <li><a class="row" href="{home}{product_id}"\n'
            f'     hx-get="{home}{product_id}"\n'
            '     hx-target="#panel" hx-swap="outerHTML show:#panel:top" hx-push-url="true"\n'
            f'     data-product-id="{product_id}">\n'
            f'    <span class="name">{_escape(name)}<span class="sub"><bdi>{_escape(sku)}</bdi>'
            f'{f" · <bdi>{_escape(str(barcode))}</bdi>" if barcode else ""}</span>'
            f'{flag_html}</span>\n'
            f'    <span class="qty{" negative" if negative else ""}" data-quantity="{text}">'
            f'{text}<span class="unit">{unit_text}</span>'
            f'{negative_badge if negative else low_badge if low else ""}</span>\n'
            '  </a></li>')
    return Markup("".join(out))
