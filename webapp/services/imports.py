"""Bulk import of products, opening stock and supplier price lists from CSV or .xlsx.

Every row is checked by the catalog's own rules (catalog.clean_product), then compared with
what is stored: created, updated, unchanged or refused (with its line, column and reason). A
dry run stops there; the real run (an RQ job, or in-process without Redis) does the same
check again — the data may have moved since — and writes in chunks, committing the job's
progress with each, so a page can poll it. Importing the same file twice changes nothing: the
second time every row compares equal. Opening stock is applied as shelf counts through
ledger.apply_count (the level becomes the file's quantity), so it is idempotent as well.
"""
import codecs
import csv
import io
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db
from webapp.models import (
    IMPORT_KINDS,
    UNITS,
    ImportJob,
    Product,
    StockLevel,
    Store,
    Supplier,
    User,
)
from webapp.models.types import utcnow
from webapp.services import audit, catalog, commands, ledger, policy
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.handlers import handle
from webapp.services.validation import (
    parse_batch_code,
    parse_expiry,
    parse_id,
    parse_quantity,
    parse_sku,
)

log = logging.getLogger("kiryana.imports")
PRODUCTS = Product.__table__
JOBS = ImportJob.__table__
LEVELS = StockLevel.__table__
MAX_ROWS = 100_000
# A sheet or CSV with a value right of this column is refused (every kind has at most 10
# columns; the rest is room for columns people keep beside them, which are ignored).
MAX_COLUMNS = 64
# What an .xlsx may unpack to (100,000 rows of 10 cells is about 40 MB of XML), and how many
# cells, blank ones included, one row may hold (Excel writes a formatted blank cell as one).
MAX_XLSX_UNPACKED = 64 * 1024 * 1024
MAX_CELLS_IN_ROW = 16 * MAX_COLUMNS
CHUNK = 1000
MAX_REFUSALS_KEPT = 5000
XLSX_MAGIC = b"PK\x03\x04"

# Header words people write, mapped to our field names.
ALIASES = {
    "price": "sale_price", "sale price": "sale_price", "selling price": "sale_price",
    "cost price": "cost", "purchase price": "cost", "buying price": "cost",
    "reorder": "reorder_level", "reorder level": "reorder_level", "pack": "pack_size",
    "pack size": "pack_size", "store": "store_code", "store code": "store_code",
    "qty": "quantity", "stock": "quantity", "opening stock": "quantity",
    "unit cost": "unit_cost", "product": "name", "product name": "name",
    "supplier name": "supplier", "code": "sku",
    "expiry": "expires_on", "expiry date": "expires_on", "expires": "expires_on",
    "expires on": "expires_on", "exp": "expires_on", "best before": "expires_on",
    "batch": "batch_code", "batch code": "batch_code", "batch no": "batch_code",
    "lot": "batch_code",
}
UNIT_ALIASES = {"pcs": "piece", "pc": "piece", "pieces": "piece", "kgs": "kg", "kilogram": "kg",
                "gram": "g", "grams": "g", "liter": "litre", "l": "litre", "litres": "litre",
                "liters": "litre", "packs": "pack", "packet": "pack", "dozens": "dozen",
                "doz": "dozen"}
COLUMNS = {
    "products": ("sku", "name", "category", "unit", "barcode", "sale_price", "cost",
                 "reorder_level", "pack_size", "supplier"),
    "opening_stock": ("sku", "store_code", "quantity", "expires_on", "batch_code"),
    "supplier_prices": ("sku", "cost", "pack_size", "supplier"),
}
REQUIRED = {"products": ("sku",), "opening_stock": ("sku", "store_code", "quantity"),
            "supplier_prices": ("sku", "cost")}
NUMBER_FIELDS = ("sale_price", "cost", "reorder_level", "pack_size", "quantity")
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")




# ---------------------------------------------------------------------------------------------
# Reading the file


def decode_csv(content):
    """Text of a CSV: UTF-8 (with or without a BOM), else Windows-1252 as Excel writes it."""
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8):].decode("utf-8")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value).strip()


def read_rows(content, filename=""):
    """(header, [(line number, [cells])]) from CSV or .xlsx bytes; line 1 is the header."""
    if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        rows = _xlsx_rows(content)
    else:
        text = decode_csv(content)
        sample = text[:4096]
        delimiter = ";" if sample.count(";") > sample.count(",") else \
            "\t" if sample.count("\t") > sample.count(",") else ","
        rows = _csv_rows(text, delimiter)
    rows = iter(rows)
    header = next(rows, None)
    if not header or not any(header):
        raise DomainError("empty_file", N_("The file is empty or has no header row."),
                          field="file")
    numbered = []
    for line, row in enumerate(rows, start=2):
        if not any(cell for cell in row):
            continue
        numbered.append((line, row))
        if len(numbered) > MAX_ROWS:
            raise _too_long()
    return header, numbered


def _too_wide(line):
    return DomainError("too_many_columns", N_(
        "Line %(line)s goes right of column %(n)s: at most %(n)s columns in one file.",
        line=line, n=MAX_COLUMNS), field="file")


def _too_long():
    return DomainError("too_many_rows", N_("At most %(n)s rows in one file.",
                                           n=f"{MAX_ROWS:,}"), field="file")


def _csv_rows(text, delimiter):
    """CSV rows as lists of text, refusing a row wider than MAX_COLUMNS or a field longer than
    the csv module reads (131,072 characters) with a 422 instead of a 500."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            cells = [_cell_text(c) for c in row]
            while cells and not cells[-1]:
                cells.pop()
            if len(cells) > MAX_COLUMNS:
                raise _too_wide(reader.line_num)
            yield cells
    except csv.Error:
        raise DomainError("unreadable_file", N_(
            "Line %(line)s cannot be read as CSV: a field is too long or a quote is not "
            "closed.", line=reader.line_num), field="file") from None


def _unreadable():
    return DomainError("unreadable_file", N_("This is not a readable .xlsx or CSV file."),
                       field="file")


def _xlsx_rows(content):
    """The first sheet's rows, read lazily from its XML, never wider than its last value.

    openpyxl pads every row to the sheet's declared <dimension> (A1:XFD8000 is 16,384 columns ×
    8,000 rows: 13 s and 1 GB for a 5 kB file, issue 23), so openpyxl only opens the workbook
    and its shared strings here; the sheet itself is streamed cell by cell, each cell and row
    dropped once read, and refused as soon as a value lies right of MAX_COLUMNS or a row below
    MAX_ROWS + 1, whatever the sheet declares.
    """
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise DomainError("too_large", N_("This .xlsx unpacks to more than %(n)s MB.",
                                              n=MAX_XLSX_UNPACKED // 2**20), field="file")
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        # Pinned openpyxl (3.1.5): the read-only sheet's XML part and the workbook's strings.
        source, strings = book._archive.open(sheet._worksheet_path), sheet._shared_strings
    except DomainError:
        raise
    except Exception:  # openpyxl and zipfile raise many kinds for a file that is not a workbook
        raise _unreadable() from None
    try:
        yield from _sheet_rows(source, strings)
    except DomainError:
        raise
    except Exception:
        raise _unreadable() from None
    finally:
        source.close()
        book.close()


_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _TEXT, _INLINE = (_SHEET + t for t in ("row", "c", "v", "t", "is"))
_SHEET_DATA = _SHEET + "sheetData"
_COLUMN_LETTERS = re.compile(r"[A-Z]+")


def _column_number(reference):
    letters = _COLUMN_LETTERS.match(reference or "")
    number = 0
    for letter in letters.group() if letters else "":
        number = number * 26 + ord(letter) - 64
    return number


def _cell_value(cell, strings):
    kind = cell.get("t")
    if kind == "inlineStr":
        inline = cell.find(_INLINE)
        return "".join(t.text or "" for t in inline.iter(_TEXT)).strip() \
            if inline is not None else ""
    value = cell.find(_VALUE)
    text = value.text if value is not None and value.text is not None else ""
    if kind == "s":
        return _cell_text(strings[int(text)])
    if kind == "b":
        return "True" if text == "1" else "False"
    if kind in (None, "n") and text:
        try:
            return format(Decimal(text).normalize(), "f")
        except ArithmeticError:
            return text.strip()
    return text.strip()


def _sheet_rows(source, strings):
    from xml.etree.ElementTree import iterparse

    expected, number, parent, row_element, row = 1, 0, None, None, {}
    for event, element in iterparse(source, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _ROW:
                number = int(element.get("r") or number + 1)
                if number > MAX_ROWS + 1:
                    raise _too_long()
                row_element, row, column, cells = element, {}, 0, 0
            elif tag == _SHEET_DATA:
                parent = element
            continue
        if tag == _CELL and row_element is not None:
            cells += 1
            if cells > MAX_CELLS_IN_ROW:
                raise _too_wide(number)
            reference = element.get("r")
            column = _column_number(reference) if reference else column + 1
            value = _cell_value(element, strings)
            if value:
                if column > MAX_COLUMNS:
                    raise _too_wide(number)
                row[column] = value
            row_element.remove(element)  # the last child: nothing of the row piles up
        elif tag == _ROW:
            for _ in range(expected, number):
                yield []  # rows the sheet leaves out: keeps line numbers right
            expected = number + 1
            yield [row.get(i, "") for i in range(1, max(row, default=0) + 1)]
            if parent is not None:
                parent.remove(element)
            row_element = None


def _normalise_header(header, kind):
    names = []
    for cell in header:
        name = re.sub(r"[\s_]+", " ", cell.strip().lstrip("\ufeff").lower()).strip()
        name = ALIASES.get(name, name).replace(" ", "_")
        names.append(name if name in COLUMNS[kind] else None)
    missing = [c for c in REQUIRED[kind] if c not in names]
    if missing:
        raise DomainError("missing_column",
                          N_("The file needs a column named %(name)s.", name=missing[0]),
                          field="file")
    return names


def _number(text):
    """"1,450.00" → "1450.00": thousands separators are how spreadsheets show prices."""
    text = text.strip().replace("\u00a0", "")
    return text.replace(",", "") if THOUSANDS.match(text) else text


# ---------------------------------------------------------------------------------------------
# Checking rows against what is stored


@dataclass
class Plan:
    """What a file would do: rows to create / update, unchanged count, refusals."""

    total: int = 0
    create: list = field(default_factory=list)
    update: list = field(default_factory=list)
    unchanged: int = 0
    refusals: list = field(default_factory=list)
    not_saved: int = 0  # rows to create that the database refused when the job ran

    def refuse(self, line, column, code, message, row):
        self.refusals.append({"line": line, "column": column, "code": code,
                              "message": message, "row": row})

    def counts(self):
        return {"total": self.total, "created": len(self.create), "updated": len(self.update),
                "unchanged": self.unchanged, "refused": len(self.refusals)}


def plan(kind, content, filename="", store_id=None, supplier_id=None):
    """Check a whole file without writing anything."""
    if kind not in IMPORT_KINDS:
        raise DomainError("invalid", N_("Choose what the file holds."), field="kind")
    header, rows = read_rows(content, filename)
    names = _normalise_header(header, kind)
    result = Plan(total=len(rows))
    checker = {"products": _plan_products, "opening_stock": _plan_opening_stock,
               "supplier_prices": _plan_supplier_prices}[kind]
    checker(result, names, header, rows, store_id, supplier_id)
    db.session.rollback()
    return result


def _records(names, header, rows):
    """Each row as {field: text} (columns we do not know are ignored), with its line."""
    for line, cells in rows:
        record = {}
        for i, name in enumerate(names):
            if name is not None:
                record[name] = cells[i].strip() if i < len(cells) else ""
        yield line, record, cells


def _records_with_sku(result, names, header, rows):
    """_records, refusing a row with no SKU."""
    for line, record, cells in _records(names, header, rows):
        if not record.get("sku", ""):
            result.refuse(line, _column(header, names, "sku"), "missing_sku",
                          N_("SKU is missing."), cells)
            continue
        try:
            # Matched as stored: NFKC (full-width ＣＨＥＥＮＩ is CHEENI), the SKU alphabet.
            record["sku"] = parse_sku(record["sku"])
        except DomainError as error:
            result.refuse(line, _column(header, names, "sku"), "invalid_sku", error.message,
                          cells)
            continue
        yield line, record, cells


def _records_by_sku(result, names, header, rows):
    """_records with each one's lower-cased SKU; a row with no SKU, or one already on an earlier
    line, is refused here."""
    seen = {}
    for line, record, cells in _records_with_sku(result, names, header, rows):
        key = record["sku"].lower()
        if key in seen:
            result.refuse(line, _column(header, names, "sku"), "duplicate_sku",
                          N_("This SKU is also on line %(line)s.", line=seen[key]), cells)
            continue
        seen[key] = line
        yield line, record, cells, key


def _column(header, names, field_name):
    """The file's own heading of a field, for messages."""
    for cell, name in zip(header, names):
        if name == field_name:
            return cell.strip().lstrip("\ufeff")
    return field_name


def _suppliers_by_name():
    return {s.name.strip().lower(): s.id for s in db.session.scalars(select(Supplier))}


def _existing_products():
    """{lower(sku): row} for every product: one query, so 50,000 rows cost one round trip."""
    rows = db.session.execute(select(
        PRODUCTS.c.id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.category, PRODUCTS.c.unit,
        PRODUCTS.c.barcode, PRODUCTS.c.sale_price, PRODUCTS.c.cost, PRODUCTS.c.reorder_level,
        PRODUCTS.c.pack_size, PRODUCTS.c.preferred_supplier_id, PRODUCTS.c.archived,
        PRODUCTS.c.tracks_expiry))
    return {r.sku.lower(): r._asdict() for r in rows}


# Dates as a shop's sheet holds them: 2027-05-31, 31/05/2027 or 31-05-2027 (day first, as
# Pakistan writes them), or the day number an .xlsx date cell holds.
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_EXCEL_EPOCH = date(1899, 12, 30)


def _expiry_of(record):
    """{"expires_on": ISO day, "batch_code"?: …} of an opening-stock row ({} without a date)."""
    text = record.get("expires_on", "").strip()
    if not text:
        return {}
    day_first = _DAY_FIRST.match(text)
    if day_first:
        day, month, year = (int(g) for g in day_first.groups())
        try:
            text = date(year, month, day).isoformat()
        except ValueError:
            pass  # parse_expiry names the field
    elif re.fullmatch(r"\d{5}(\.0+)?", text):
        text = (_EXCEL_EPOCH + timedelta(days=int(float(text)))).isoformat()
    found = {"expires_on": parse_expiry(text).isoformat()}
    code = parse_batch_code(record.get("batch_code"))
    return {**found, "batch_code": code} if code else found


def _refusal_from_error(result, header, names, line, error, cells):
    name = next(iter(error.fields), None)
    message = error.fields.get(name, error.message) if name else error.message
    code = "bad_number" if name in NUMBER_FIELDS and "number" in message else \
        error.code if error.code != "invalid" else "invalid"
    result.refuse(line, _column(header, names, name) if name else "", code, message, cells)


def _same(old, new):
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return old is not None and new is not None and Decimal(old) == Decimal(new)
    return (old or None) == (new or None) if isinstance(new, str) or new is None else old == new


def _plan_products(result, names, header, rows, store_id, supplier_id):
    existing = _existing_products()
    barcodes = {r["barcode"]: sku for sku, r in existing.items() if r["barcode"]}
    suppliers = _suppliers_by_name()
    for line, record, cells, key in _records_by_sku(result, names, header, rows):
        data = {k: v for k, v in record.items() if k != "supplier"}
        for name in NUMBER_FIELDS:
            if name in data:
                data[name] = _number(data[name])
        if "unit" in data:
            unit = data["unit"].lower()
            unit = UNIT_ALIASES.get(unit, unit)
            if unit and unit not in UNITS:
                result.refuse(line, _column(header, names, "unit"), "unknown_unit",
                              N_("Unknown unit %(unit)s: use one of %(units)s.",
                                unit=data["unit"], units=", ".join(UNITS)), cells)
                continue
            data["unit"] = unit
        if record.get("supplier"):
            found = suppliers.get(record["supplier"].strip().lower())
            if found is None:
                result.refuse(line, _column(header, names, "supplier"), "unknown_supplier",
                              N_("No supplier is called %(name)s.", name=record["supplier"]),
                              cells)
                continue
            data["preferred_supplier_id"] = found
        elif supplier_id:
            data["preferred_supplier_id"] = supplier_id
        old = existing.get(key)
        # Blank optional cells leave what is stored alone when updating.
        if old is not None:
            data = {k: v for k, v in data.items() if v != "" or k in ("sku",)}
        try:
            clean = catalog.clean_product(data, creating=old is None)
        except DomainError as error:
            _refusal_from_error(result, header, names, line, error, cells)
            continue
        barcode = clean.get("barcode")
        if barcode:
            owner = barcodes.get(barcode)
            if owner is not None and owner != key:
                result.refuse(line, _column(header, names, "barcode"), "duplicate_barcode",
                              N_("Another product already has this barcode."), cells)
                continue
            barcodes[barcode] = key
        if old is None:
            result.create.append((line, clean))
            continue
        clean.pop("sku", None)
        changes = {k: v for k, v in clean.items() if not _same(old.get(k), v)}
        if changes:
            result.update.append((line, {"id": old["id"], **changes}))
        else:
            result.unchanged += 1


def _plan_supplier_prices(result, names, header, rows, store_id, supplier_id):
    existing = _existing_products()
    suppliers = _suppliers_by_name()
    for line, record, cells, key in _records_by_sku(result, names, header, rows):
        old = existing.get(key)
        if old is None:
            result.refuse(line, _column(header, names, "sku"), "unknown_sku",
                          N_("No product has this SKU."), cells)
            continue
        data = {"cost": _number(record.get("cost", ""))}
        if record.get("pack_size"):
            data["pack_size"] = _number(record["pack_size"])
        chosen = supplier_id
        if record.get("supplier"):
            chosen = suppliers.get(record["supplier"].strip().lower())
            if chosen is None:
                result.refuse(line, _column(header, names, "supplier"), "unknown_supplier",
                              N_("No supplier is called %(name)s.", name=record["supplier"]),
                              cells)
                continue
        if chosen is None:
            result.refuse(line, _column(header, names, "supplier"), "missing_supplier",
                          N_("Choose the supplier, or give a supplier column."), cells)
            continue
        data["preferred_supplier_id"] = chosen
        if not data["cost"]:
            result.refuse(line, _column(header, names, "cost"), "bad_number",
                          N_("Cost is missing."), cells)
            continue
        try:
            clean = catalog.clean_product(data, creating=False)
        except DomainError as error:
            _refusal_from_error(result, header, names, line, error, cells)
            continue
        changes = {k: v for k, v in clean.items() if not _same(old.get(k), v)}
        if changes:
            result.update.append((line, {"id": old["id"], **changes}))
        else:
            result.unchanged += 1


def _plan_opening_stock(result, names, header, rows, store_id, supplier_id):
    existing = _existing_products()
    stores = {s.code.lower(): s.id for s in db.session.scalars(select(Store))}
    seen = {}
    wanted = []
    for line, record, cells in _records_with_sku(result, names, header, rows):
        sku = record["sku"]
        code = record.get("store_code", "").strip().lower()
        target = stores.get(code)
        if target is None:
            result.refuse(line, _column(header, names, "store_code"), "unknown_store",
                          N_("No store has the code %(code)s.", code=record.get("store_code", "")),
                          cells)
            continue
        product = existing.get(sku.lower())
        if product is None:
            result.refuse(line, _column(header, names, "sku"), "unknown_sku",
                          N_("No product has this SKU."), cells)
            continue
        if (target, product["id"]) in seen:
            result.refuse(line, _column(header, names, "sku"), "duplicate_sku",
                          N_("This SKU is also on line %(line)s.",
                            line=seen[(target, product["id"])]), cells)
            continue
        seen[(target, product["id"])] = line
        try:
            quantity = parse_quantity(_number(record.get("quantity", "")), "quantity",
                                      allow_zero=True, label="Quantity")
            if product["unit"] in ("piece", "pack") and quantity != quantity.to_integral_value():
                raise DomainError("invalid", N_("This product is counted in whole units."),
                                  field="quantity")
            batch = _expiry_of(record) if product["tracks_expiry"] else {}
            if product["tracks_expiry"] and quantity and "expires_on" not in batch:
                raise DomainError("invalid", N_("This product tracks expiry: give the expiry "
                                                "date of this stock."), field="expires_on")
        except DomainError as error:
            _refusal_from_error(result, header, names, line, error, cells)
            continue
        wanted.append((line, target, product["id"], quantity, batch))
    levels = {}
    for chunk in _chunks(wanted, 500):
        pairs = [(t, p) for _line, t, p, _q, _b in chunk]
        for r in db.session.execute(select(LEVELS.c.store_id, LEVELS.c.product_id,
                                           LEVELS.c.quantity)
                                    .where(LEVELS.c.product_id.in_({p for _t, p in pairs}),
                                           LEVELS.c.store_id.in_({t for t, _p in pairs}))):
            levels[(r.store_id, r.product_id)] = r.quantity
    for line, target, product_id, quantity, batch in wanted:
        current = levels.get((target, product_id))
        row = {"store_id": target, "product_id": product_id, "quantity": quantity, **batch}
        if current is None:
            # Even at 0: a product imported for a store is one it stocks, so it belongs on
            # its stock list and low-stock report (the count writes a level, no movement).
            result.create.append((line, row))
        elif Decimal(current) == quantity:
            result.unchanged += 1
        else:
            result.update.append((line, row))


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------------------------------------
# Jobs


def check(actor, kind, content, filename="", store_id=None, supplier_id=None):
    """Upload + dry run: a job row holding the file and what it would do (status "checked")."""
    if not content:
        raise DomainError("empty_file", N_("Choose a file to import."), field="file")
    if supplier_id not in (None, ""):
        supplier_id = parse_id(supplier_id, "supplier_id", "Supplier")
        if db.session.get(Supplier, supplier_id) is None:
            raise NotFound("Supplier", field="supplier_id")
    else:
        supplier_id = None
    result = plan(kind, content, filename, store_id, supplier_id)
    job_id = str(uuid.uuid4())
    db.session.execute(insert(JOBS).values(
        id=job_id, user_id=actor.user_id, kind=kind, filename=(filename or "")[:200],
        content=content, supplier_id=supplier_id, status="checked", processed=0,
        refusals=result.refusals[:MAX_REFUSALS_KEPT], created_at=utcnow(), **result.counts()))
    audit.record(db.session.connection(), actor, "import.check", "import_job", job_id,
                 after={"kind": kind, "filename": filename, **result.counts()})
    db.session.commit()
    return job_id


def confirm(actor, job_id, user):
    """The user confirms a checked file: it is queued (the caller enqueues run(job_id))."""
    job = _job(job_id, user)
    if job.status != "checked":
        return job.id  # already confirmed: confirming again is harmless
    db.session.execute(update(JOBS).where(JOBS.c.id == job.id, JOBS.c.status == "checked")
                       .values(status="queued", heartbeat_at=utcnow()))
    audit.record(db.session.connection(), actor, "import.confirm", "import_job", job.id)
    db.session.commit()
    return job.id


class Superseded(Exception):
    """Another run took this job over (the sweep restarted it): this one stops."""


def run(job_id):
    """Apply a queued job in chunks, committing progress with each; safe to run again.

    The run claims the job (status queued → running, a new runner id); every chunk's
    transaction first updates the job row where the runner is still this one, so a run that
    the sweep replaced stops at its next chunk instead of writing beside its successor.
    """
    runner, now = str(uuid.uuid4()), utcnow()
    claimed = db.session.execute(
        update(JOBS).where(JOBS.c.id == str(job_id)[:36], JOBS.c.status == "queued")
        .values(status="running", runner=runner, started_at=now, heartbeat_at=now,
                processed=0, error=None).returning(JOBS.c.id)).first()
    db.session.commit()
    if claimed is None:
        return None
    job = db.session.get(ImportJob, job_id)
    actor = policy.actor_for(db.session.get(User, job.user_id), "web")
    kind, content, filename, supplier_id = job.kind, job.content, job.filename, job.supplier_id
    previous = list(job.refusals or [])
    db.session.rollback()
    try:
        checked = {(r["line"], r["code"]): r["message"] for r in previous}
        result = plan(kind, content, filename, None, supplier_id)
        for refusal in result.refusals:  # keep the dry run's wording (the user's language)
            refusal["message"] = checked.get((refusal["line"], refusal["code"]),
                                             refusal["message"])
        _progress(job_id, runner, len(result.refusals) + result.unchanged,
                  total=result.total, refused=len(result.refusals),
                  unchanged=result.unchanged, refusals=result.refusals[:MAX_REFUSALS_KEPT])
        db.session.commit()
        apply = {"products": _apply_products, "opening_stock": _apply_opening_stock,
                 "supplier_prices": _apply_product_updates}[kind]
        apply(actor, job_id, runner, result)
        _progress(job_id, runner, 0, status="done", finished_at=utcnow(),
                  processed=result.total, created=len(result.create) - result.not_saved,
                  updated=len(result.update), refused=len(result.refusals),
                  refusals=result.refusals[:MAX_REFUSALS_KEPT])
        audit.record(db.session.connection(), actor, "import.done", "import_job", job_id,
                     after=result.counts())
        db.session.commit()
    except Superseded:
        db.session.rollback()
        return None
    except DomainError as exc:  # the file itself is refused (it was stored before a bound)
        _fail(job_id, runner, exc.message)
        return None
    except Exception:
        # The job's error is shown to its user: never the exception's text (it may be SQL).
        _fail(job_id, runner, N_("The import stopped on an unexpected error; the rows before "
                                 "it are saved. Try again, or ask an admin to read the "
                                 "worker's log."))
        raise
    return result.counts()


def _fail(job_id, runner, message):
    db.session.rollback()
    db.session.execute(update(JOBS).where(JOBS.c.id == job_id, JOBS.c.runner == runner)
                       .values(status="failed", error=str(message)[:500], finished_at=utcnow()))
    db.session.commit()


def stalled_jobs(stall_seconds):
    """Ids of queued or running jobs untouched for stall_seconds, put back in the queue (the
    caller enqueues them): a lost enqueue, or a worker that died mid-import."""
    cutoff = utcnow() - timedelta(seconds=stall_seconds)
    last_touch = func.coalesce(JOBS.c.heartbeat_at, JOBS.c.created_at)
    ids = db.session.execute(select(JOBS.c.id).where(
        JOBS.c.status.in_(("queued", "running")), last_touch < cutoff)).scalars().all()
    if ids:
        db.session.execute(update(JOBS).where(JOBS.c.id.in_(ids))
                           .values(status="queued", heartbeat_at=utcnow()))
    db.session.commit()
    return ids


def _progress(job_id, runner, done_rows, **values):
    """Move the job's progress on, in the chunk's own transaction; Superseded when another
    run owns the job now (this UPDATE also takes the job row's lock, so two runs serialise)."""
    values.setdefault("processed", JOBS.c.processed + done_rows)
    moved = db.session.execute(update(JOBS).where(JOBS.c.id == job_id, JOBS.c.runner == runner)
                               .values(heartbeat_at=utcnow(), **values))
    if moved.rowcount != 1:
        raise Superseded(job_id)


_PRODUCT_DEFAULTS = {"category": "", "unit": "piece", "barcode": None, "cost": None,
                     "reorder_level": 0, "archived": False, "preferred_supplier_id": None,
                     "pack_size": 1}


def _apply_products(actor, job_id, runner, result):
    created = 0
    for chunk in _chunks(result.create, CHUNK):
        created += len(chunk)
        _progress(job_id, runner, len(chunk), created=created)
        now = utcnow()
        rows = [{**_PRODUCT_DEFAULTS, **clean, "created_at": now, "updated_at": now}
                for _line, clean in chunk]
        conn = db.session.connection()
        # A plain executemany (batched into multi-row INSERTs) and one SELECT for the new ids:
        # INSERT … RETURNING in parameter order cost ten times as much per row.
        try:
            with conn.begin_nested():
                conn.execute(insert(PRODUCTS), rows)
        except DBAPIError:
            # One row the database refuses (a SKU created since the check, say) must not take
            # its chunk with it: the chunk again row by row, a refused row that row's refusal.
            rows = _insert_one_by_one(conn, result, chunk, rows)
            created -= len(chunk) - len(rows)
        skus = [row["sku"].lower() for row in rows]
        ids = conn.execute(select(PRODUCTS.c.id, PRODUCTS.c.sku)
                           .where(func.lower(PRODUCTS.c.sku).in_(skus))).all()
        _audit_chunk(conn, actor, job_id, "created", {str(pid): sku for pid, sku in ids})
        db.session.commit()
    _apply_product_updates(actor, job_id, runner, result)


def _insert_one_by_one(conn, result, chunk, rows):
    """Insert a chunk's rows each in its own savepoint; the rows kept (a refusal for each other,
    in words, never the database's message)."""
    kept = []
    for (line, _clean), row in zip(chunk, rows):
        try:
            with conn.begin_nested():
                conn.execute(insert(PRODUCTS), [row])
        except DBAPIError:
            log.warning("import row %s refused by the database", line, exc_info=True)
            result.not_saved += 1
            result.refuse(line, "", "not_saved", N_(
                "This row could not be saved: another product may have taken its SKU or "
                "barcode since the check. Check it and import it again."), [])
            continue
        kept.append(row)
    return kept


def _apply_product_updates(actor, job_id, runner, result):
    updated = 0
    for chunk in _chunks(result.update, CHUNK):
        updated += len(chunk)
        _progress(job_id, runner, len(chunk), updated=updated)
        conn = db.session.connection()
        now = utcnow()
        by_shape = {}
        for _line, changes in chunk:
            by_shape.setdefault(tuple(sorted(k for k in changes if k != "id")), []).append(changes)
        for shape, rows in by_shape.items():
            stmt = (update(PRODUCTS).where(PRODUCTS.c.id == bindparam("b_id"))
                    .values({k: bindparam(f"b_{k}") for k in (*shape, "updated_at")}))
            conn.execute(stmt, [{"b_id": r["id"], "b_updated_at": now,
                                 **{f"b_{k}": r[k] for k in shape}} for r in rows])
        _audit_chunk(conn, actor, job_id, "updated",
                     {str(changes["id"]): _snapshot({k: v for k, v in changes.items()
                                                     if k != "id"})
                      for _line, changes in chunk})
        db.session.commit()


def _apply_opening_stock(actor, job_id, runner, result):
    """Each store's levels set to the file's quantities, as shelf counts through the ledger."""
    rows = [(line, row, "created") for line, row in result.create] + \
        [(line, row, "updated") for line, row in result.update]
    by_store = {}
    for line, row, _how in rows:
        by_store.setdefault(row["store_id"], []).append(row)
    for store_id, lines in sorted(by_store.items()):
        for chunk in _chunks(lines, ledger.MAX_COUNT_LINES):
            counts = [{"product_id": r["product_id"], "quantity": r["quantity"],
                       **{k: r[k] for k in ("expires_on", "batch_code") if r.get(k)}}
                      for r in chunk]
            # The ledger commits on its own: check ownership just before, note progress after.
            _progress(job_id, runner, 0)
            db.session.commit()
            _count(actor, store_id, counts)
            _progress(job_id, runner, len(chunk))
            db.session.commit()


def _count(actor, store_id, counts):
    """The one call into the ledger (kept in one place while the ledger's calling shape moves).

    No idempotency key: a count sets the level, so running a chunk again changes nothing, and
    a retried job re-plans (its chunks then differ, which a reused key would refuse).
    """
    count = commands.Count.parse(store_id=store_id, counts=counts, note="opening stock (import)")
    return handle(actor, commands.OpeningStock(count.store_id, count.lines, count.note))


def _snapshot(values):
    return {k: (None if v is None else v if isinstance(v, (bool, int)) else str(v))
            for k, v in values.items() if k not in ("created_at", "updated_at")}


def _audit_chunk(conn, actor, job_id, how, products):
    """One audit event per chunk (product id → the values written), not one per row: 50,000
    rows would otherwise be 50,000 events for the drain to carry."""
    if products:
        audit.record(conn, actor, "product.import", "import_job", job_id,
                     after={how: products})


# ---------------------------------------------------------------------------------------------
# Reading jobs


def _job(job_id, user):
    job = db.session.get(ImportJob, str(job_id)[:36])
    if job is None or (job.user_id != user.id and not policy.can(user, "imports.view_all_jobs")):
        raise NotFound("Import")
    return job


def get_job(job_id, user):
    """A job the user started (admins see every job), reloaded from the database."""
    job = _job(job_id, user)
    db.session.refresh(job)
    return job


def status(job_id, user):
    """Progress and per-row results (the refused rows) as JSON-ready data."""
    job = get_job(job_id, user)
    data = status_dict(job)
    db.session.commit()
    return data


def status_dict(job):
    return {
        "job_id": job.id, "kind": job.kind, "filename": job.filename, "status": job.status,
        "dry_run": job.status == "checked", "total": job.total, "processed": job.processed,
        "percent": 100 if job.status == "done" else
        (int(job.processed * 100 / job.total) if job.total else 0),
        "created": job.created, "updated": job.updated, "unchanged": job.unchanged,
        "refused": job.refused, "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "refusals": [{k: r[k] for k in ("line", "column", "code", "message")}
                     for r in (job.refusals or [])],
    }


def refused_rows(job):
    """The refused rows as a CSV table: line, column, reason, then the row as it was."""
    yield ["line", "column", "code", "reason", "row…"]
    for r in job.refusals or []:
        yield [r["line"], r["column"], r["code"], r["message"], *r.get("row", [])]


def recent_jobs(user, limit=10):
    return db.session.scalars(select(ImportJob).where(ImportJob.user_id == user.id)
                              .order_by(ImportJob.created_at.desc()).limit(limit)).all()
