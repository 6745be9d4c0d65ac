"""The money reports through their roll-ups equal the books to the paisa (SPEC invariant 7), on
PostgreSQL: the sales report's payment methods (the payment roll-up for past days, the books for
the live ones) against a recount of every receipt — random baskets over a week in two stores,
paid every way, some voided or partly returned; and the receivables summary per store against a
recount of every khata aged by its newest credit sales — refreshed in full, then incrementally."""
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.models import Customer, CustomerEntry, Product, Sale, SaleReversal
from webapp.models.report import AGE_COLUMNS
from webapp.services import closing, commands, khata, ledger, sales
from webapp.services import report_rollups as rollups
from webapp.services.errors import DomainError
from webapp.services.policy import Principal
from webapp.services.validation import pakistan_day

pytestmark = pytest.mark.postgres

METHODS = ("cash", "card", "wallet", "credit")
ADMIN_USER = Principal(id=0, role="admin", store_ids=frozenset())


def _shop(rng, count=60):
    stores = [make_store() for _ in range(2)]
    products = [make_product(unit="piece", sale_price=price)
                for price in ("99.99", "250.00", "12.35")]
    for store in stores:
        for product in products:
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=store.id, product_id=product.id, type="stock_in", quantity=10_000))
    customers = {store.id: [khata.create_customer(ADMIN, ADMIN_USER, store_id=store.id,
                                                  name=f"C{store.id}-{i}").data["customer"]["id"]
                            for i in range(3)] for store in stores}
    now = datetime.now(timezone.utc)
    sold = []
    for _ in range(count):
        store = rng.choice(stores)
        lines = [{"product_id": p.id, "quantity": rng.randint(1, 5)}
                 for p in rng.sample(products, rng.randint(1, 3))]
        total = sum((Decimal(p.sale_price) * line["quantity"]
                     for p in products for line in lines if line["product_id"] == p.id),
                    Decimal(0))
        way = rng.choice(["none", "cash", "card", "wallet", "credit", "split"])
        customer = rng.choice(customers[store.id])
        extra = {}
        if way in ("cash", "card", "wallet"):
            extra = {"payments": [{"method": way, "amount": str(total)}]}
        elif way == "credit":
            extra = {"customer_id": customer,
                     "payments": [{"method": "credit", "amount": str(total)}]}
        elif way == "split":
            now_paid = (total / 3).quantize(Decimal("0.01"))
            extra = {"customer_id": customer,
                     "payments": [{"method": "cash", "amount": str(now_paid)},
                                  {"method": "wallet", "amount": "1.00"},
                                  {"method": "credit", "amount": str(total - now_paid - 1)}]}
        when = rng.choice([None, (now - timedelta(hours=rng.randint(1, 24 * 7))).isoformat()])
        sold.append(sales.complete_sale(ADMIN, store_id=store.id, lines=lines, occurred_at=when,
                                        **extra).data["sale"])
    for sale in rng.sample(sold, 12):
        try:
            if rng.random() < 0.5:
                sales.void_sale(ADMIN, sale["id"])
            else:
                line = sale["lines"][0]
                sales.return_lines(ADMIN, sale["id"], lines=[
                    {"product_id": line["product_id"], "quantity": 1}])
        except DomainError:
            pass
    # Some of those voids and returns belong to earlier days: move their time back, as if
    # recorded then (reversals and the khata entries they wrote share the moment).
    for reversal in db.session.scalars(select(SaleReversal)).all()[::2]:
        back = timedelta(days=rng.randint(1, 5))
        moment = reversal.created_at
        db.session.execute(update(SaleReversal).where(SaleReversal.created_at == moment)
                           .values(created_at=moment - back))
        db.session.execute(update(CustomerEntry).where(CustomerEntry.created_at == moment)
                           .values(created_at=moment - back))
    for customer in db.session.scalars(select(Customer)):   # a payment too: not a sale
        if customer.balance > 0:
            khata.receive_payment(ADMIN, ADMIN_USER, customer.id, amount="1", method="cash")
    db.session.commit()
    return [s.id for s in stores]


def _receipts(first, last, store_ids=None):
    """The figures recounted from every receipt, voids and returns and khata entry, in Python."""
    def day(moment):
        return pakistan_day(moment)

    def wanted(store_id, moment):
        return (store_ids is None or store_id in store_ids) and first <= day(moment) <= last

    gross = dict.fromkeys(METHODS, Decimal("0.00"))
    for sale in db.session.scalars(select(Sale)):
        if wanted(sale.store_id, sale.occurred_at or sale.created_at):
            for method in METHODS:
                gross[method] += getattr(sale, f"paid_{method}")
    refunded = sum((r.amount for r in db.session.scalars(select(SaleReversal))
                    if wanted(db.session.get(Sale, r.sale_id).store_id, r.created_at)),
                   Decimal("0.00"))
    credit_reversed = -sum((e.amount for e in db.session.scalars(select(CustomerEntry))
                            if e.kind in ("void", "return") and wanted(e.store_id, e.created_at)),
                           Decimal("0.00"))
    net = dict(gross, cash=gross["cash"] - (refunded - credit_reversed),
               credit=gross["credit"] - credit_reversed)
    return {"gross": gross, "net": net, "refunded": refunded, "credit_reversed": credit_reversed}


def test_payment_methods_from_the_rollup_equal_the_receipts_to_the_paisa(pg_app):
    rng = random.Random(25)
    stores = _shop(rng)
    today = pakistan_day(datetime.now(timezone.utc))
    week = today - timedelta(days=8)
    rollups.refresh(full=True)
    live = rollups.live_from(db.session.connection())
    assert live == today     # every earlier day is read from the roll-up
    rolled = db.session.execute(select(rollups.PAYMENT_DAYS)).all()
    everything = _receipts(week, today)
    # The mix has every way to pay, and voids and returns both on and off the khata.
    assert all(everything["gross"][m] > 0 for m in METHODS)
    assert everything["refunded"] > everything["credit_reversed"] > 0
    assert {r.day for r in rolled} > {today} and len({r.day for r in rolled}) >= 5
    for first, last in ((week, today), (week, today - timedelta(days=1)), (today, today),
                        (today - timedelta(days=3), today - timedelta(days=2))):
        for scope in (None, {stores[0]}, {stores[1]}):
            assert closing.sales_by_method(scope, first, last) == _receipts(first, last, scope), \
                (first, last, scope)
    # Each store's day in the roll-up is what its closing would count.
    conn = db.session.connection()
    for row in rolled:
        f = closing.figures(conn, row.store_id, row.day)
        assert (row.sales, row.paid_cash, row.paid_card, row.paid_wallet, row.paid_credit) == \
            (f["sales_count"], f["sales_cash"], f["sales_card"], f["sales_wallet"],
             f["sales_credit"])
        assert row.credit_reversed == f["credit_reversed"]
        assert row.refunded - row.credit_reversed == f["cash_paid_back"]

    # A sale made four days ago lands now (a phone back in signal): the next refresh recomputes
    # that day only, and the report has it.
    product = db.session.scalars(select(Sale)).first()
    line = sales.get_sale(ADMIN_USER, product.id)["lines"][0]
    tapped = datetime.now(timezone.utc) - timedelta(days=4)
    late = sales.complete_sale(ADMIN, store_id=stores[0], occurred_at=tapped.isoformat(),
                               lines=[{"product_id": line["product_id"], "quantity": 7}],
                               payments=None).data["sale"]
    before = closing.sales_by_method(None, week, today - timedelta(days=1))
    # Past days are the roll-up's: without the sale until the next refresh (as documented).
    assert before != _receipts(week, today - timedelta(days=1))
    days = rollups.refresh()
    assert pakistan_day(tapped) in days
    after = closing.sales_by_method(None, week, today - timedelta(days=1))
    assert after == _receipts(week, today - timedelta(days=1))
    assert after["gross"]["cash"] - before["gross"]["cash"] == Decimal(late["total"])


# --- receivables: the summary per store against a recount of every khata --------------------


def _recount(today):
    """{store_id: {bucket: amount}} and the number owing, from every customer's entries in
    Python: a balance is its newest credit sales (payments settle the oldest first)."""
    ages, owing = {}, 0
    for customer in db.session.scalars(select(Customer)):
        if customer.balance <= 0:
            continue
        owing += 1
        left = customer.balance
        store = ages.setdefault(customer.store_id, dict.fromkeys(khata.AGE_BUCKETS,
                                                                Decimal("0.00")))
        for entry in db.session.scalars(select(CustomerEntry).where(
                CustomerEntry.customer_id == customer.id, CustomerEntry.kind == "sale")
                .order_by(CustomerEntry.id.desc())):
            part = min(entry.amount, left)
            days = (today - pakistan_day(entry.created_at)).days
            bucket = "0-30" if days <= 30 else "31-60" if days <= 60 else \
                "61-90" if days <= 90 else "90+"
            store[bucket] += part
            left -= part
            if not left:
                break
    return ages, owing


def _summary():
    return {r.store_id: {b: getattr(r, column) for b, column in AGE_COLUMNS.items()}
            for r in db.session.execute(select(rollups.AGES)).all()}


def test_receivables_summary_equals_a_recount_of_every_khata(pg_app):
    rng = random.Random(7)
    stores = [make_store() for _ in range(2)]
    product = make_product(unit="piece", sale_price="33.33")
    customers = []
    for store in stores:
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=10_000))
        customers += [(store.id, khata.create_customer(
            ADMIN, ADMIN_USER, store_id=store.id, name=f"K{store.id}-{i}").data["customer"]["id"])
            for i in range(4)]
    for _ in range(40):
        store_id, customer = rng.choice(customers)
        quantity = rng.randint(1, 9)
        sale = sales.complete_sale(ADMIN, store_id=store_id, customer_id=customer,
                                   lines=[{"product_id": product.id, "quantity": quantity}],
                                   payments=[{"method": "credit",
                                              "amount": str(Decimal("33.33") * quantity)}]
                                   ).data["sale"]
        if rng.random() < 0.1:
            sales.void_sale(ADMIN, sale["id"])
        elif rng.random() < 0.3:
            owed = db.session.get(Customer, customer).balance
            if owed > 1:
                khata.receive_payment(ADMIN, ADMIN_USER, customer, method="cash",
                                      amount=str((owed / 2).quantize(Decimal("0.01"))))
    # Spread the khata over five months, oldest first, as a shop's history would be.
    entries = db.session.scalars(select(CustomerEntry).order_by(CustomerEntry.id)).all()
    now = datetime.now(timezone.utc)
    for i, entry in enumerate(entries):
        entry.created_at = now - timedelta(days=150 * (len(entries) - i) / len(entries))
    db.session.commit()

    today = pakistan_day(now)
    expected, owing = _recount(today)
    assert set(expected) == {s.id for s in stores} and all(
        sum(ages.values()) > 0 for ages in expected.values())
    assert sum(v > 0 for ages in expected.values() for v in ages.values()) >= 6
    rollups.refresh(full=True)
    assert _summary() == expected
    for store in stores:
        _rows, totals = khata.receivables(ADMIN_USER, store.id)
        assert {b: totals[b] for b in khata.AGE_BUCKETS} == expected[store.id]
    manager = Principal(id=0, role="manager", store_ids=frozenset())
    report = khata.receivables_report(manager, limit=3)
    balances = sum(c.balance for c in db.session.scalars(select(Customer)))
    assert report["totals"]["total"] == balances      # to the paisa (invariant 7)
    assert report["count"] == owing and len(report["rows"]) == 3 and report["as_of"]
    assert [r["balance"] for r in report["rows"]] == sorted(
        (c.balance for c in db.session.scalars(select(Customer))), reverse=True)[:3]

    # A payment in one store: the next refresh redoes that store's row only.
    store_id, customer = next((s, c) for s, c in customers
                              if db.session.get(Customer, c).balance > 0)
    other = next(s.id for s in stores if s.id != store_id)
    db.session.execute(update(rollups.AGES).where(rollups.AGES.c.store_id == other)
                       .values(customers=99))   # marked: a redone row would lose it
    db.session.commit()
    khata.receive_payment(ADMIN, ADMIN_USER, customer, amount="1", method="cash")
    rollups.refresh()
    expected, _ = _recount(today)
    assert _summary()[store_id] == expected[store_id]
    assert db.session.scalar(select(rollups.AGES.c.customers)
                             .where(rollups.AGES.c.store_id == other)) == 99
    # A new Pakistan day: every store's ages move, so every row is redone.
    db.session.execute(update(rollups.AGES).values(day=today - timedelta(days=1)))
    db.session.commit()
    rollups.refresh()
    assert _summary() == expected
    assert set(db.session.scalars(select(rollups.AGES.c.day))) == {today}


# --- receivables per customer: the summary the CSV over every store reads -------------------


def _per_customer():
    return {r.customer_id: (r.store_id, {b: getattr(r, column) for b, column in
                                         AGE_COLUMNS.items()})
            for r in db.session.execute(select(rollups.CUSTOMER_AGES)).all()}


def _live_per_customer():
    rows, _totals = khata.receivables(ADMIN_USER)
    return {r["customer_id"]: (r["store_id"], {b: r[b] for b in khata.AGE_BUCKETS})
            for r in rows}


def test_receivables_per_customer_equal_the_live_aging_of_every_customer(pg_app):
    rng = random.Random(11)
    stores = _shop(rng, count=80)   # credit and split sales, voids, returns, payments
    customers = db.session.scalars(select(Customer.id)).all()
    for customer in rng.sample(customers, 3):   # paid off in full: no row
        owed = db.session.get(Customer, customer).balance
        if owed > 0:
            khata.receive_payment(ADMIN, ADMIN_USER, customer, amount=str(owed), method="cash")
    # Spread the khata over five months, oldest first, so every age bucket holds some.
    entries = db.session.scalars(select(CustomerEntry).order_by(CustomerEntry.id)).all()
    now = datetime.now(timezone.utc)
    for i, entry in enumerate(entries):
        entry.created_at = now - timedelta(days=150 * (len(entries) - i) / len(entries))
    db.session.commit()

    rollups.refresh(full=True)
    live = _live_per_customer()
    assert len(live) >= 3 and _per_customer() == live          # to the paisa, every customer
    assert len({b for _s, ages in live.values() for b, v in ages.items() if v > 0}) >= 3
    owing = {c.id: c.balance for c in db.session.scalars(select(Customer)) if c.balance > 0}
    assert {c: sum(ages.values()) for c, (_s, ages) in _per_customer().items()} == owing
    assert _summary() == {store: {b: sum((ages[b] for s, ages in live.values() if s == store),
                                         Decimal("0.00")) for b in khata.AGE_BUCKETS}
                          for store in {s for s, _a in live.values()}}
    manager = Principal(id=0, role="manager", store_ids=frozenset())
    rows, totals, as_of = khata.receivables_export(manager)
    live_rows, live_totals = khata.receivables(manager)
    assert as_of and rows == live_rows and totals == live_totals
    rows, totals, as_of = khata.receivables_export(manager, stores[0])
    assert as_of is None and (rows, totals) == khata.receivables(manager, stores[0])

    # More credit, a payment and a void in one store: the next refresh redoes its customers.
    store_id = stores[0]
    other = stores[1]
    marked = next(c for c, (s, _a) in _per_customer().items() if s == other)
    db.session.execute(update(rollups.CUSTOMER_AGES)
                       .where(rollups.CUSTOMER_AGES.c.customer_id == marked)
                       .values(age_0_30=Decimal("999.99")))   # a redone row would lose it
    db.session.commit()
    mine = [c for c in customers if db.session.get(Customer, c).store_id == store_id]
    product = db.session.scalars(select(Product).where(Product.sale_price == Decimal("12.35"))
                                 ).one()
    sales.complete_sale(ADMIN, store_id=store_id, customer_id=mine[0],
                        lines=[{"product_id": product.id, "quantity": 3}],
                        payments=[{"method": "credit", "amount": "37.05"}])
    payer = next(c for c in mine if db.session.get(Customer, c).balance > 1)
    khata.receive_payment(ADMIN, ADMIN_USER, payer, amount="1", method="cash")
    credit_sale = db.session.scalars(select(Sale).where(
        Sale.store_id == store_id, Sale.paid_credit > 0, Sale.voided_at.is_(None))
        .order_by(Sale.id)).first()
    sales.void_sale(ADMIN, credit_sale.id)
    rollups.refresh()
    summary, live = _per_customer(), _live_per_customer()
    assert {c: v for c, v in summary.items() if v[0] == store_id} == \
        {c: v for c, v in live.items() if v[0] == store_id}
    assert summary[marked][1]["0-30"] == Decimal("999.99")       # the other store kept
    # A new Pakistan day: every age moves, every customer's row is redone.
    today = pakistan_day(now)
    db.session.execute(update(rollups.AGES).values(day=today - timedelta(days=1)))
    db.session.commit()
    rollups.refresh()
    assert _per_customer() == _live_per_customer()
    assert set(db.session.scalars(select(rollups.CUSTOMER_AGES.c.day))) == {today}
