"""Column types shared by the models."""
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Integer, Numeric
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")

Money = Numeric(12, 2, asdecimal=True)
Quantity = Numeric(14, 3, asdecimal=True)

QUANTITY_PLACES = Decimal("0.001")
MONEY_PLACES = Decimal("0.01")


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware UTC datetime, whatever the engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow():
    return datetime.now(timezone.utc)
