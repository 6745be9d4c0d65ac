"""Hand-made .xlsx files for the import bounds: a sheet's XML exactly as a hostile client
would write it (openpyxl would not write a false <dimension>)."""
import io
import zipfile

_PARTS = {
    "[Content_Types].xml":
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels":
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml":
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
        'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels":
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>',
}


def xlsx(dimension, cells):
    """A workbook whose one sheet declares `dimension` and holds `cells` {"A1": "text"}."""
    rows = {}
    for reference, value in cells.items():
        number = int("".join(c for c in reference if c.isdigit()))
        rows.setdefault(number, []).append(
            f'<c r="{reference}" t="inlineStr"><is><t>{value}</t></is></c>')
    data = "".join(f'<row r="{n}">{"".join(rows[n])}</row>' for n in sorted(rows))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
             f'openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/>'
             f'<sheetData>{data}</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {**_PARTS, "xl/worksheets/sheet1.xml": sheet}.items():
            archive.writestr(name, text)
    return out.getvalue()


HEADER = {"A1": "sku", "B1": "name", "C1": "unit", "D1": "sale_price"}
# The file of issue 23: 16,384 columns × 8,000 rows declared, one value in row 8000.
WIDE_BOMB = xlsx("A1:XFD8000", {**HEADER, "XFD8000": "X"})
LONG_BOMB = xlsx("A1:D1048576", {**HEADER, "A1048576": "X"})
# The same false dimension over an ordinary one-row file: read as the one row it is.
FALSE_DIMENSION = xlsx("A1:XFD8000", {**HEADER, "A8000": "BOMB-1", "B8000": "Bomb",
                                      "C8000": "piece", "D8000": "10"})
