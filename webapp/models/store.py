"""Stores (shops) and suppliers."""
from sqlalchemy import Boolean, Column, Integer, Numeric, String, Text

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Store(db.Model):
    __tablename__ = "stores"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    name = Column(String(120), nullable=False)
    city = Column(String(80), nullable=False, default="")
    address = Column(String(300), nullable=False, default="")
    phone = Column(String(40), nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)
    allow_negative_stock = Column(Boolean, nullable=False, default=False)
    # Counter settings: how long a shopkeeper may void their own sale, and how far below the
    # product's price they may sell (managers are not limited).
    void_window_minutes = Column(Integer, nullable=False, default=15)
    max_discount_percent = Column(Numeric(5, 2, asdecimal=True), nullable=False, default=0)
    # The cash in the drawer when the day opens: the daily closing's starting point.
    opening_float = Column(Numeric(12, 2, asdecimal=True), nullable=False, default=0)
    # Batches expiring within this many days are flagged on the store page, listed under
    # Expiring and told once a day as stock.expiring (services/expiry.py).
    expiry_warning_days = Column(Integer, nullable=False, default=7)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<Store {self.code}>"


class Supplier(db.Model):
    __tablename__ = "suppliers"

    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    phone = Column(String(40), nullable=False, default="")
    notes = Column(Text, nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
