"""stock/rows.py writes a product list's rows as the Jinja macro it replaced wrote them, byte for
byte: the macro is kept here as the reference, and both render the same items (negative, low,
a barcode, an expiry flag, markup in a name, a loose quantity) in English and Urdu."""
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import refresh

from webapp.blueprints.stock.rows import stock_rows
from webapp.services.expiry import Flag

REFERENCE = """{% from "_macros/forms.html" import badges %}{% from "stock/_stock.html" import expiry_flag %}
  {%- set home = url_for('stock.home', store_id=store.id) ~ "?product=" -%}
  {%- set units = unit_words() -%}
  {%- for item in items %}
    {%- set url = home ~ item["product_id"] %}{% set shown = item["quantity"]|qty %}
        <li><a class="row" href="{{ url }}"
     hx-get="{{ url }}"
     hx-target="#panel" hx-swap="outerHTML show:#panel:top" hx-push-url="true"
     data-product-id="{{ item["product_id"] }}">
    <span class="name">{{ item["name"] }}<span class="sub"><bdi>{{ item["sku"] }}</bdi>{% if item.get("barcode") %} · <bdi>{{ item["barcode"] }}</bdi>{% endif %}</span>{% if flags and item["product_id"] in flags %}{{ expiry_flag(flags[item["product_id"]]) }}{% endif %}</span>
    <span class="qty{% if item["negative"] %} negative{% endif %}" data-quantity="{{ shown }}">{{ shown }}<span class="unit">{{ units[item["unit"]] }}</span>{% if item["negative"] or item["low"] %}{{ badges(item) }}{% endif %}</span>
  </a></li>
  {%- endfor %}"""


def _item(product_id, name, quantity, unit="piece", negative=False, low=False, **more):
    return {"product_id": product_id, "name": name, "sku": f"SKU-{product_id}", "unit": unit,
            "quantity": quantity, "negative": negative, "low": low, **more}


ITEMS = [
    _item(1, "Chakki Atta", "20.000", unit="pack"),
    _item(2, "Cheeni <b>&</b> \"loose\" 'khula'", "1.500", unit="kg", low=True),
    _item(3, "Doodh", "-2.000", unit="litre", negative=True, low=True, barcode="89640<0123>&"),
    _item(4, "Chai", "20.000", barcode=""),
    _item(5, "Anda", "0.000", unit="dozen", low=True),
]
FLAGS = {3: Flag(Decimal("1.000"), Decimal(0), date(2026, 12, 1)),
         4: Flag(Decimal(0), Decimal("2.000"), date(2026, 12, 9))}


@pytest.mark.parametrize("language", ["en", "ur"])
@pytest.mark.parametrize("flags", [None, FLAGS])
def test_the_rows_are_the_macros_byte_for_byte(app, language, flags):
    store = SimpleNamespace(id=7)
    with app.test_request_context("/", headers={"Accept-Language": language}):
        refresh()
        expected = app.jinja_env.from_string(REFERENCE).render(store=store, items=ITEMS,
                                                                 flags=flags)
        written = stock_rows(store, ITEMS, flags)
    assert str(written) == expected
    assert "Cheeni &lt;b&gt;&amp;&lt;/b&gt; &#34;loose&#34; &#39;khula&#39;" in written
    assert "<bdi>89640&lt;0123&gt;&amp;</bdi>" in written
    assert ("badge-expired" in written) is bool(flags)
