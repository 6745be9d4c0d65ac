"""CSV exports streamed row by row: UTF-8 with a BOM so Excel shows Urdu names.

Column headings are msgids (store_code, quantity, …): in English they stay as they are (scripts
read them), in Urdu they are the reader's words. Every cell, headings included, is written by
web/safe_text.spreadsheet_cell, so a name that starts like a formula stays text."""
import csv
import io

from flask import Response, stream_with_context

from webapp.web.i18n import translate
from webapp.web.safe_text import spreadsheet_cell

BOM = "\ufeff"


def stream(filename, header, rows):
    """A CSV download of `rows` (iterables of cells), written as they are produced."""
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([spreadsheet_cell(translate(name)) for name in header])
        yield BOM + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([spreadsheet_cell(v) for v in row])
            yield buffer.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
