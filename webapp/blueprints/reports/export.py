"""CSV exports streamed row by row: UTF-8 with a BOM so Excel shows Urdu names.

Column headings are msgids (store_code, quantity, …): in English they stay as they are (scripts
read them), in Urdu they are the reader's words."""
import csv
import io

from flask import Response, stream_with_context
from flask_babel import gettext

from webapp.web.i18n import translate

BOM = "\ufeff"
# A cell starting with one of these runs as a formula in a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def stream(filename, header, rows):
    """A CSV download of `rows` (iterables of cells), written as they are produced."""
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([translate(name) for name in header])
        yield BOM + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_cell(v) for v in row])
            yield buffer.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
