"""What a door asks the ledger to do: one small frozen command per stock operation.

A door (a page form, an API body, a sync item) builds the command once with `parse`, which
turns raw values into checked, typed ones and raises DomainError naming the field otherwise;
the ledger then checks the rules that depend on the operation or the database, and writes.

Each operation's fields are declared here and nowhere else. Their annotations carry the
JSON constraints, so the API's request models are built from them (api/spec.body_model),
the ledger hashes a command's own fields for idempotency, and a sync item is stored as its
command's data (`dump`) and read back without being checked again (`load`). Where what a door
sends is not the command's own shape (a basket's lines before they are priced, a count by note),
a `...Request` dataclass beside the command declares it, with the same field types; a rule
across a request's fields is its `check`, which the parser and the API's model both call.
"""
import types
import typing
import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from webapp.models import (
    ADJUSTMENT_REASONS,
    LANGUAGES,
    PAYMENT_METHODS,
    RECEIVE_METHODS,
    REMOVAL_REASONS,
)
from webapp.services import basket
from webapp.services.errors import N_, DomainError
from webapp.services.payments import MAX_PAYMENTS
from webapp.services.validation import (
    EXPIRY_YEARS,
    MAX_BATCH_CODE,
    MAX_MONEY,
    MAX_QUANTITY,
    check_value,
    number_text,
    parse_batch_code,
    parse_datetime,
    parse_expiry,
    parse_id,
    parse_money,
    parse_product_lines,
    parse_quantity,
    parse_text,
)

RECORDABLE_TYPES = ("stock_in", "sale", "removal", "adjustment")
MAX_COUNT_LINES = 1000
MAX_SALE_LINES = basket.MAX_LINES
MAX_ORDER_LINES = 500         # a purchase order, and so a delivery against it
MAX_NOTE = 500
MAX_NAME = 120                # a customer's name
MAX_PHONE = 40                # a phone as typed, before it is normalised to +92…
# Pakistani notes counted one by one at the closing, then the coins as one amount.
NOTES = (5000, 1000, 500, 100, 50, 20, 10)
MAX_NOTE_COUNT = 100_000


# ---------------------------------------------------------------------------------------------
# Field types: what JSON may send (pydantic reads the metadata; the dataclasses ignore it)

# Ids in JSON bodies are strict integers: "5" or true is a type error, not id 5.
Id = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]


def _plain_number(value):
    """Numbers as text are read by the one parser pages and sync use (services/validation):
    ۱٫۵ and 1,5 are 1.5; 1,500 and 1e2 are refused with a message that says what to write."""
    if isinstance(value, str):
        try:
            return number_text(value)
        except DomainError as error:
            raise ValueError(error.message) from None
    return value


# The constraints come before the text reader so that pydantic checks them in its decimal
# validator (Rust) rather than in Python functions after it: same refusals, 40 % less time.
Quantity = Annotated[Decimal, Field(ge=0, le=MAX_QUANTITY, decimal_places=3, allow_inf_nan=False,
                                    description="Up to 3 decimals (loose goods by the kg)."),
                     BeforeValidator(_plain_number)]
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2, allow_inf_nan=False,
                                 description="PKR with up to 2 decimals."),
                  BeforeValidator(_plain_number)]
Note = Annotated[str | None, Field(max_length=MAX_NOTE)]
ExpiresOn = Annotated[date | None, Field(
    ge=date(EXPIRY_YEARS[0], 1, 1), le=date(EXPIRY_YEARS[1], 12, 31),
    description="A batch's expiry date (a product that tracks expiry): a stock-in's (needed), "
                "a removal's batch (reason expired or damaged), a count's date.")]
BatchCode = Annotated[str | None, Field(max_length=MAX_BATCH_CODE, description=(
    "The batch code printed beside the date, where two batches share one."))]


def _described(kind, description):
    return Annotated[kind, Field(description=description)]


def _lines(line, most):
    """A list of request lines: at least one, at most `most`."""
    return Annotated[list[line], Field(min_length=1, max_length=most)]


def _lines_request(name, doc, line, most, field="lines"):
    """A request that is lines and a note (the operation's own id is in the URL)."""
    return dataclasses.make_dataclass(
        name, [(field, _lines(line, most)), ("note", Note, None)], frozen=True,
        namespace={"__doc__": doc, "__module__": __name__})


ClientTime = _described(datetime | None, "Client time; Pakistan time when it has no offset.")
Method = Literal[RECEIVE_METHODS]


class _Command:
    """dump/load for storing a checked command as JSON data and reading it back as it was."""

    def dump(self):
        """The command as JSON-ready data (decimals and times as text, None left out)."""
        return {name: (value.isoformat() if isinstance(value, (datetime, date)) else
                       str(value) if isinstance(value, Decimal) else value)
                for name, value in vars(self).items() if value is not None}

    @classmethod
    def load(cls, data):
        """A command from dump()'s data: it was checked when built, so it is only retyped."""
        kinds = _kinds(cls)
        return cls(**{name: _retype(kinds[name], value) for name, value in data.items()})


def _kinds(cls):
    kinds = cls.__dict__.get("_kind_cache")
    if kinds is None:
        kinds = {name: _base(hint) for name, hint in
                 typing.get_type_hints(cls, include_extras=True).items()}
        cls._kind_cache = kinds
    return kinds


def _base(hint):
    """The plain type under Annotated[...] and `X | None`."""
    while True:
        if typing.get_origin(hint) is Annotated:
            hint = typing.get_args(hint)[0]
        elif isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        else:
            return hint


def _retype(kind, value):
    if value is None:
        return None
    if kind is Decimal:
        return Decimal(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


def _unknown(cls, raw):
    unknown = sorted(raw.keys() - _kinds(cls).keys())
    if unknown:
        raise DomainError("invalid", f"Unknown field: {', '.join(unknown)}.", field=unknown[0])


def _batch(raw, prefix=""):
    """expires_on and batch_code when a door sent them (nothing to parse on a plain sale)."""
    expires_on, code = raw.get("expires_on"), raw.get("batch_code")
    if expires_on is None and code is None:
        return {}
    return {"expires_on": parse_expiry(expires_on, prefix + "expires_on"),
            "batch_code": parse_batch_code(code, prefix + "batch_code") or None}


def _optional_id(value, field, label):
    return parse_id(value, field, label) if value is not None else None


# ---------------------------------------------------------------------------------------------
# The commands


@dataclass(frozen=True)
class Movement(_Command):
    """A stock_in, sale, removal or adjustment of one product in one store.

    For an adjustment, `quantity` is what is on the shelf and `expected` what the level was
    when the count began (default: the level now).
    """

    store_id: Id
    type: Literal[RECORDABLE_TYPES]
    quantity: _described(Quantity, "More than zero; for an adjustment, the shelf count.")
    product_id: _described(Id | None, "Give product_id or sku.") = None
    sku: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    expected: _described(Quantity | None, "Adjustment: the level when the count began "
                                          "(default: the level now).") = None
    reason: Literal[REMOVAL_REASONS + ADJUSTMENT_REASONS] | None = None
    note: Note = None
    unit_price: Money | None = None
    unit_cost: Money | None = None
    supplier_id: Id | None = None
    occurred_at: ClientTime = None
    # Not fields: a movement that names a batch is a DatedMovement (below), so a plain one (a
    # sale) is built, hashed and stored as it was before batches existed.
    expires_on = None
    batch_code = None

    @classmethod
    def parse(cls, **raw):
        """A checked movement from raw values (form text, JSON values); DomainError if not:
        a DatedMovement when it names a batch (expires_on, batch_code)."""
        _unknown(DatedMovement, raw)
        type = raw.get("type")
        if type not in RECORDABLE_TYPES:
            raise DomainError("invalid", f"Type must be one of: {', '.join(RECORDABLE_TYPES)}.",
                              field="type")
        store_id = parse_id(raw.get("store_id"), "store_id", "Store")
        product_id, sku = raw.get("product_id"), raw.get("sku")
        if product_id is None and not sku:
            raise DomainError("invalid", N_("Give a product_id or a sku."), field="product_id")
        product_id = _optional_id(product_id, "product_id", "Product")
        is_count = type == "adjustment"
        expected = raw.get("expected")
        command = cls(
            store_id=store_id, type=type, product_id=product_id,
            sku=parse_text(sku, "sku", "SKU", 64) if product_id is None else None,
            quantity=parse_quantity(raw.get("quantity"), allow_zero=is_count),
            expected=parse_quantity(expected, "expected", allow_zero=True,
                                    label="Expected quantity")
            if is_count and expected is not None else None,
            reason=raw.get("reason") or None,
            note=parse_text(raw.get("note"), "note", "Note", MAX_NOTE),
            unit_price=parse_money(raw.get("unit_price"), "unit_price", "Unit price"),
            unit_cost=parse_money(raw.get("unit_cost"), "unit_cost", "Unit cost"),
            supplier_id=_optional_id(raw.get("supplier_id"), "supplier_id", "Supplier"),
            occurred_at=parse_datetime(raw.get("occurred_at")))
        if "expires_on" in raw or "batch_code" in raw:
            batch = _batch(raw)
            if batch:
                command = DatedMovement(**vars(command), **batch)
        # Bounds at the door (validation.MAX_MONEY): the value of what was typed. The ledger
        # checks a value worked out from the product's own price or cost where it is known.
        check_value(command.quantity, command.unit_price, "unit_price",
                    N_("Quantity × unit price"))
        check_value(command.quantity, command.unit_cost, "unit_cost",
                    N_("Quantity × unit cost"))
        return command

    @classmethod
    def load(cls, data):
        """dump()'s data read back: a DatedMovement when it names a batch."""
        if cls is Movement and ("expires_on" in data or "batch_code" in data):
            return DatedMovement.load(data)
        return super().load(data)


@dataclass(frozen=True)
class DatedMovement(Movement):
    """A movement that names a batch of a product that tracks expiry: a stock-in's date (and
    code), the batch an expired or damaged removal takes, a count's date. The API's body is
    this one's fields; Movement.parse makes one only when a date or code is given."""

    expires_on: ExpiresOn = None
    batch_code: BatchCode = None


@dataclass(frozen=True)
class Transfer(_Command):
    """Stock sent from one store to another, as a linked transfer_out + transfer_in."""

    from_store_id: Id
    to_store_id: Id
    product_id: Id
    quantity: Quantity
    note: Note = None

    @classmethod
    def parse(cls, **raw):
        """A checked transfer from raw values; DomainError if not."""
        _unknown(cls, raw)
        from_store_id = parse_id(raw.get("from_store_id"), "from_store_id", "From store")
        to_store_id = parse_id(raw.get("to_store_id"), "to_store_id", "To store")
        product_id = parse_id(raw.get("product_id"), "product_id", "Product")
        if from_store_id == to_store_id:
            raise DomainError("invalid", N_("Choose two different stores."), field="to_store_id")
        return cls(from_store_id=from_store_id, to_store_id=to_store_id, product_id=product_id,
                   quantity=parse_quantity(raw.get("quantity")),
                   note=parse_text(raw.get("note"), "note", "Note", MAX_NOTE))


@dataclass(frozen=True)
class BatchCount:
    """What is on the shelf of one batch (one expiry date, and code) of a tracked product."""

    expires_on: _described(date, "The batch's expiry date.")
    quantity: _described(Quantity, "What is on the shelf of this batch.")
    batch_code: BatchCode = None


MAX_BATCH_COUNTS = 100


@dataclass(frozen=True)
class CountLine:
    product_id: Id
    quantity: _described(Quantity, "What is on the shelf.")
    expected: _described(Quantity | None, "The level when the count began.") = None
    # A product that tracks expiry: an upward difference goes into this date's batch (without
    # one: the batch that expires last), a downward one comes out of it.
    expires_on: ExpiresOn = None
    batch_code: BatchCode = None
    # Or counted date by date (a product with more than one batch): every batch on the shelf,
    # adding up to `quantity`; a batch not listed is counted as none left.
    batches: _described(Annotated[list[BatchCount] | None, Field(max_length=MAX_BATCH_COUNTS)],
                        "Counted per expiry date: each batch's quantity (they add up to "
                        "quantity).") = None


CountRequest = _lines_request("CountRequest", "A count as a door sends it.", CountLine,
                              MAX_COUNT_LINES, field="counts")


@dataclass(frozen=True)
class Count:
    """A shelf count of one store: per product what is there and what the page expected."""

    store_id: int
    lines: tuple  # of CountLine, one per product, by product id
    note: str = ""

    @classmethod
    def parse(cls, store_id=None, counts=None, note=None):
        """A checked count from [{product_id, quantity, expected?}]; DomainError if not."""
        store_id = parse_id(store_id, "store_id", "Store")
        note = parse_text(note, "note", "Note", MAX_NOTE)
        lines = {}
        for i, pid, line in parse_product_lines(
                counts, "counts", MAX_COUNT_LINES, N_("Enter at least one count."),
                N_("At most %(count)s lines in one count.", count=MAX_COUNT_LINES),
                N_("Each count needs a product_id and a quantity."),
                N_("A product is counted twice."), lines):
            expected = line.get("expected")
            lines[pid] = CountLine(
                pid, parse_quantity(line.get("quantity"), f"counts.{i}.quantity",
                                    allow_zero=True, label="Counted quantity"),
                parse_quantity(expected, f"counts.{i}.expected", allow_zero=True,
                               label="Expected quantity")
                if expected is not None and expected != "" else None,
                **_batch(line, f"counts.{i}."))
            if line.get("batches") is not None:
                lines[pid] = dataclasses.replace(lines[pid], batches=_batch_counts(
                    line["batches"], lines[pid].quantity, f"counts.{i}."))
        return cls(store_id, tuple(lines[pid] for pid in sorted(lines)), note)


def _batch_counts(raw, total, prefix):
    """A count line's per-date counts as ((expires_on, batch_code or "", quantity), …), each
    date and code once, adding up to the line's quantity."""
    field = prefix + "batches"
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_BATCH_COUNTS:
        raise DomainError("invalid", N_("Batches must be a list of at most %(n)s dates.",
                                        n=MAX_BATCH_COUNTS), field=field)
    counted = {}
    for j, entry in enumerate(raw):
        entry = vars(entry) if isinstance(entry, BatchCount) else entry
        if not isinstance(entry, dict):
            raise DomainError("invalid", N_("Each batch needs an expiry date and a quantity."),
                              field=f"{field}.{j}")
        day = parse_expiry(entry.get("expires_on"), f"{field}.{j}.expires_on")
        if day is None:
            raise DomainError("invalid", N_("Give the expiry date of the batch."),
                              field=f"{field}.{j}.expires_on")
        key = (day, parse_batch_code(entry.get("batch_code"), f"{field}.{j}.batch_code"))
        if key in counted:
            raise DomainError("invalid", N_("A batch is counted twice."),
                              field=f"{field}.{j}.expires_on")
        counted[key] = parse_quantity(entry.get("quantity"), f"{field}.{j}.quantity",
                                      allow_zero=True, label="Counted quantity")
    if sum(counted.values(), Decimal(0)) != total:
        raise DomainError("invalid", N_("The batches add up to %(sum)s, not the %(total)s "
                                        "counted.", sum=f"{sum(counted.values()):f}",
                                        total=f"{total:f}"), field=field)
    return tuple((day, code, q) for (day, code), q in sorted(counted.items()))


@dataclass(frozen=True)
class OpeningStock(Count):
    """An import's opening stock for one store: the file's quantities as shelf counts
    (services/imports.py applies a job through it, a chunk at a time)."""


@dataclass(frozen=True)
class CountReview:
    """Apply a store's count as reviewed on the page (services/count_drafts.py): `version`
    names the lines that were on the screen."""

    store_id: int
    version: str
    note: str = ""

    @classmethod
    def parse(cls, store_id=None, version=None, note=None):
        """A checked review from raw values; DomainError if not."""
        return cls(parse_id(store_id, "store_id", "Store"),
                   parse_text(version, "version", "Version", 64),
                   parse_text(note, "note", N_("Note"), MAX_NOTE))


@dataclass(frozen=True)
class SaleLine:
    """One basket line as services/basket.py reads it: a product (id or SKU), a `value` that
    is a quantity (mode "q") or an amount of money (mode "a"), an optional price override."""

    index: int
    product_id: int | None
    sku: str | None
    mode: str
    value: Decimal
    unit_price: Decimal | None


@dataclass(frozen=True)
class SaleLineRequest:
    """One basket line as a door sends it (API body, offline queue item); basket.py reads it."""

    product_id: _described(Id | None, "Give product_id or sku.") = None
    sku: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    quantity: _described(Quantity | None, "Give quantity, amount or packs.") = None
    amount: _described(Money | None, "Sell by amount (loose goods): the quantity is amount ÷ "
                                     "price, rounded to the unit.") = None
    packs: _described(Quantity | None, "Whole packs of a product whose pack_size is above 1: "
                                       "the ledger takes packs × pack_size units; the line's "
                                       "total is packs × pack_price (none: packs × pack_size × "
                                       "sale_price). No unit_price with packs.") = None
    unit_price: _described(Money | None, "Price override; a shopkeeper may go at most the "
                                         "store's max_discount_percent below the product's "
                                         "price.") = None

    # A product, and packs or else one of quantity and amount.
    check = staticmethod(basket.check_line)


@dataclass(frozen=True)
class PaymentRequest:
    """One way a sale is paid (services/payments.py reads them)."""

    method: _described(Literal[PAYMENT_METHODS], "wallet: JazzCash, Easypaisa, bank QR; "
                                                 "credit: udhaar on the customer's khata.")
    amount: Money


@dataclass(frozen=True)
class SaleRequest:
    """A basket as a door sends it (sales.parse_sale reads it into a Sale)."""

    store_id: Id
    lines: _lines(SaleLineRequest, MAX_SALE_LINES)
    customer_id: _described(Id | None, "Needed for a credit payment.") = None
    payments: Annotated[_lines(PaymentRequest, MAX_PAYMENTS) | None, Field(
        description="Adding up exactly to the total (else 422 on payments); none: one cash "
                    "payment of the total. Credit past the customer's limit → 409 "
                    "credit_limit_exceeded, nothing written.")] = None
    note: Note = None
    occurred_at: ClientTime = None
    reference: Annotated[str | None, Field(
        min_length=1, max_length=48,
        description="A provisional receipt number the client handed over before the sale "
                    "reached the server (store code, device, sequence: LHR1-A7KX-0042; "
                    "letters, digits, - and _, upper-cased); the sale keeps it, one sale per "
                    "reference in a store (else 409 duplicate_reference).")] = None


@dataclass(frozen=True)
class Sale:
    """A basket completed at the counter, all or nothing (built by sales.parse_sale)."""

    store_id: int
    lines: tuple  # of SaleLine, in the order they were given
    note: str | None = None
    occurred_at: datetime | None = None
    customer_id: int | None = None
    payments: tuple | None = None  # of (method, amount); None: one cash payment of the total
    # The provisional receipt number a phone handed over with no signal ("LHR1-A7KX-0042"),
    # kept as the sale's reference (unique in the store); None for a sale made with signal.
    reference: str | None = None


@dataclass(frozen=True)
class Void:
    """Void a completed sale: everything not yet returned goes back on the shelf."""

    sale_id: int

    @classmethod
    def parse(cls, sale_id=None):
        """A checked void; DomainError if the id is not one."""
        return cls(parse_id(sale_id, "sale_id", "Sale"))


@dataclass(frozen=True)
class ReturnLineRequest:
    product_id: Id
    quantity: Quantity


ReturnRequest = _lines_request("ReturnRequest", "A return as a door sends it.",
                               ReturnLineRequest, MAX_SALE_LINES)


@dataclass(frozen=True)
class Return:
    """A customer return: (product id, quantity) pairs of a sale, each at most what is left."""

    sale_id: int
    lines: tuple  # of (product_id, quantity), in the order they were given
    note: str | None = None

    @classmethod
    def parse(cls, sale_id=None, lines=None, note=None):
        """A checked return from [{product_id, quantity}]; DomainError if not."""
        sale_id = parse_id(sale_id, "sale_id", "Sale")
        wanted = {}
        for i, pid, line in parse_product_lines(
                lines, "lines", MAX_SALE_LINES, N_("Choose at least one line to return."),
                N_("At most %(n)d lines in one sale.", n=MAX_SALE_LINES),
                N_("Each line needs a product and a quantity."),
                N_("A product is listed twice."), wanted):
            wanted[pid] = parse_quantity(line.get("quantity"), f"lines.{i}.quantity")
        return cls(sale_id, tuple(wanted.items()), parse_text(note, "note", "Note", MAX_NOTE))


@dataclass(frozen=True)
class DeliveryLineRequest:
    product_id: Id
    quantity: _described(Quantity, "Units that arrived (more than ordered is allowed and "
                                   "flagged).")
    unit_cost: _described(Money | None, "The invoice's cost of one unit.") = None
    line_id: _described(Id | None, "The order line a substitute product stands in for.") = None
    expires_on: _described(ExpiresOn, "The expiry date on what arrived: needed for a product "
                                      "that tracks expiry.") = None
    batch_code: BatchCode = None


DeliveryRequest = _lines_request("DeliveryRequest", "A delivery as a door sends it.",
                                 DeliveryLineRequest, MAX_ORDER_LINES)


@dataclass(frozen=True)
class Delivery:
    """A supplier's delivery received against a purchase order (built by
    purchasing.parse_delivery): per product the units that arrived, their cost, and the order
    line a substitute counts against."""

    order_id: int
    # of (product_id, quantity, unit_cost, line_id, index, expires_on, batch_code), by product id
    lines: tuple
    note: str | None = None


# ---------------------------------------------------------------------------------------------
# Money: the khata, supplier payments, the daily closing (services/khata.py, payables.py,
# closing.py parse them from a door's raw values and register their handlers)


@dataclass(frozen=True)
class NewCustomer:
    """A customer of a store (phone already normalised to +92…)."""

    store_id: Id
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    phone: Annotated[str | None, Field(max_length=MAX_PHONE, description=(
        "A Pakistani number in any usual form: 0300 1234567, +923001234567."))] = None
    credit_limit: Money | None = None
    language: Literal[LANGUAGES] = "ur"
    note: Note = None


@dataclass(frozen=True)
class CustomerChange:
    """Some of a customer's name, phone, credit limit, language, note: (field, value) pairs
    (a door sends NewCustomer's fields but the store, any of them)."""

    customer_id: int
    fields: tuple


@dataclass(frozen=True)
class CustomerPayment:
    """Money received from a customer, off their khata."""

    customer_id: Id
    amount: _described(Money, "More than zero; at most what the customer owes.")
    method: Method
    note: Note = None


@dataclass(frozen=True)
class SupplierPayment:
    """Money paid by a store to a supplier, off what the store owes."""

    supplier_id: Id
    store_id: Id
    amount: _described(Money, "More than zero; at most what the store owes.")
    method: Method
    note: Note = None


# The count by note as a door sends it: {"5000": how many, …, "coins": amount}.
CashCount = dataclasses.make_dataclass("CashCount", [
    *((f"n{n}", Annotated[int | None, Field(alias=str(n), ge=0, le=MAX_NOTE_COUNT, strict=True,
                                            description=f"How many Rs {n} notes.")], None)
      for n in NOTES),
    ("coins", _described(Money | None, "The coins (and smaller notes), as an amount."), None)],
    frozen=True, namespace={"__module__": __name__})


@dataclass(frozen=True)
class Closing:
    """A store's Pakistan day closed once: the cash counted (and the count by note: a CashCount
    as a door sends it; in the built command, sorted (note, count or coins amount) pairs)."""

    store_id: Id
    counted_cash: _described(Money, "The cash in the drawer.")
    notes: _described(CashCount | None, "The count by note: how many of each, and the coins "
                                        "as an amount; they must add up to counted_cash.") = None
    business_date: _described(date | None, "Default: today in Pakistan.") = None
    note: Note = None
