"""Field types and the resource models several endpoint modules share."""
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from webapp.models import MOVEMENT_TYPES, PACK_NAMES, SOURCES, UNITS
from webapp.services.commands import Id, Money, Quantity  # noqa: F401 (re-exported)

# Id, Quantity and Money are the command fields' types (services/commands.py).
QueryId = Annotated[int, Field(ge=1, le=2**31 - 1)]
DecimalText = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$",
                                   description="An exact decimal, as text.")]
Search = Annotated[str, Field(max_length=100)]
Unit = Literal[UNITS]
PackName = Literal[PACK_NAMES]
MovementType = Literal[MOVEMENT_TYPES]
Flag = Annotated[bool, Field(strict=True)]


def _iso_text(value):
    """Dates come as ISO 8601 text only; pydantic would read a bare number as a timestamp."""
    if not isinstance(value, (str, date)) or (isinstance(value, str)
                                              and not ISO_DAY.match(value)):
        raise ValueError("must be an ISO 8601 date or date and time")
    return value


ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
# `from`/`to` filters: a day (Pakistan time) or an exact moment.
DayOrMoment = Annotated[date | datetime, Field(union_mode="left_to_right"),
                        BeforeValidator(_iso_text)]


class Resource(BaseModel):
    """Base of response models: built from ORM objects or the services' dicts."""

    model_config = ConfigDict(from_attributes=True)


class ProductOut(Resource):
    id: int
    sku: str
    name: str
    category: str
    unit: Unit
    barcode: str | None
    sale_price: Decimal
    cost: Decimal | None
    reorder_level: Decimal
    archived: bool
    preferred_supplier_id: int | None = None
    pack_size: Decimal = Decimal(1)
    pack_price: Decimal | None = Field(None, description="Price of one whole pack at the "
                                                         "counter (pack_size above 1).")
    pack_name: PackName | None = None
    tracks_expiry: bool = Field(False, description="Stock kept in batches by expiry date.")
    last_cost: Decimal | None = Field(None, description="Unit cost of the last receipt.")
    created_at: datetime
    updated_at: datetime


class StoreOut(Resource):
    id: int
    code: str
    name: str
    city: str
    address: str
    phone: str
    active: bool
    allow_negative_stock: bool
    opening_float: Decimal = Decimal(0)
    expiry_warning_days: int = Field(7, description="Batches expiring within this many days "
                                                    "are flagged (0: expired only).")
    created_at: datetime
    updated_at: datetime


class SupplierOut(Resource):
    id: int
    name: str
    phone: str
    notes: str
    active: bool
    created_at: datetime
    updated_at: datetime


class LevelOut(Resource):
    store_id: int
    product_id: int
    quantity: DecimalText
    reorder_level: DecimalText
    low: bool = Field(description="At or below the reorder level.")
    negative: bool = Field(description="Below zero (only in stores that allow it).")
    updated_at: datetime | None


class StockRowOut(LevelOut):
    sku: str
    name: str
    unit: Unit
    category: str


class BatchPart(BaseModel):
    expires_on: date | None = Field(description="The batch's expiry date; null: the part no "
                                                "batch covered (sold past the batches).")
    batch_code: str | None = Field(None, description="null when the batch has none.")
    quantity: DecimalText


class MovementOut(Resource):
    id: int
    store_id: int
    product_id: int
    type: MovementType
    quantity: DecimalText
    delta: DecimalText
    balance_after: DecimalText
    reason: str | None
    note: str
    unit_price: DecimalText | None
    unit_cost: DecimalText | None
    supplier_id: int | None
    transfer_id: str | None
    expected_quantity: DecimalText | None
    counted_quantity: DecimalText | None
    user_id: int | None
    source: Literal[SOURCES]
    idempotency_key: str | None
    occurred_at: datetime | None
    created_at: datetime
    batches: list[BatchPart] | None = Field(None, description=(
        "A product that tracks expiry: the batches this movement took from or added to, "
        "the one expiring first first."))
