"""The reports-at-scale builder, small: the generated books keep invariants 1, 8 and 9, the
roll-ups the app's refresh builds from them agree with the books, and every timed report
answers 200 (bench/reports_scale.py raises on anything else)."""
from decimal import Decimal

import psycopg2
import pytest

from bench import reports_scale
from tests.services import drop_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _one(cur, sql):
    cur.execute(sql)
    return cur.fetchone()


def test_small_build_keeps_the_books_and_answers_every_report():
    name, figures = reports_scale.main(["--stores", "6", "--products", "100", "--customers",
                                        "10", "--runs", "1", "--writes", "5", "--keep",
                                        "--no-save"])
    try:
        app = reports_scale._app(name)
        with app.app_context():
            from webapp.extensions import db
            from webapp.services import integrity

            result = integrity.verify(db.session.connection())
        assert all(v == [] for v in result["violations"].values()), result["violations"]
        assert result["checked"]["entries"] == 6 * 10 * 16
        assert result["checked"]["batches"] == 6 * 10
        names = {r["name"] for r in figures["requests"]}
        assert {"receivables, all stores", "a customer's ledger", "expiring, all stores, 30 days",
                "api: expiring, all stores, 30 days", "cash book, one store, yesterday",
                "money: owed to suppliers, receivables, closings"} <= names

        conn = psycopg2.connect(reports_scale._url(name))
        with conn.cursor() as cur:
            # The payment roll-up counts every sale's credit; the receivables summary ages
            # every rupee owed; each closing's expected cash follows its own figures.
            assert _one(cur, "SELECT sum(paid_credit) FROM sales") == _one(
                cur, "SELECT sum(paid_credit) FROM daily_payment_summary")
            owed, = _one(cur, "SELECT sum(balance) FROM customers")
            aged, = _one(cur, "SELECT sum(age_0_30 + age_31_60 + age_61_90 + age_90_plus) "
                              "FROM receivable_ages")
            assert owed == aged > Decimal(0)
            assert _one(cur, "SELECT count(*) FROM customer_entries WHERE kind = 'payment' "
                             "AND amount > 0") == (0,)
            assert _one(cur, """SELECT count(*) FROM daily_closings
                                WHERE expected_cash <> opening_float + sales_cash
                                      - cash_paid_back + received_cash - paid_to_suppliers
                                   OR difference <> counted_cash - expected_cash""") == (0,)
            assert _one(cur, "SELECT count(*) FILTER (WHERE expires_on < current_date) > 0, "
                             "count(*) FILTER (WHERE expires_on >= current_date) > 0 "
                             "FROM stock_batches") == (True, True)
        conn.close()
    finally:
        drop_database(reports_scale._url(name))
