"""What customers owe, aged 0–30 / 31–60 / 61–90 / 90+ days, as SQL: one query that the
receivables report (services/khata.py) and its summaries per customer and per store
(services/report_rollups.py) both read, so the live figures and the summary cannot age a balance two ways.

What a customer paid (or had voided or returned) settles their oldest udhaar first, so a balance
is made of their newest credit sales; an age is counted in Pakistan days from the day a credit
sale was made.
"""
from datetime import timedelta

from sqlalchemy import Date, case, func, literal, select

from webapp.models import Customer, CustomerEntry, CustomerReceivableAges
from webapp.models.report import AGE_COLUMNS
from webapp.services.sql import day_of, exact_total

CUSTOMERS = Customer.__table__
ENTRIES = CustomerEntry.__table__
CUSTOMER_AGES = CustomerReceivableAges.__table__


def aged_parts(conn, today, *where):
    """SELECT (customer_id, store_id, bucket, part): each credit sale's part of what its
    customer still owes, with the age bucket of the Pakistan day it was made (as seen on
    `today`): one window function over the sale entries of customers who owe something (and
    meet `where`, conditions on customers), newest first, keeps the part of each still unpaid."""
    running = func.sum(ENTRIES.c.amount).over(partition_by=ENTRIES.c.customer_id,
                                              order_by=ENTRIES.c.id.desc())
    sales_ = (select(ENTRIES.c.customer_id, CUSTOMERS.c.store_id, ENTRIES.c.amount,
                     CUSTOMERS.c.balance, running.label("running"),
                     day_of(conn, ENTRIES.c.created_at).label("made"))
              .join(CUSTOMERS, CUSTOMERS.c.id == ENTRIES.c.customer_id)
              .where(ENTRIES.c.kind == "sale", CUSTOMERS.c.balance > 0, *where)).subquery()
    before = sales_.c.running - sales_.c.amount  # what newer sales already account for
    left = sales_.c.balance - before

    def since(days):
        return sales_.c.made >= literal(today - timedelta(days=days), type_=Date)

    bucket = case((since(30), "0-30"), (since(60), "31-60"), (since(90), "61-90"),
                  else_="90+")
    part = case((sales_.c.amount < left, sales_.c.amount), else_=left)
    return (select(sales_.c.customer_id, sales_.c.store_id, bucket.label("bucket"),
                   part.label("part"))
            .where(before < sales_.c.balance))


def receivable_ages_by_customer(conn, today, store_ids=None):
    """SELECT (customer_id, store_id, day, age_0_30 … age_90_plus) from the books: the rows of
    the receivables summary per customer (services/report_rollups.py), one per customer who
    owes in `store_ids` (None: every store)."""
    where = [] if store_ids is None else [CUSTOMERS.c.store_id.in_(sorted(store_ids) or [0])]
    parts = aged_parts(conn, today, *where).subquery()
    return (select(parts.c.customer_id, parts.c.store_id, literal(today, type_=Date),
                   *(func.coalesce(exact_total(conn, case((parts.c.bucket == bucket,
                                                           parts.c.part), else_=0), 2), 0)
                     for bucket in AGE_COLUMNS))
            .group_by(parts.c.customer_id, parts.c.store_id))


def receivable_totals_by_store(conn, store_ids=None):
    """SELECT (store_id, day, customers, age_0_30 … age_90_plus): the receivables summary's
    rows per store, summed from the summary per customer (CUSTOMER_AGES, made first), so the
    two cannot disagree and the khata is aged once."""
    where = [] if store_ids is None else [CUSTOMER_AGES.c.store_id.in_(sorted(store_ids) or [0])]
    return (select(CUSTOMER_AGES.c.store_id, func.max(CUSTOMER_AGES.c.day), func.count(),
                   *(exact_total(conn, CUSTOMER_AGES.c[column], 2)
                     for column in AGE_COLUMNS.values()))
            .where(*where).group_by(CUSTOMER_AGES.c.store_id))
