"""Report pages and their CSV exports; every view asks services/policy.py who sees what."""
import click
from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from webapp.blueprints.reports import bp, charts, export, forms, words
from webapp.infra.replica import replica_reads
from webapp.jobs.tasks import refresh_inline_without_worker, refresh_report_rollups
from webapp.services import closing, expiry, khata, reports
from webapp.services.errors import N_, DomainError
from webapp.services.policy import visible_store_ids
from webapp.web.errors import handle_domain_error
from webapp.web.filters import pakistan_time
from webapp.web.filters import reason as reason_label
from webapp.web.i18n import translate
from webapp.web.paging import page_args

CHART_STORES = 15


@bp.before_request
def _logged_in():
    """Every report needs a signed-in user; embedded mode keeps the roll-ups fresh inline."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    refresh_inline_without_worker()


def _page(template, error=None, status=200, **context):
    context.setdefault("choices", reports.filter_choices(visible_store_ids(current_user)))
    context["filter_words"] = words.filter_words(request.args, context["choices"],
                                                 context.get("span"))
    return render_template(f"reports/{template}", error=error, args=request.args,
                           **context), status


@bp.errorhandler(DomainError)
def _invalid(error):
    """A bad filter is shown inline on the report's own page (422); an unseen store stays 404."""
    if error.status == 404:
        return handle_domain_error(error)
    report = request.endpoint.rsplit(".", 1)[-1].removesuffix("_csv")
    # A CSV without a page of its own is refused on the page it belongs to (the hostile sweep
    # found TemplateNotFound for sales_methods).
    report = {"sales_methods": "sales"}.get(report, report)
    return _page(f"{report}.html", error=error, status=422)


@bp.get("/")
@replica_reads
def index():
    """The list of reports."""
    return render_template("reports/index.html")


@bp.get("/stock")
@replica_reads
def stock():
    """Stock across stores: search, filter by store, category and city, sort, page."""
    stores, store_id = forms.scope(current_user, request.args)
    page, per_page = page_args()
    result = reports.stock_levels(stores, store_id=store_id, page=page, per_page=per_page,
                                  **forms.stock_filters(request.args))
    return _page("stock.html", result=result)


@bp.get("/stock.csv")
@replica_reads
def stock_csv():
    stores, store_id = forms.scope(current_user, request.args)
    filters = forms.stock_filters(request.args)
    rows = reports.iter_stock_levels(stores, store_id=store_id, **filters)
    return export.stream("stock.csv", STOCK_HEADER, (
        [i["store_code"], i["store_name"], i["city"], i["sku"], i["name"], i["category"],
         i["unit"], i["quantity"], i["reorder_level"], i["low"], i["value_cost"],
         i["value_sale"]] for i in rows))


# CSV headings are msgids: unchanged in English (scripts read them), the reader's words in Urdu.
STOCK_HEADER = [N_("store_code"), N_("store_name"), N_("city"), N_("sku"), N_("product"),
                N_("category"), N_("unit"), N_("quantity"), N_("reorder_level"), N_("low"),
                N_("value_at_cost"), N_("value_at_sale_price")]


@bp.get("/low-stock")
@replica_reads
def low_stock():
    """Levels at or under the reorder level, with what to reorder."""
    stores, store_id = forms.scope(current_user, request.args)
    page, per_page = page_args()
    result = reports.low_stock(stores, store_id=store_id, page=page, per_page=per_page,
                               **forms.low_filters(request.args))
    return _page("low_stock.html", result=result)


LOW_HEADER = [N_("store_code"), N_("store_name"), N_("sku"), N_("product"), N_("unit"),
              N_("quantity"), N_("reorder_level"), N_("sold_last_28_days"),
              N_("avg_daily_sales"), N_("suggested_reorder")]


@bp.get("/low-stock.csv")
@replica_reads
def low_stock_csv():
    stores, store_id = forms.scope(current_user, request.args)
    rows = reports.iter_low_stock(stores, store_id=store_id, **forms.low_filters(request.args))
    return export.stream("low-stock.csv", LOW_HEADER, (
        [i["store_code"], i["store_name"], i["sku"], i["name"], i["unit"], i["quantity"],
         i["reorder_level"], i["sold_28_days"], i["avg_daily_sales"], i["suggested"]]
        for i in rows))


@bp.get("/valuation")
@replica_reads
def valuation():
    """Stock value at cost and at sale price, per store and in total."""
    stores, store_id = forms.scope(current_user, request.args)
    page, per_page = page_args()
    result = reports.valuation(stores, store_id=store_id, city=request.args.get("city"),
                               page=page, per_page=per_page)
    top = sorted(result["all"], key=lambda i: i["value_sale"], reverse=True)[:CHART_STORES]
    chart = charts.rows(_("Stock value at sale price (Rs), top stores"),
                        [(i["store_code"], i["value_sale"]) for i in top])
    return _page("valuation.html", result=result, figure=chart)


VALUATION_HEADER = [N_("store_code"), N_("store_name"), N_("city"), N_("levels"),
                    N_("units_on_hand"), N_("value_at_cost"), N_("value_at_sale_price"),
                    N_("levels_without_cost"), N_("negative_levels")]


@bp.get("/valuation.csv")
@replica_reads
def valuation_csv():
    stores, store_id = forms.scope(current_user, request.args)
    result = reports.valuation(stores, store_id=store_id, city=request.args.get("city"))
    rows = [[i["store_code"], i["store_name"], i["city"], i["levels"], i["units"],
             i["value_cost"], i["value_sale"], i["without_cost"], i["negative"]]
            for i in result["all"]]
    t = result["total"]
    rows.append([translate(N_("TOTAL")), "", "", t["levels"], t["units"], t["value_cost"],
                 t["value_sale"],
                 t["without_cost"], t["negative"]])
    return export.stream("valuation.csv", VALUATION_HEADER, rows)


@bp.get("/sales")
@replica_reads
def sales():
    """Sales net of voids and returns, with profit: per day, per store, top products."""
    stores, store_id = forms.scope(current_user, request.args)
    span = forms.span(request.args)
    scope = {store_id} if store_id else stores
    days = reports.sales_by_day(scope, span)
    by_store = reports.sales_by_store(scope, span)
    products = reports.sales_by_product(scope, span, limit=10)
    over_time = charts.columns(_("Sales per day (Rs)"), [(d["day"].isoformat(), d["amount"])
                                                       for d in days])
    compared = charts.rows(_("Sales per store (Rs)"), [(s["store_code"], s["amount"])
                                                     for s in by_store[:CHART_STORES]])
    return _page("sales.html", span=span, days=days, by_store=by_store, products=products,
                 total=reports.sales_total(days), over_time=over_time, compared=compared,
                 methods=closing.sales_by_method(scope, span.start, span.end))


# Every sales CSV: the figures of its rows, then a TOTAL row (the page's totals).
SALES_FIGURES = [N_("quantity"), N_("amount"), N_("sales"), N_("cost"), N_("profit"),
                 N_("refunded")]


def _sales_rows(items, leading, blanks):
    """CSV rows of sales figures (net of voids and returns) and, last, their total."""
    figures = ("quantity", "amount", "movements", "cost", "profit", "refunded")
    seen = []
    for item in items:
        seen.append(item)
        yield [*leading(item), *(item[k] for k in figures)]
    total = reports.sales_total(seen)
    yield [translate(N_("TOTAL")), *[""] * blanks, *(total[k] for k in figures)]


SALES_CSV = {
    "day": ([N_("day")], lambda scope, span: _sales_rows(
        reports.sales_by_day(scope, span), lambda d: [d["day"]], 0)),
    "store": ([N_("store_code"), N_("store_name"), N_("city")], lambda scope, span: _sales_rows(
        reports.sales_by_store(scope, span),
        lambda s: [s["store_code"], s["store_name"], s["city"]], 2)),
    "product": ([N_("sku"), N_("product"), N_("category"), N_("unit")],
                lambda scope, span: _sales_rows(
                    reports.sales_by_product(scope, span),
                    lambda p: [p["sku"], p["name"], p["category"], p["unit"]], 3)),
}


@bp.get("/sales.csv")
@replica_reads
def sales_csv():
    stores, store_id = forms.scope(current_user, request.args)
    span = forms.span(request.args)
    by = request.args.get("by", "day")
    if by not in SALES_CSV:
        raise DomainError("invalid", N_("by must be day, store or product."), field="by")
    header, rows = SALES_CSV[by]
    return export.stream(f"sales-by-{by}-{span.start}-{span.end}.csv", header + SALES_FIGURES,
                         rows({store_id} if store_id else stores, span))


@bp.get("/sales-methods.csv")
@replica_reads
def sales_methods_csv():
    """The sales report's payment methods: gross and net of voids and returns."""
    stores, store_id = forms.scope(current_user, request.args)
    span = forms.span(request.args)
    methods = closing.sales_by_method({store_id} if store_id else stores, span.start, span.end)
    rows = [[m, methods["gross"][m], methods["net"][m]] for m in ("cash", "card", "wallet",
                                                                 "credit")]
    return export.stream(f"sales-by-method-{span.start}-{span.end}.csv",
                         [N_("method"), N_("sales"), N_("net")], rows)


AGE_HEADER = [N_("store_code"), N_("customer"), N_("phone"), N_("balance"), N_("0-30 days"),
              N_("31-60 days"), N_("61-90 days"), N_("over 90 days")]


@bp.get("/receivables")
@replica_reads
def receivables():
    """Who owes what on udhaar, aged 0–30 / 31–60 / 61–90 / 90+ days, per store and in all."""
    stores, store_id = forms.scope(current_user, request.args)
    report = khata.receivables_report(current_user, store_id)
    return _page("receivables.html", **report, buckets=khata.AGE_BUCKETS)


@bp.get("/receivables.csv")
@replica_reads
def receivables_csv():
    stores, store_id = forms.scope(current_user, request.args)
    rows, totals, as_of = khata.receivables_export(current_user, store_id)
    lines = [[r["store_code"], r["name"], r["phone"], r["balance"],
              *(r[b] for b in khata.AGE_BUCKETS)] for r in rows]
    lines.append([translate(N_("TOTAL")), "", "", totals["total"],
                  *(totals[b] for b in khata.AGE_BUCKETS)])
    if as_of:   # over many stores, from the summary: said as the page says it
        lines.append([_("All stores as of %(time)s (refreshed every minute); choose a store "
                        "for live figures.", time=pakistan_time(as_of))] + [""] * 7)
    return export.stream("receivables.csv", AGE_HEADER, lines)


def _book_day(store_id):
    day = reports.date_range(request.args.get("day"), request.args.get("day"), 1).end \
        if request.args.get("day") else reports.today()
    return day, closing.cash_book(store_id, day)



@bp.get("/cash-book")
@replica_reads
def cash_book():
    """One store's day of money: the drawer's figures and every payment in and out."""
    stores, store_id = forms.scope(current_user, request.args)
    if store_id is None:
        return _page("cash_book.html", book=None, day=None)
    day, book = _book_day(store_id)
    return _page("cash_book.html", book=book, day=day)


@bp.get("/cash-book.csv")
@replica_reads
def cash_book_csv():
    """The day's payments in and out: one store's, with its expected cash; or every store's."""
    stores, store_id = forms.scope(current_user, request.args)
    day = reports.date_range(request.args.get("day"), request.args.get("day"), 1).end \
        if request.args.get("day") else reports.today()
    if store_id is None:
        entries, expected = closing.payments_of_day(stores, day), None
    else:
        book = closing.cash_book(store_id, day)
        entries, expected = book["entries"], book["expected_cash"]
    rows = [[e["at"].isoformat(), e["store_id"], e["who"], e["name"], e["kind"], e["method"],
             e["amount"]] for e in entries]
    if expected is not None:
        rows.append([day.isoformat(), store_id, "", translate(N_("expected cash")), "", "",
                     expected])
    return export.stream(f"cash-book-{store_id or 'all'}-{day}.csv",
                         [N_("time"), N_("store_id"), N_("with"), N_("name"), N_("kind"),
                          N_("method"), N_("amount")], rows)


@bp.get("/movements")
@replica_reads
def movements():
    """Movement summary by type, and removals (shrinkage) by reason."""
    stores, store_id = forms.scope(current_user, request.args)
    span = forms.span(request.args)
    scope = {store_id} if store_id else stores
    reasons = reports.removals_by_reason(scope, span)
    chart = charts.rows(_("Shrinkage at cost (Rs) by reason"),
                        [(reason_label(r["reason"]), r["amount"]) for r in reasons])
    return _page("movements.html", span=span, types=reports.movements_by_type(scope, span),
                 reasons=reasons, figure=chart)


@bp.get("/movements.csv")
@replica_reads
def movements_csv():
    stores, store_id = forms.scope(current_user, request.args)
    span = forms.span(request.args)
    scope = {store_id} if store_id else stores
    rows = [[translate(N_("type")), t["type"], t["quantity"], t["delta"], t["amount"],
             t["movements"]]
            for t in reports.movements_by_type(scope, span)]
    rows += [[translate(N_("removal reason")), r["reason"], r["quantity"], "", r["amount"],
              r["movements"]]
             for r in reports.removals_by_reason(scope, span)]
    return export.stream(f"movements-{span.start}-{span.end}.csv",
                         [N_("group"), N_("name"), N_("quantity"), N_("net_change"), N_("value"),
                          N_("movements")], rows)


@bp.get("/expiring")
@replica_reads
def expiring():
    """Batches expired or expiring within N days (default 30) across stores, soonest first,
    valued at cost; and what was removed as expired last month, and what it cost."""
    stores, store_id = forms.scope(current_user, request.args)
    within = expiry.parse_within_days(request.args.get("within_days"))
    page, per_page = page_args()
    summary = expiry.totals(stores, store_id, within)
    result = expiry.expiring(stores, store_id, within, page=page, per_page=per_page)
    result.total = summary["batches"]
    return _page("expiring.html", result=result, within=within, summary=summary,
                 last_month=expiry.expired_last_month(stores, store_id), today=expiry.today())


EXPIRING_HEADER = [N_("store_code"), N_("store_name"), N_("sku"), N_("product"), N_("unit"),
                   N_("expires_on"), N_("batch_code"), N_("quantity"), N_("unit_cost"),
                   N_("value_at_cost"), N_("expired"), N_("days_left")]


@bp.get("/expiring.csv")
@replica_reads
def expiring_csv():
    stores, store_id = forms.scope(current_user, request.args)
    within = expiry.parse_within_days(request.args.get("within_days"))
    rows = expiry.iter_expiring(stores, store_id, within)
    return export.stream(f"expiring-{within}-days.csv", EXPIRING_HEADER, (
        [b["store_code"], b["store_name"], b["sku"], b["name"], b["unit"],
         b["expires_on"].isoformat(), b["batch_code"] or "", b["quantity"], b["unit_cost"],
         b["value_cost"], b["expired"], b["days_left"]] for b in rows))


@bp.cli.command("refresh")
@click.option("--full", is_flag=True, help="Rebuild every day, not only the days touched.")
def refresh_command(full):
    """Bring the report roll-ups up to date (cron or a worker runs this every minute)."""
    redone = refresh_report_rollups(full=full)
    click.echo("Rebuilt every day." if redone is None else f"Recomputed {redone} day(s).")
