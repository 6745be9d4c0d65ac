"""The money around the stock: customers and their khata (udhaar book), what each store owes
its suppliers, and the daily cash closing.

Both books are append-only like the stock ledger: an entry is never edited or deleted, a
mistake is corrected by a new entry. `amount` is signed (+ owed more), `balance_after` is the
balance right after the entry, and the owning row (`customers.balance`,
`supplier_balances.balance`) is moved by one guarded UPDATE in the same transaction, whose row
lock serialises every writer of that balance (invariant 8).

Balances, entries and a closing's figures are SumMoney (models/types.py): a balance adds up a
customer's or a supplier's whole history, each part bounded by one sale or receipt
(invariant 10).
"""
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)

from webapp.extensions import db
from webapp.models.types import BigId, Money, SumMoney, UTCDateTime, utcnow

PAYMENT_METHODS = ("cash", "card", "wallet", "credit")
# What a customer or a supplier can be paid with (credit is a sale on the khata, not a payment).
RECEIVE_METHODS = ("cash", "card", "wallet")
CUSTOMER_ENTRY_KINDS = ("sale", "payment", "void", "return")
SUPPLIER_ENTRY_KINDS = ("receipt", "payment")
LANGUAGES = ("ur", "en")


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        # NULL phones do not collide: a customer may have none.
        UniqueConstraint("store_id", "phone"),
        Index("ix_customers_store_balance", "store_id", "balance"),
        # Who owes most over every store (the receivables page): walked backwards, 200 rows
        # read instead of every customer sorted (migration owing_1).
        Index("ix_customers_owing", "balance", "id", postgresql_where=text("balance > 0"),
              sqlite_where=text("balance > 0")),
        CheckConstraint("credit_limit IS NULL OR credit_limit >= 0", name="limit_not_negative"),
    )

    id = Column(Integer, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    name = Column(String(120), nullable=False)
    phone = Column(String(20))  # +92… (services/khata.normalise_phone)
    credit_limit = Column(Money)
    balance = Column(SumMoney, nullable=False, default=0)
    language = Column(String(8), nullable=False, default="ur")
    note = Column(String(500), nullable=False, default="")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class CustomerEntry(db.Model):
    """One line of a customer's khata: + a credit sale, − a payment, a void or a return."""

    __tablename__ = "customer_entries"
    __table_args__ = (
        Index("ix_customer_entries_customer", "customer_id", "id"),
        Index("ix_customer_entries_sale", "sale_id"),
        Index("ix_customer_entries_store_created", "store_id", "created_at"),
        Index("ix_customer_entries_created", "created_at"),
        CheckConstraint(f"kind IN {CUSTOMER_ENTRY_KINDS!r}", name="kind_known"),
        CheckConstraint(f"method IS NULL OR method IN {RECEIVE_METHODS!r}", name="method_known"),
    )

    id = Column(BigId, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    kind = Column(String(8), nullable=False)
    amount = Column(SumMoney, nullable=False)  # signed: + the customer owes more
    balance_after = Column(SumMoney, nullable=False)
    method = Column(String(8))  # a payment's
    sale_id = Column(BigId, ForeignKey("sales.id"))
    note = Column(String(500), nullable=False, default="")
    user_id = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class SupplierBalance(db.Model):
    """What one store owes one supplier (the sum of that pair's entries)."""

    __tablename__ = "supplier_balances"

    supplier_id = Column(Integer, ForeignKey("suppliers.id"), primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    balance = Column(SumMoney, nullable=False, default=0)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class SupplierEntry(db.Model):
    """+ a receipt against an order (received quantity × unit cost), − a payment."""

    __tablename__ = "supplier_entries"
    __table_args__ = (
        Index("ix_supplier_entries_pair", "supplier_id", "store_id", "id"),
        Index("ix_supplier_entries_store_created", "store_id", "created_at"),
        CheckConstraint(f"kind IN {SUPPLIER_ENTRY_KINDS!r}", name="kind_known"),
        CheckConstraint(f"method IS NULL OR method IN {RECEIVE_METHODS!r}", name="method_known"),
    )

    id = Column(BigId, primary_key=True)
    supplier_id = Column(Integer, ForeignKey("suppliers.id"), nullable=False)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    kind = Column(String(8), nullable=False)
    amount = Column(SumMoney, nullable=False)  # signed: + the store owes more
    balance_after = Column(SumMoney, nullable=False)
    method = Column(String(8))
    purchase_receipt_id = Column(Integer, ForeignKey("purchase_receipts.id"))
    note = Column(String(500), nullable=False, default="")
    user_id = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DailyClosing(db.Model):
    """A store's Pakistan day, closed once: the figures as computed then, never edited."""

    __tablename__ = "daily_closings"
    __table_args__ = (UniqueConstraint("store_id", "business_date"),)

    id = Column(Integer, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    business_date = Column(Date, nullable=False)
    opening_float = Column(Money, nullable=False)
    sales_cash = Column(SumMoney, nullable=False)
    sales_card = Column(SumMoney, nullable=False)
    sales_wallet = Column(SumMoney, nullable=False)
    sales_credit = Column(SumMoney, nullable=False)
    cash_paid_back = Column(SumMoney, nullable=False)
    credit_reversed = Column(SumMoney, nullable=False)
    received_cash = Column(SumMoney, nullable=False)
    received_card = Column(SumMoney, nullable=False)
    received_wallet = Column(SumMoney, nullable=False)
    paid_to_suppliers = Column(SumMoney, nullable=False)
    expected_cash = Column(SumMoney, nullable=False)
    counted_cash = Column(SumMoney, nullable=False)
    difference = Column(SumMoney, nullable=False)
    notes_count = Column(Text)  # JSON {"5000": n, …, "coins": amount} when counted by note
    note = Column(String(500), nullable=False, default="")
    closed_by_id = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
