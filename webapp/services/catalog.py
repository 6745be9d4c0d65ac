"""Products, stores and suppliers: validation, uniqueness and their audit events."""
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import PACK_NAMES, UNITS, Product, Store, Supplier
from webapp.services import audit, transaction
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.ledger import batches
from webapp.services.validation import (
    parse_barcode,
    parse_id,
    parse_money,
    parse_quantity,
    parse_sku,
    parse_store_code,
    parse_text,
)

PRODUCT_FIELDS = ("sku", "name", "category", "unit", "barcode", "sale_price", "cost",
                  "reorder_level", "archived", "preferred_supplier_id", "pack_size",
                  "pack_price", "pack_name", "tracks_expiry")
STORE_FIELDS = ("code", "name", "city", "address", "phone", "active", "allow_negative_stock",
                "opening_float", "expiry_warning_days")
# A store's expiry warning window, in days (0: flag expired stock only).
MAX_EXPIRY_WARNING_DAYS = 90
SUPPLIER_FIELDS = ("name", "phone", "notes", "active")


def _duplicate_sku():
    return Conflict("duplicate_sku", N_("Another product has this SKU or barcode."), field="sku")


def _duplicate_code():
    return Conflict("duplicate_code", N_("Another store already has this code."), field="code")


def _bool(value, field):
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "on", "yes", 1):
        return True
    if value in ("0", "false", "off", "no", 0, "", None):
        return False
    raise DomainError("invalid", N_("Must be true or false."), field=field)


def _snapshot(obj, fields):
    return {f: (None if getattr(obj, f) is None else
                getattr(obj, f) if isinstance(getattr(obj, f), (bool, int)) else
                str(getattr(obj, f))) for f in fields}


def _unknown(data, fields):
    extra = set(data) - set(fields)
    if extra:
        raise DomainError("invalid", f"Unknown field: {sorted(extra)[0]}.", field=sorted(extra)[0])


# --- products ---------------------------------------------------------------------------------

def _clean_product(data, creating):
    _unknown(data, PRODUCT_FIELDS)
    clean = {}
    if creating or "sku" in data:
        clean["sku"] = parse_sku(data.get("sku"))
    if creating or "name" in data:
        clean["name"] = parse_text(data.get("name"), "name", "Name", 200, required=True)
    if "category" in data or creating:
        clean["category"] = parse_text(data.get("category"), "category", "Category", 80)
    if "unit" in data or creating:
        unit = data.get("unit") or "piece"
        if unit not in UNITS:
            raise DomainError("invalid", N_("Unit must be one of: %(units)s.",
                                            units=", ".join(UNITS)), field="unit")
        clean["unit"] = unit
    if "barcode" in data:
        clean["barcode"] = parse_barcode(data.get("barcode"))
    if creating or "sale_price" in data:
        clean["sale_price"] = parse_money(data.get("sale_price"), "sale_price", "Sale price",
                                          required=True)
    if "cost" in data:
        clean["cost"] = parse_money(data.get("cost"), "cost", "Cost")
    if "reorder_level" in data:
        value = data.get("reorder_level")
        clean["reorder_level"] = 0 if value in (None, "") else parse_quantity(
            value, "reorder_level", allow_zero=True, label="Reorder level")
    if "archived" in data:
        clean["archived"] = _bool(data["archived"], "archived")
    if "preferred_supplier_id" in data:
        value = data.get("preferred_supplier_id")
        supplier_id = None if value in (None, "") else parse_id(
            value, "preferred_supplier_id", "Supplier")
        if supplier_id is not None and db.session.get(Supplier, supplier_id) is None:
            raise NotFound("Supplier", field="preferred_supplier_id")
        clean["preferred_supplier_id"] = supplier_id
    if "pack_size" in data:
        value = data.get("pack_size")
        clean["pack_size"] = 1 if value in (None, "") else parse_quantity(
            value, "pack_size", label="Pack size")
    if "pack_price" in data:
        clean["pack_price"] = parse_money(data.get("pack_price"), "pack_price", "Pack price")
    if "pack_name" in data:
        name = data.get("pack_name") or None
        if name is not None and name not in PACK_NAMES:
            raise DomainError("invalid", N_("Pack name must be one of: %(names)s.",
                                            names=", ".join(PACK_NAMES)), field="pack_name")
        clean["pack_name"] = name
    if "tracks_expiry" in data:
        clean["tracks_expiry"] = _bool(data["tracks_expiry"], "tracks_expiry")
    return clean


def clean_product(data, creating):
    """A product's fields checked by the same rules as the forms and the API (for imports)."""
    return _clean_product(data, creating)


def _check_product_unique(clean, product_id=None):
    if "sku" in clean:
        query = select(Product.id).where(func.lower(Product.sku) == clean["sku"].lower())
        if product_id:
            query = query.where(Product.id != product_id)
        if db.session.execute(query).first():
            raise Conflict("duplicate_sku", N_("Another product already has this SKU."), field="sku")
    if clean.get("barcode"):
        query = select(Product.id).where(Product.barcode == clean["barcode"])
        if product_id:
            query = query.where(Product.id != product_id)
        if db.session.execute(query).first():
            raise Conflict("duplicate_barcode", N_("Another product already has this barcode."),
                           field="barcode")


def _unique(conflict, write):
    """Run write(); a unique index that refuses it (a concurrent writer, or SQLite's ASCII-only
    lower() letting a duplicate past the pre-check) becomes the 409 `conflict` gives."""
    try:
        write()
    except IntegrityError:
        db.session.rollback()
        if conflict is None:
            raise
        raise conflict() from None


def _save(actor, obj, kind, fields, clean, duplicate=None):
    """Apply clean values to a new or loaded row, audit the change with before/after, commit."""
    creating = obj.id is None
    before = None if creating else _snapshot(obj, fields)
    for field, value in clean.items():
        setattr(obj, field, value)
    db.session.add(obj)
    _unique(duplicate, db.session.flush)
    audit.record(db.session.connection(), actor, f"{kind}.{'create' if creating else 'update'}",
                 kind, obj.id, before=before, after=_snapshot(obj, fields))
    _unique(duplicate, transaction.commit)
    return obj


def _get(model, label, object_id):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(label)
    return obj


def create_product(actor, data):
    """A new product; without `tracks_expiry` it takes its category's (batches.category_default)."""
    clean = _clean_product(data, creating=True)
    _check_product_unique(clean)
    if "tracks_expiry" not in clean:
        clean["tracks_expiry"] = batches.category_default(db.session.connection(),
                                                          clean["category"])
    return _save(actor, Product(), "product", PRODUCT_FIELDS, clean, _duplicate_sku)


def update_product(actor, product_id, data):
    product = get_product(product_id)
    clean = _clean_product(data, creating=False)
    _check_product_unique(clean, product.id)
    if clean.get("tracks_expiry") and not product.tracks_expiry:
        batches.check_can_track(db.session.connection(), product.id)
    return _save(actor, product, "product", PRODUCT_FIELDS, clean, _duplicate_sku)


def get_product(product_id):
    return _get(Product, "Product", product_id)


# --- stores -----------------------------------------------------------------------------------

def _clean_store(data, creating):
    _unknown(data, STORE_FIELDS)
    clean = {}
    if creating or "code" in data:
        clean["code"] = parse_store_code(data.get("code"))
    if creating or "name" in data:
        clean["name"] = parse_text(data.get("name"), "name", "Name", 120, required=True)
    for field, label, size in (("city", "City", 80), ("address", "Address", 300),
                               ("phone", "Phone", 40)):
        if creating or field in data:
            clean[field] = parse_text(data.get(field), field, label, size)
    for field in ("active", "allow_negative_stock"):
        if field in data:
            clean[field] = _bool(data[field], field)
    if data.get("opening_float") not in (None, ""):
        clean["opening_float"] = parse_money(data["opening_float"], "opening_float",
                                             "Opening float")
    if data.get("expiry_warning_days") not in (None, ""):
        clean["expiry_warning_days"] = parse_warning_days(data["expiry_warning_days"])
    return clean


def parse_warning_days(value):
    """A store's expiry warning window: a whole number of days from 0 to 90."""
    text = str(value).strip() if not isinstance(value, bool) else ""
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    elif text.isdigit():
        days = int(text)
    else:
        days = None
    if days is None or not 0 <= days <= MAX_EXPIRY_WARNING_DAYS:
        raise DomainError("invalid", N_("Warn between 0 and %(days)s days before expiry.",
                                        days=MAX_EXPIRY_WARNING_DAYS),
                          field="expiry_warning_days")
    return days


def _check_store_code(clean, store_id=None):
    if "code" in clean:
        query = select(Store.id).where(Store.code == clean["code"])
        if store_id:
            query = query.where(Store.id != store_id)
        if db.session.execute(query).first():
            raise Conflict("duplicate_code", N_("Another store already has this code."), field="code")


def create_store(actor, data):
    clean = _clean_store(data, creating=True)
    _check_store_code(clean)
    return _save(actor, Store(), "store", STORE_FIELDS, clean, _duplicate_code)


def update_store(actor, store_id, data):
    store = get_store(store_id)
    clean = _clean_store(data, creating=False)
    _check_store_code(clean, store.id)
    return _save(actor, store, "store", STORE_FIELDS, clean, _duplicate_code)


def get_store(store_id):
    return _get(Store, "Store", store_id)


# --- suppliers --------------------------------------------------------------------------------

def _clean_supplier(data, creating):
    _unknown(data, SUPPLIER_FIELDS)
    clean = {}
    if creating or "name" in data:
        clean["name"] = parse_text(data.get("name"), "name", "Name", 120, required=True)
    if creating or "phone" in data:
        clean["phone"] = parse_text(data.get("phone"), "phone", "Phone", 40)
    if creating or "notes" in data:
        clean["notes"] = parse_text(data.get("notes"), "notes", "Notes", 2000)
    if "active" in data:
        clean["active"] = _bool(data["active"], "active")
    return clean


def create_supplier(actor, data):
    return _save(actor, Supplier(), "supplier", SUPPLIER_FIELDS,
                 _clean_supplier(data, creating=True))


def get_supplier(supplier_id):
    return _get(Supplier, "Supplier", supplier_id)


def update_supplier(actor, supplier_id, data):
    supplier = get_supplier(supplier_id)
    return _save(actor, supplier, "supplier", SUPPLIER_FIELDS,
                 _clean_supplier(data, creating=False))
