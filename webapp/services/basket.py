"""The basket's lines, read and priced in one place for every door: the counter page, the
phone handing back a basket kept offline (`basket/replace`), the offline queue, the JSON API
and the sale itself. So the bill the page shows is the bill the receipt records and the
reports count (SPEC invariant 7).

A line is a product and either a quantity, an amount in rupees (loose goods: "Rs 100 of
cheeni") or a number of whole packs (a carton of 12). Typed numbers go through the shared parser (services/validation.number_text, via
parse_quantity and parse_money): `1,5`, `١٫٥` and `۱٫۵` are all 1.5 everywhere.

- An amount buys amount ÷ price, rounded to the unit's scale (UNIT_PLACES); the line's total
  is the amount itself: what the customer handed over, what the receipt prints and what the
  sales report counts for that line.
- A quantity's total is quantity × price, rounded half up to the paisa, once.
- Packs: only a product whose pack size is above 1 sells by the pack. The quantity (what the
  ledger takes, always in the product's unit) is packs × pack size; the total is packs × the
  pack price, or packs × size × the unit price when the product has no pack price, rounded half
  up once. A pack line takes no price override (the pack price is the price).
- The bill is the sum of the line totals, never rounded again.

The session, the phone's copy and `basket/replace` keep a line as [product_id, "q" | "a" | "p",
text], the text canonical (ASCII digits, a point, no exponent). `state()` is the serialised
form the page hands static/js/basket.js: the lines with the figures computed here and already
formatted, which the page shows. A line changed with no signal is priced on the phone by
static/js/bill.js with these same rules (`phone_rules`, and each line's price and pack in the
state), in exact integers; tests/js/bill_cases.json holds the cases both must agree on. That
bill is provisional: a queued basket is priced here again when it lands, at the shop's prices.
"""
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from webapp.models import WHOLE_UNITS
from webapp.services.errors import N_, DomainError
from webapp.services.validation import (
    MAX_MONEY,
    MAX_QUANTITY,
    check_value,
    number_text,
    parse_id,
    parse_lines,
    parse_money,
    parse_quantity,
    parse_text,
)

QUANTITY, AMOUNT, PACKS = "q", "a", "p"
MODES = (QUANTITY, AMOUNT, PACKS)
# The request field each mode is given in (API body, offline queue, the page's form).
FIELDS = {QUANTITY: "quantity", AMOUNT: "amount", PACKS: "packs"}
# Units that may also be sold by an amount of money (the page offers the rupees field).
LOOSE_UNITS = ("kg", "g", "litre", "ml")
# How finely each unit is sold when a quantity is worked out from an amount of money.
UNIT_PLACES = {"piece": 0, "pack": 0, "g": 0, "ml": 0, "kg": 3, "litre": 3, "dozen": 3}
MAX_LINES = 200               # one sale (API, sync, the offline queue)
MAX_SESSION_LINES = 40        # the counter page's basket lives in a cookie: well under 4 KB
MAX_TEXT = 20                 # a typed value kept in the session


def canonical(number):
    """A parsed Decimal as the text the session and the phone keep: 1.500 → "1.5", 100 → "100"."""
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def parse_value(mode, value, field):
    """A typed quantity ("q"), amount in rupees ("a") or number of packs ("p") → Decimal
    (DomainError on `field`)."""
    if mode == AMOUNT:
        return parse_money(value, field, N_("Amount"), required=True)
    if mode == PACKS:
        packs = parse_quantity(value, field, label=N_("Packs"))
        if packs != packs.to_integral_value():
            raise DomainError("invalid", N_("Sell whole packs."), field=field)
        return packs
    return parse_quantity(value, field)


def line_total(quantity, price, field="quantity"):
    """quantity × price, rounded half up to the paisa: the one rounding of a line (refused on
    `field` above what one line may carry, validation.check_value)."""
    return check_value(quantity, price, field, N_("Quantity × unit price"))


def bill_total(totals):
    """The bill: the sum of the line totals (each already in paisa; nothing rounded again)."""
    return sum(totals, Decimal(0))


def quantity_for_amount(amount, price, unit, field="amount"):
    """How much `amount` rupees buy at `price` a unit, rounded to the unit's scale."""
    if not price:
        raise DomainError("invalid", N_("This product has no price; sell it by quantity."),
                          field=field)
    places = UNIT_PLACES.get(unit, 3)
    rounding = ROUND_DOWN if places == 0 else ROUND_HALF_UP
    return (amount / price).quantize(Decimal(1).scaleb(-places), rounding)


def phone_rules():
    """The rules static/js/bill.js prices a basket by with no signal (the same constants, so
    none is written twice): each unit's places for an amount, the whole units, the bounds."""
    return {"unit_places": UNIT_PLACES, "whole_units": list(WHOLE_UNITS),
            "max_quantity": str(MAX_QUANTITY), "max_money": str(MAX_MONEY)}


def phone_pack(product):
    """A product's pack as the phone prices it ({size, price, name} as text), or None."""
    pack = pack_of(product)
    return None if pack is None else {
        "size": canonical(pack.size), "name": pack.name,
        "price": None if pack.price is None else str(pack.price)}


@dataclass(frozen=True)
class Priced:
    """One line priced: the quantity sold (in the product's unit), the line's total in rupees,
    and the packs it was sold as (None for a line in units or by amount)."""

    quantity: Decimal
    total: Decimal
    packs: Decimal | None = None


@dataclass(frozen=True)
class Pack:
    """How a product sells whole: `size` units at `price` (None: size × the unit price)."""

    size: Decimal
    price: Decimal | None
    name: str | None = None


def pack_of(product):
    """A product's Pack (an ORM row or a dict with pack_size, pack_price, pack_name), or None
    when its pack size is 1: it does not sell by the pack."""
    get = product.get if isinstance(product, dict) else lambda name: getattr(product, name)
    size = Decimal(get("pack_size") or 1)
    if size <= 1:
        return None
    price = get("pack_price")
    return Pack(size, None if price is None else Decimal(price), get("pack_name"))


def price_line(mode, value, price, unit, field, pack=None):
    """Price one parsed line (`value` a quantity, an amount or packs) at `price` a `unit`
    (`pack`: the product's Pack, needed for a line in packs).

    `field` is the line's field prefix (`lines.<i>`): a refusal names `.amount`, `.quantity`
    or `.packs`.
    """
    if mode == PACKS:
        if pack is None:
            raise DomainError("invalid", N_("This product has no pack size; sell it by "
                                            "quantity."), field=f"{field}.packs")
        quantity = value * pack.size
        if quantity > MAX_QUANTITY:
            raise DomainError("out_of_range", N_("Packs × pack size is more than one line may "
                                                 "sell."), field=f"{field}.packs")
        total = (line_total(value, pack.price, f"{field}.packs") if pack.price is not None
                 else line_total(quantity, price, f"{field}.packs"))
        return Priced(quantity, total, value)
    if mode == AMOUNT:
        quantity = quantity_for_amount(value, price, unit, field=f"{field}.amount")
        if quantity <= 0:
            raise DomainError("invalid", N_("This amount buys less than one %(unit)s.",
                                            unit=unit), field=f"{field}.amount")
        if quantity > MAX_QUANTITY:
            raise DomainError("out_of_range", N_("This amount buys more than one line may sell."),
                              field=f"{field}.amount")
        return Priced(quantity, value)
    if unit in WHOLE_UNITS and value != value.to_integral_value():
        raise DomainError("invalid", N_("This product is sold in whole %(unit)ss.", unit=unit),
                          field=f"{field}.quantity")
    return Priced(value, line_total(value, price, f"{field}.quantity"))


# --- a sale's lines as a request sends them (API body, offline queue item, the page) -----------

def check_line(line, prefix=""):
    """A request line names a product, and packs or else exactly one of quantity and amount;
    DomainError on `prefix` + the field if not. The API's line model asks it too
    (commands.SaleLineRequest.check)."""
    if line.get("product_id") is None and not line.get("sku"):
        raise DomainError("invalid", N_("Give a product_id or a sku."),
                          field=f"{prefix}product_id")
    if line.get("packs") in (None, "") and \
            (line.get("quantity") in (None, "")) == (line.get("amount") in (None, "")):
        raise DomainError("invalid", N_("Give a quantity or an amount, not both."),
                          field=f"{prefix}quantity")


def line_mode(line, prefix=""):
    """Which of quantity ("q"), amount ("a") or packs ("p") a checked request line sells by."""
    check_line(line, prefix)
    given = [mode for mode, name in FIELDS.items() if line.get(name) not in (None, "")]
    if len(given) > 1:  # packs and a quantity or an amount
        raise DomainError("invalid", N_("Give packs or a quantity, not both."),
                          field=f"{prefix}packs")
    return given[0]


def parse_request_lines(lines):
    """[{product_id | sku, quantity | amount | packs, unit_price?}] → checked dicts in request
    order: {index, product_id, sku, mode, value, unit_price} (value parsed, mode "q", "a" or
    "p")."""
    parsed = []
    for i, line in parse_lines(
            lines, "lines", MAX_LINES, N_("Add at least one product to the basket."),
            N_("At most %(n)d lines in one sale.", n=MAX_LINES),
            N_("Each line needs a product and a quantity.")):
        product_id, sku = line.get("product_id"), line.get("sku")
        mode = line_mode(line, f"lines.{i}.")
        name = FIELDS[mode]
        if mode == PACKS and line.get("unit_price") not in (None, ""):
            raise DomainError("invalid", N_("A pack sells at its pack price; give no "
                                            "unit_price."), field=f"lines.{i}.unit_price")
        parsed.append({
            "index": i,
            "product_id": parse_id(product_id, f"lines.{i}.product_id", "Product")
            if product_id is not None else None,
            "sku": parse_text(sku, f"lines.{i}.sku", "SKU", 64) if product_id is None else None,
            "mode": mode,
            "value": parse_value(mode, line[name], f"lines.{i}.{name}"),
            "unit_price": parse_money(line.get("unit_price"), f"lines.{i}.unit_price",
                                      "Unit price"),
        })
    return parsed


def request_lines(entries):
    """Session entries [[product_id, mode, text]] → the lines a sale request sends."""
    return [{"product_id": pid, FIELDS.get(mode, "quantity"): text}
            for pid, mode, text in entries]


# --- the session's basket ----------------------------------------------------------------------

def session_entry(product_id, mode, text, field):
    """One [product_id, mode, canonical text] for the session, or DomainError on `field`."""
    if mode not in MODES:
        raise DomainError("invalid", N_("Give a quantity or an amount, not both."), field=field)
    return [product_id, mode, canonical(parse_value(mode, str(text)[:MAX_TEXT], field))]


def takes_out(text):
    """Whether a typed number is zero or less: Set with 0 takes the line out, as − does."""
    try:
        return Decimal(number_text(text)) <= 0
    except DomainError:
        return False


def step(entry, by):
    """The entry one more (by=1) or one less (by=-1); a line sold by amount (or one whose text
    no longer reads) starts again from one. None when the line goes to nothing."""
    product_id, mode, text = entry
    try:
        current = parse_value(mode, text, "quantity") if mode in (QUANTITY, PACKS) else None
    except DomainError:
        current = None
    new = current + by if current is not None else Decimal(1)
    kept = mode if mode == PACKS and current is not None else QUANTITY
    return [product_id, kept, canonical(new)] if new > 0 else None


def from_phone(wanted, product_of):
    """What the phone hands back (`basket/replace`): [[product_id, mode, text], …] with the text
    as typed (`1,5` and `١٫٥` too). Lines whose product is unknown or archived, whose number is
    not one, or that repeat a product are left out; the rest kept in canonical form."""
    entries, seen = [], set()
    for entry in wanted[:MAX_SESSION_LINES]:
        pid, mode, text = entry
        try:
            kept = session_entry(pid, mode, text, "lines")
        except DomainError:
            continue
        product = product_of(pid) if pid not in seen else None
        if product is None or product.get("archived"):
            continue
        seen.add(pid)
        entries.append(kept)
    return entries


@dataclass
class ShownLine:
    """A session line as the page shows it, priced here (quantity and total None when the line
    cannot be priced: `error` says why)."""

    index: int
    product: dict
    mode: str
    value: str
    price: Decimal
    quantity: Decimal | None
    total: Decimal | None
    error: str | None = None

    @property
    def loose(self):
        return self.product["unit"] in LOOSE_UNITS

    @property
    def pack(self):
        """The product's Pack when it sells by the pack (the page offers a packs field)."""
        return pack_of(self.product)

    @property
    def pack_price(self):
        """What one whole pack costs at this line's price (None: no pack)."""
        pack = self.pack
        return None if pack is None else price_line(PACKS, Decimal(1), self.price,
                                                    self.product["unit"], "packs", pack).total


def show(entries, product_of):
    """The session's lines priced for the page, and the bill: exactly what `complete` will
    record for them (the same parsing, amount → quantity and rounding as the sale)."""
    lines = []
    for i, (pid, mode, text) in enumerate(entries):
        product = product_of(pid)
        if product is None:
            continue
        price = Decimal(product["sale_price"])
        try:
            priced = price_line(mode, parse_value(mode, text, f"lines.{i}"), price,
                                product["unit"], f"lines.{i}", pack_of(product))
        except DomainError as error:
            lines.append(ShownLine(i, product, mode, text, price, None, None, error.message))
            continue
        lines.append(ShownLine(i, product, mode, text, price, priced.quantity, priced.total))
    total = bill_total(line.total for line in lines if line.total is not None)
    return lines, total


def state(key, lines, total, money, quantity_text):
    """The serialised basket the page carries (`data-basket-state`) for static/js/basket.js:
    each line as `complete` would send it, with the figures computed above, formatted by the
    page's own filters (`money`, `quantity_text`). A line or bill without a figure is None."""
    priced = all(line.total is not None for line in lines)
    return {"key": key, "total": str(total) if priced else None,
            "total_text": money(total) if priced else None,
            "lines": [{
                "product_id": line.product["product_id"], "mode": line.mode,
                "value": line.value, "name": line.product["name"],
                "unit": line.product["unit"], "loose": line.loose,
                "price": str(line.price), "price_text": money(line.price),
                "pack": phone_pack(line.product),
                "stock": quantity_text(line.product["quantity"]),
                "quantity": None if line.quantity is None else canonical(line.quantity),
                "total": None if line.total is None else str(line.total),
                "total_text": None if line.total is None else money(line.total),
            } for line in lines]}
