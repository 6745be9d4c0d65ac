"""The money and expiry side of the reports-at-scale data set, generated inside PostgreSQL like
the movements (bench/reports_data.py): closed formulas over generate_series, so each book adds
up by construction (invariants 8 and 9) without a Python loop over rows.

- Sales: the sale movements of one pair in five ((store + product) % 5 = 1, about 1.6M at full
  size) are counter sales, one line each, sale id = line id = movement id; paid 60 % cash, 10 %
  card, 15 % wallet, 15 % on credit to one of the store's customers.
- Customers: `customers` a store (200,000 at full size), each with ENTRIES khata entries
  (3.2M): a credit sale of S, then a payment of S − D (cash, card or wallet), eight times, the
  newest 0–89 days ago, so balance_after runs i·D + S, (i + 1)·D and the balance ends at 8·D
  (aged across every bucket). These entries stand alone (sale_id empty): the khata is checked
  by its own chain, and the credit sales above are the payment methods' side.
- Suppliers: SUPPLIERS of them, eight per store, each pair with 12 entries (a receipt of R,
  a payment of R − D): what the store owes ends at 6·D.
- Batches: products that track expiry (id % 10 = TRACKED, 100 of 1,000) keep one batch per store
  holding the whole level (r), expiring 20 days ago to 129 days ahead; each of the pair's
  movements has its movement_batches row (the stock-in +, the sales and removal −).
- Closings: every store's last CLOSED_DAYS Pakistan days before today, from that day's sales
  by method and customer payments (expected cash with the store's zero float; one closing in
  seven counted 50 short).
"""
from bench import reports_data

ENTRIES = 16
SUPPLIERS = 40
SUPPLIERS_A_STORE = 8
SUPPLIER_ENTRIES = 12
CLOSED_DAYS = 30
METHODS = ("cash", "card", "wallet")
PAKISTAN_TODAY = "(now() AT TIME ZONE 'Asia/Karachi')::date"


def _sales(url, params):
    """Counter sales: one for each sale movement of one pair in five, and its line."""
    pick = f"""
        SELECT g.*, (g.store_id - 1)::bigint * %(products)s * 5 + (g.product_id - 1) * 5 + k + 1
                   AS id,
               round(q * sale_price, 2) AS total,
               (g.store_id * 3 + g.product_id + k) %% 20 AS way
        FROM ({reports_data.GENERATOR}) g
        WHERE type = 'sale' AND (g.store_id + g.product_id) %% 5 = 1"""
    reports_data._run(url, f"""
        INSERT INTO sales (id, store_id, number, status, total, note, source, created_at,
                           customer_id, paid_cash, paid_card, paid_wallet, paid_credit)
        SELECT id, store_id, (product_id - 1) * 5 + k + 1, 'completed', total, '', 'web',
               created_at,
               CASE WHEN way >= 17 THEN (store_id - 1) * %(customers)s + 1
                                        + (product_id + k) %% %(customers)s END,
               CASE WHEN way < 12 THEN total ELSE 0 END,
               CASE WHEN way BETWEEN 12 AND 13 THEN total ELSE 0 END,
               CASE WHEN way BETWEEN 14 AND 16 THEN total ELSE 0 END,
               CASE WHEN way >= 17 THEN total ELSE 0 END
        FROM ({pick}) s""", params)
    reports_data._run(url, f"""
        INSERT INTO sale_lines (id, sale_id, position, product_id, quantity, unit_price,
                                list_price, line_total, movement_id, returned_quantity)
        SELECT id, id, 1, product_id, q, sale_price, sale_price, total, id, 0
        FROM ({pick}) s""", params)


# Customer c (1-based id over all stores): sale amount S (200 and more), what each payment
# leaves owing D (0-149, below S: a payment is never a positive amount).
CUSTOMER = """
    c AS id, (c - 1) / %(customers)s + 1 AS store_id,
    (200 + (c * 37) %% 1800 + (c %% 4) * 0.25)::numeric(14, 2) AS s,
    ((c * 13) %% 150)::numeric(14, 2) AS d"""


def _customers(url, params):
    reports_data._run(url, f"""
        INSERT INTO customers (id, store_id, name, phone, credit_limit, balance, language, note,
                               created_at, updated_at)
        SELECT id, store_id, 'Customer ' || id || CASE WHEN id %% 3 = 0 THEN ' گاہک' ELSE '' END,
               '+923' || lpad((id %% 1000000000)::text, 9, '0'),
               CASE WHEN id %% 3 = 0 THEN 20000 END, {ENTRIES // 2} * d,
               CASE WHEN id %% 4 = 0 THEN 'en' ELSE 'ur' END, '',
               %(start)s::timestamptz, %(start)s::timestamptz
        FROM (SELECT {CUSTOMER} FROM generate_series(1, %(stores)s * %(customers)s) AS c) x""",
        params)


def _entries(url, params):
    reports_data._run(url, f"""
        INSERT INTO customer_entries (id, customer_id, store_id, kind, amount, balance_after,
                                      method, note, created_at)
        SELECT (id - 1)::bigint * {ENTRIES} + j + 1, id, store_id,
               CASE WHEN j %% 2 = 0 THEN 'sale' ELSE 'payment' END,
               CASE WHEN j %% 2 = 0 THEN s ELSE d - s END,
               CASE WHEN j %% 2 = 0 THEN (j / 2) * d + s ELSE (j / 2 + 1) * d END,
               CASE WHEN j %% 2 = 1 THEN (ARRAY{list(METHODS)!r})[1 + (id + j) %% 3] END, '',
               now() - make_interval(days => ({ENTRIES - 1} - j) * 22 + id %% 90,
                                     secs => (id * 31 + j * 17) %% 86000)
        FROM (SELECT {CUSTOMER} FROM generate_series(1, %(stores)s * %(customers)s) AS c) x
        CROSS JOIN generate_series(0, {ENTRIES - 1}) AS j
        WHERE id %% %(parts)s = %(part)s""", params)


def _suppliers(url, params):
    pair = f"""
        SELECT s.id AS store_id, 1 + (s.id * 7 + i * 5) %% {SUPPLIERS} AS supplier_id,
               (s.id - 1) * {SUPPLIERS_A_STORE} + i AS n,
               (5000 + (s.id * 53 + i * 11) %% 45000)::numeric(14, 2) AS r,
               ((s.id * 17 + i * 29) %% 4000)::numeric(14, 2) AS d
        FROM stores s CROSS JOIN generate_series(0, {SUPPLIERS_A_STORE - 1}) AS i"""
    reports_data._run(url, f"""
        INSERT INTO suppliers (id, name, phone, notes, active, created_at, updated_at)
        SELECT n, 'Distributor ' || n, '+92 21 ' || lpad(n::text, 7, '0'), '', true,
               %(start)s::timestamptz, %(start)s::timestamptz
        FROM generate_series(1, {SUPPLIERS}) AS n;
        INSERT INTO supplier_balances (supplier_id, store_id, balance, updated_at)
        SELECT supplier_id, store_id, {SUPPLIER_ENTRIES // 2} * d, now() FROM ({pair}) p;
        INSERT INTO supplier_entries (id, supplier_id, store_id, kind, amount, balance_after,
                                      method, note, created_at)
        SELECT n::bigint * {SUPPLIER_ENTRIES} + j + 1, supplier_id, store_id,
               CASE WHEN j %% 2 = 0 THEN 'receipt' ELSE 'payment' END,
               CASE WHEN j %% 2 = 0 THEN r ELSE d - r END,
               CASE WHEN j %% 2 = 0 THEN (j / 2) * d + r ELSE (j / 2 + 1) * d END,
               CASE WHEN j %% 2 = 1 THEN (ARRAY{list(METHODS)!r})[1 + (n + j) %% 3] END, '',
               now() - make_interval(days => ({SUPPLIER_ENTRIES - 1} - j) * 30 + n %% 30,
                                     secs => (n * 31 + j * 17) %% 86000)
        FROM ({pair}) p CROSS JOIN generate_series(0, {SUPPLIER_ENTRIES - 1}) AS j""", params)


def _batches(url, params):
    """One batch per store and tracked product holding the level; each movement's batch row."""
    tracked = f"""
        SELECT g.*, (g.store_id - 1) * %(products)s + g.product_id AS batch_id,
               (g.store_id - 1)::bigint * %(products)s * 5 + (g.product_id - 1) * 5 + k + 1
                   AS movement_id
        FROM ({reports_data.GENERATOR}) g
        WHERE g.product_id %% 10 = {reports_data.TRACKED}"""
    reports_data._run(url, f"""
        INSERT INTO stock_batches (id, store_id, product_id, expires_on, batch_code, quantity,
                                   received_at, updated_at)
        SELECT batch_id, store_id, product_id,
               {PAKISTAN_TODAY} + ((store_id * 7 + product_id * 3) %% 150 - 20),
               CASE WHEN store_id %% 2 = 0 THEN 'L' || lpad(batch_id::text, 7, '0') ELSE '' END,
               r, created_at, created_at
        FROM ({tracked}) t WHERE k = 0""", params)
    reports_data._run(url, f"""
        INSERT INTO movement_batches (id, movement_id, batch_id, delta)
        SELECT movement_id, movement_id, batch_id, CASE WHEN k = 0 THEN 4 * q + r ELSE -q END
        FROM ({tracked}) t""", params)


def jobs(start, stores, products, customers, parts):
    """(function, params) for the build's thread pool, beside the movements."""
    common = {"start": start, "stores": stores, "products": products, "customers": customers,
              "parts": 1, "part": 0}
    return ([(_sales, common), (_customers, common), (_suppliers, common),
             (_batches, common)]
            + [(_entries, common | {"parts": parts, "part": part}) for part in range(parts)])


def closings(url, stores):
    """Every store's last CLOSED_DAYS days closed, from the day's sales and payments."""
    reports_data._run(url, f"""
        WITH days AS (
            SELECT s.id AS store_id, {PAKISTAN_TODAY} - n AS day
            FROM stores s CROSS JOIN generate_series(1, {CLOSED_DAYS}) AS n),
        sold AS (
            SELECT store_id, (created_at AT TIME ZONE 'Asia/Karachi')::date AS day,
                   sum(paid_cash) AS cash, sum(paid_card) AS card, sum(paid_wallet) AS wallet,
                   sum(paid_credit) AS credit
            FROM sales WHERE created_at >= now() - interval '{CLOSED_DAYS + 2} days'
            GROUP BY 1, 2),
        received AS (
            SELECT store_id, (created_at AT TIME ZONE 'Asia/Karachi')::date AS day,
                   -sum(amount) FILTER (WHERE method = 'cash') AS cash,
                   -sum(amount) FILTER (WHERE method = 'card') AS card,
                   -sum(amount) FILTER (WHERE method = 'wallet') AS wallet
            FROM customer_entries
            WHERE kind = 'payment' AND created_at >= now() - interval '{CLOSED_DAYS + 2} days'
            GROUP BY 1, 2),
        paid AS (
            SELECT store_id, (created_at AT TIME ZONE 'Asia/Karachi')::date AS day,
                   -sum(amount) FILTER (WHERE method = 'cash') AS cash
            FROM supplier_entries
            WHERE kind = 'payment' AND created_at >= now() - interval '{CLOSED_DAYS + 2} days'
            GROUP BY 1, 2),
        figures AS (
            SELECT d.store_id, d.day, coalesce(s.cash, 0) AS sales_cash,
                   coalesce(s.card, 0) AS sales_card, coalesce(s.wallet, 0) AS sales_wallet,
                   coalesce(s.credit, 0) AS sales_credit, coalesce(r.cash, 0) AS received_cash,
                   coalesce(r.card, 0) AS received_card,
                   coalesce(r.wallet, 0) AS received_wallet, coalesce(p.cash, 0) AS paid
            FROM days d LEFT JOIN sold s USING (store_id, day)
            LEFT JOIN received r USING (store_id, day) LEFT JOIN paid p USING (store_id, day))
        INSERT INTO daily_closings (id, store_id, business_date, opening_float, sales_cash,
            sales_card, sales_wallet, sales_credit, cash_paid_back, credit_reversed,
            received_cash, received_card, received_wallet, paid_to_suppliers, expected_cash,
            counted_cash, difference, note, created_at)
        SELECT row_number() OVER (ORDER BY day, store_id), store_id, day, 0, sales_cash,
               sales_card, sales_wallet, sales_credit, 0, 0, received_cash, received_card,
               received_wallet, paid, sales_cash + received_cash - paid,
               sales_cash + received_cash - paid
                   - CASE WHEN (store_id + day - DATE '2000-01-01') %% 7 = 0 THEN 50 ELSE 0 END,
               -CASE WHEN (store_id + day - DATE '2000-01-01') %% 7 = 0 THEN 50 ELSE 0 END, '',
               ((day + 1)::timestamp + interval '16 hours') AT TIME ZONE 'Asia/Karachi'
        FROM figures""".replace("%%", "%"))


SEQUENCES = ("sales", "sale_lines", "customers", "customer_entries", "suppliers",
             "supplier_entries", "stock_batches", "movement_batches", "daily_closings")


def sequences(cur):
    """Each loaded table's id sequence past its largest id, and each store's receipt counter."""
    for table in SEQUENCES:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    cur.execute("""INSERT INTO sale_counters (store_id, last_number)
                   SELECT store_id, max(number) FROM sales GROUP BY store_id
                   ON CONFLICT (store_id) DO UPDATE SET last_number = excluded.last_number""")
