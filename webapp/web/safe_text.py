"""User data leaving the app as text another program reads: one place for each way out.

A product, supplier or store name is stored and shown as typed (`=SUM(A1)` is a valid name).
What changes is how it is written where something else interprets it:
- `spreadsheet_cell`: every CSV the app sends (reports, the purchase order, the import's refused
  rows). A cell starting with = + - @ (or a tab or carriage return, or any of those after
  leading spaces) runs as a formula in Excel, LibreOffice and Google Sheets: it gets a leading
  apostrophe, which they show as text and do not print.
- `message_value`: every value put into a WhatsApp text (the receipt, the purchase order).
  A line break or control character inside a name would start a line of its own ("Total:
  Rs 0" under a forged name), and a bidi override would reorder what follows it: each becomes a
  space, and the value stays on its one line.
"""
import re

from flask_babel import gettext

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0/C1 controls (line breaks included) and the bidi embeddings, overrides and isolates.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def spreadsheet_cell(value):
    """A CSV cell: text that a spreadsheet would run as a formula is marked as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and (value.startswith(FORMULA_START)
                                   or value.lstrip(" ").startswith(FORMULA_START)):
        return "'" + value
    return value


def message_value(value):
    """A value inside a chat message: on one line, with no control or direction characters."""
    if value is None:
        return ""
    return " ".join(_CONTROLS.sub(" ", str(value)).split())
