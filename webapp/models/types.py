"""Column types shared by the models."""
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Integer, Numeric
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")

Money = Numeric(12, 2, asdecimal=True)
Quantity = Numeric(14, 3, asdecimal=True)
# Sums kept over a table's life (the daily summary, the roll-ups): room for the largest sum the
# bounds allow (services/validation.py). One movement carries at most Rs 9,999,999,999.99 and
# 1,000,000,000 units; a summary row adds up one day or month of one store, product or type,
# and even the chain's whole month stays under 10^9 movements (the SPEC's scale is a few
# hundred million a year), so a row stays under 10^19 rupees and 10^18 units: 20 and 19 digits
# before the point. (Its movement counts stay under 10^9, inside an INTEGER.)
SumMoney = Numeric(22, 2, asdecimal=True)
SumQuantity = Numeric(22, 3, asdecimal=True)
# A store's stock value: levels (at most 10^10 units) × costs (at most 10^10 rupees), added up
# over up to 10^7 products: 28 digits before the point.
StockValue = Numeric(30, 2, asdecimal=True)

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
