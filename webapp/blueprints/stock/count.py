"""The shelf count pages: count by category and page, review the differences, apply.

Every count typed is saved to the store's count in progress (services/count_drafts.py): with
htmx one row at a time as it is entered, and without JavaScript by the form, whose every
button (Show, Previous, Next, Review) saves what was typed before it goes anywhere.

Form contract (one for both ways): `count-<product id>` is the typed count and `was-<product
id>` what the page showed, so only changes are written; `category`, `q` are the filter asked
for and `shown_category`, `shown_q`, `page` the one on screen; `goto` a page number. A
product counted date by date sends, for each date n, `batch-<product id>-<n>` (typed),
`bkey-<product id>-<n>` (the date and batch code, "YYYY-MM-DD|code") and `wasb-<product
id>-<n>` (what the page showed).
"""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from webapp.blueprints.stock import bp
from webapp.blueprints.stock.forms import new_key
from webapp.extensions import db
from webapp.models import Product
from webapp.services import commands, count_drafts
from webapp.services.errors import DomainError
from webapp.services.handlers import handle
from webapp.services.paging import page_number
from webapp.web import access
from webapp.web.htmx import is_htmx, redirect_to, render, render_fragment
from webapp.web.i18n import translate

MAX_FILTER = 100  # characters of a filter kept (a product name is at most 200, a category 80)


def _product_id(text):
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def _entries(formdata):
    """(product id, typed, shown) for each count field sent."""
    entries = []
    for name, typed in formdata.items():
        if name.startswith("count-"):
            pid = _product_id(name[len("count-"):])
            if pid:
                entries.append((pid, typed, formdata.get(f"was-{pid}", "")))
    return entries


def _dated(formdata):
    """{product id: [(date text, batch code, typed, shown)]} from the per-date count fields."""
    dated = {}
    for name, typed in formdata.items():
        if name.startswith("batch-"):
            pid, _dash, n = name[len("batch-"):].partition("-")
            pid = _product_id(pid)
            if pid and n.isdigit():
                day, _bar, code = formdata.get(f"bkey-{pid}-{n}", "").partition("|")
                dated.setdefault(pid, []).append(
                    (int(n), day, code, typed, formdata.get(f"wasb-{pid}-{n}", "")))
    return {pid: [entry[1:] for entry in sorted(entries)] for pid, entries in dated.items()}


def _typed(entries, dated):
    """What was typed, to show again with the reasons: {product id: text or {n: text}}."""
    typed = {pid: text for pid, text, _shown in entries}
    typed.update({pid: dict(enumerate(entry[2] for entry in dates))
                  for pid, dates in dated.items()})
    return typed


def _line_errors(error):
    """{product id: translated message} from a DomainError's `counts.<product id>` fields."""
    errors = {}
    for name, message in error.fields.items():
        prefix, _dot, pid = name.partition(".")
        if prefix == "counts" and pid.isdigit():
            errors[int(pid)] = translate(message)
    if "product_id" in error.details and error.details["product_id"]:
        errors[error.details["product_id"]] = translate(error.message)  # a level going short
    return errors


def _filters(values, prefix=""):
    return {"category": values.get(prefix + "category", "")[:MAX_FILTER].strip(),
            "q": values.get(prefix + "q", "")[:MAX_FILTER].strip()}


def _count_page(store, filters, page, typed=None, errors=None, status=200):
    rows = count_drafts.rows(store.id, category=filters["category"] or None,
                             q=filters["q"] or None, page=page)
    return render("stock/count.html", status=status, store=store, rows=rows.items, pages=rows,
                  summary=count_drafts.summary(store.id), typed=typed or {},
                  errors=errors or {}, **filters)


@bp.get("/stores/<int:store_id>/count")
@login_required
def count(store_id):
    """Shelf count: a page of products (by category, by name) with what is counted so far."""
    store = access.open_store(store_id)
    return _count_page(store, _filters(request.args), page_number(request.args.get("page")))


@bp.post("/stores/<int:store_id>/count")
@login_required
def save_counts(store_id):
    """Save typed counts; then (a plain form) go where the button pressed asks."""
    store = access.store_or_404(store_id)
    entries, dated = _entries(request.form), _dated(request.form)
    saved = [pid for pid, *_rest in entries] + list(dated)
    try:
        count_drafts.save(access.actor(), store.id, entries, dated)
    except DomainError as error:
        errors = _line_errors(error)
        if not errors:
            flash(translate(error.message), "error")
        typed = _typed(entries, dated)
        if is_htmx():
            return _saved_rows(store, saved, typed, errors, 422)
        return _count_page(store, _filters(request.form, "shown_"),
                           page_number(request.form.get("page")), typed, errors, status=422)
    if is_htmx():
        return _saved_rows(store, saved)
    return redirect_to(_next_url(store))


def _saved_rows(store, product_ids, typed=None, errors=None, status=200):
    """The rows just saved (or refused) and the progress bar, for htmx to swap in place."""
    return render_fragment("stock/count.html", "saved_rows", status=status, store=store,
                           rows=count_drafts.rows_for(store.id, product_ids),
                           summary=count_drafts.summary(store.id), typed=typed or {},
                           errors=errors or {})


def _next_url(store):
    """Where the pressed button goes: review, another page, or the filter asked for."""
    form = request.form
    if form.get("action") == "review":
        return url_for("stock.review_count", store_id=store.id)
    shown, wanted = _filters(form, "shown_"), _filters(form)
    if form.get("goto"):
        args = dict(shown, page=page_number(form.get("goto")))
    elif wanted != shown:
        args = dict(wanted, page=1)
    else:
        args = dict(shown, page=page_number(form.get("page")))
    return url_for("stock.count", store_id=store.id,
                   **{name: value for name, value in args.items() if value and value != 1})


# --- review and apply -------------------------------------------------------------------------

def _review_page(store, errors=None, note="", status=200):
    return render("stock/count_review.html", status=status, store=store,
                  review=count_drafts.review(store.id), summary=count_drafts.summary(store.id),
                  errors=errors or {}, note=note, key=new_key())


@bp.get("/stores/<int:store_id>/count/review")
@login_required
def review_count(store_id):
    """Every counted product with the change applying it would make."""
    store = access.open_store(store_id)
    return _review_page(store)


@bp.post("/stores/<int:store_id>/count/review")
@login_required
def apply_count(store_id):
    """Apply the count as reviewed: adjustments through the ledger, the count cleared (the
    handler decides whether this user may count this store)."""
    note = request.form.get("note", "")
    try:
        command = commands.CountReview.parse(store_id, request.form.get("version", ""), note)
        result = handle(access.actor(), command, request.form.get("key") or None)
    except DomainError as error:
        store = access.store_or_404(store_id)  # the review again (404 when not this user's)
        errors = _line_errors(error)
        if not errors or error.code != "invalid":
            flash(translate(error.message), "error")
        return _review_page(store, errors, note[:500], status=422)
    adjusted = len(result.data["adjustments"])
    flash(ngettext("Count applied: %(num)s adjustment, %(unchanged)s unchanged.",
                   "Count applied: %(num)s adjustments, %(unchanged)s unchanged.", adjusted,
                   unchanged=len(result.data["unchanged"])), "success")
    moved = result.data["changed_during_count"]
    if moved:
        names = ", ".join(db.session.execute(select(Product.name).where(Product.id.in_(moved))
                                             .order_by(Product.name)).scalars())
        flash(_("Stock moved while you were counting (%(names)s); those sales or receipts are "
                "kept, and the difference was applied to the level now.", names=names), "warning")
    return redirect_to(url_for("stock.count", store_id=store_id))


@bp.post("/stores/<int:store_id>/count/discard")
@login_required
def discard_count(store_id):
    """Throw away the count in progress (every phone's counts of this store)."""
    store = access.store_or_404(store_id)
    removed = count_drafts.discard(access.actor(), store.id)
    if removed:
        flash(ngettext("Discarded the count of %(num)s product.",
                       "Discarded the counts of %(num)s products.", removed), "success")
    return redirect_to(url_for("stock.count", store_id=store.id))
