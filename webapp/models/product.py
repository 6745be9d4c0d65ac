"""The product catalog."""
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, false, func

from webapp.extensions import db
from webapp.models.types import Money, Quantity, UTCDateTime, utcnow

UNITS = ("piece", "kg", "g", "litre", "ml", "pack", "dozen")
# What a product's pack is called on the receipt ("1 carton (12)"); none: "pack".
PACK_NAMES = ("pack", "carton", "box", "bag", "tray")
# Units that are only ever sold whole.
WHOLE_UNITS = ("piece", "pack")


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        # SKUs are compared case-insensitively: one functional unique index does it.
        Index("uq_products_sku_lower", func.lower("sku"), unique=True),
        Index("ix_products_category", "category"),
        CheckConstraint(f"unit IN {UNITS!r}", name="unit_known"),
        CheckConstraint("sale_price >= 0", name="sale_price_not_negative"),
        CheckConstraint("pack_size > 0", name="pack_size_positive"),
    )

    id = Column(Integer, primary_key=True)
    sku = Column(String(64), nullable=False)
    name = Column(String(200), nullable=False)
    category = Column(String(80), nullable=False, default="")
    unit = Column(String(10), nullable=False, default="piece")
    barcode = Column(String(64), unique=True)
    sale_price = Column(Money, nullable=False)
    cost = Column(Money)
    reorder_level = Column(Quantity, nullable=False, default=0)
    archived = Column(Boolean, nullable=False, default=False)
    # How it is bought: from whom by default, in packs of how many units, at what cost last time.
    preferred_supplier_id = Column(Integer, ForeignKey("suppliers.id"), index=True)
    pack_size = Column(Quantity, nullable=False, default=1, server_default="1")
    last_cost = Column(Money)
    # How it may be sold whole at the counter (services/basket.py): a product with a pack size
    # above 1 sells `packs` at pack_price each (none: pack_size × sale_price); stock is always
    # kept in `unit`. pack_name is one of PACK_NAMES (none: "pack").
    pack_price = Column(Money)
    pack_name = Column(String(10))
    # Whether its stock is kept in batches with an expiry date (models/batch.py): every stock-in
    # names the date, and sales, removals and transfers take the batch that expires first.
    tracks_expiry = Column(Boolean, nullable=False, default=False, server_default=false())
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<Product {self.sku}>"
