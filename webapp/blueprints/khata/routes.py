"""Customers (who owes most first), a customer's khata with Receive payment, Send reminder and a
printable statement; the day's closing; the manager's money screen (owed to suppliers, the
closings across stores with their differences). Plain forms that post and redirect; every
rule is in services/khata.py, payables.py and closing.py."""
import uuid
from decimal import Decimal
from functools import partial
from urllib.parse import quote

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.blueprints.khata import bp
from webapp.extensions import db
from webapp.models import Store
from webapp.services import closing, khata, payables, policy
from webapp.services.errors import DomainError
from webapp.web import access
from webapp.web.filters import rupees
from webapp.web.forms import TokenForm, check_token
from webapp.web.htmx import render
from webapp.web.i18n import current_language, translate
from webapp.web.paging import page_arg


def _form_page(template, store, status=200, errors=None, entered=None, message=None,
               **context):
    """A page with a money form: the messages on their fields, what was typed, a fresh key."""
    return render(template, status=status, store=store, form=TokenForm(), errors=errors or {},
                  entered=entered or {}, message=message, key=uuid.uuid4().hex, **context)


def _entered(*names):
    return {name: request.form.get(name, "") for name in names}


def _save(page, entered, call, message, next_url):
    """A checked form post: `call(key)` with the form's idempotency key; success flashes
    message(result) and redirects to next_url(result); a DomainError shows `page` again (422)
    with each message on its field and what was typed (as web.forms.Form.save does for a
    WTForms form)."""
    check_token()
    try:
        result = call(request.form.get("key") or None)
    except DomainError as error:
        fields = {name: translate(text) for name, text in error.fields.items()}
        return page(422, fields, entered, translate(error.message))
    flash(message(result), "success")
    return redirect(next_url(result), 303)


# --- customers ------------------------------------------------------------------------------

def _customers_page(store, *shown):
    q = request.args.get("q", "")
    page = khata.list_customers(current_user, store.id, q, page_arg(), 50)
    owed = sum((Decimal(c["balance"]) for c in page.items), Decimal(0))
    return _form_page("khata/customers.html", store, *shown, page=page, q=q, owed=owed,
                      next_url=request.args.get("next"))


@bp.get("/stores/<int:store_id>/customers")
@login_required
def customers(store_id):
    """The store's customers, who owes most first; add one."""
    store = access.open_store(store_id)
    return _customers_page(store)


@bp.post("/stores/<int:store_id>/customers")
@login_required
def add_customer(store_id):
    """Add a customer (name, phone, credit limit)."""
    store = access.store_or_404(store_id)
    entered = _entered("name", "phone", "credit_limit")
    return _save(
        partial(_customers_page, store), entered,
        lambda key: khata.create_customer(
            access.actor(), current_user, store_id=store.id, name=entered["name"],
            phone=entered["phone"], credit_limit=entered["credit_limit"] or None,
            idempotency_key=key),
        lambda result: _("Added %(name)s.", name=result.data["customer"]["name"]),
        lambda result: url_for("khata.customer", store_id=store.id,
                               customer_id=result.data["customer"]["id"]))


def _customer_page(store, customer, *shown):
    return _form_page("khata/customer.html", store, *shown, customer=customer,
                      page=khata.entries(current_user, customer["id"], page_arg(), 50),
                      reminder=khata.reminder(current_user, customer["id"]))


@bp.get("/stores/<int:store_id>/customers/<int:customer_id>")
@login_required
def customer(store_id, customer_id):
    """A customer's khata: balance, Receive payment, Send reminder, entries newest first."""
    store = access.store_or_404(store_id)
    return _customer_page(store, access.in_store_or_404(store, khata.get_customer, customer_id))


@bp.post("/stores/<int:store_id>/customers/<int:customer_id>/payments")
@login_required
def receive_payment(store_id, customer_id):
    """Money received from the customer (cash, card or wallet)."""
    store = access.store_or_404(store_id)
    customer = access.in_store_or_404(store, khata.get_customer, customer_id)
    entered = _entered("amount", "method", "note")

    def received(result):
        entry = result.data["entry"]
        return _("Received %(amount)s from %(name)s. Still owed: %(balance)s.",
                 amount=rupees(-Decimal(entry["amount"])), name=customer["name"],
                 balance=rupees(entry["balance_after"]))

    return _save(
        partial(_customer_page, store, customer), entered,
        lambda key: khata.receive_payment(
            access.actor(), current_user, customer["id"], amount=entered["amount"],
            method=entered["method"] or "cash", note=entered["note"], idempotency_key=key),
        received,
        lambda _result: url_for("khata.customer", store_id=store.id,
                                customer_id=customer["id"]))


@bp.get("/stores/<int:store_id>/customers/<int:customer_id>/statement")
@login_required
def statement(store_id, customer_id):
    """A printable statement (58 mm or A4): every entry, oldest first, and the balance."""
    store = access.store_or_404(store_id)
    customer = access.in_store_or_404(store, khata.get_customer, customer_id)
    size = "58" if request.args.get("size") == "58" else "a4"
    entries = khata.entries(current_user, customer["id"], 1, 200, oldest_first=True)
    return render("khata/statement.html", store=store, customer=customer, entries=entries,
                  size=size)


# --- the daily closing ----------------------------------------------------------------------

def _closing_page(store, status=200, errors=None, entered=None, message=None):
    day = request.args.get("day") or (entered or {}).get("business_date")
    try:
        figures = closing.preview(current_user, store.id, day)
    except DomainError:
        figures = closing.preview(current_user, store.id)
    recent = closing.list_closings(current_user, store.id, page=1, per_page=10).items
    closed = next((c for c in recent if c["business_date"] == figures["business_date"]), None)
    return _form_page("khata/closing.html", store, status, errors, entered, message,
                      figures=figures, closed=closed, recent=recent, notes=closing.NOTES)


@bp.get("/stores/<int:store_id>/closing")
@login_required
def closing_form(store_id):
    """Today's money so far and the count that closes the day."""
    store = access.open_store(store_id)
    return _closing_page(store)


@bp.post("/stores/<int:store_id>/closing")
@login_required
def close_day(store_id):
    """Close the day once: expected against counted cash."""
    store = access.store_or_404(store_id)
    entered = _entered("counted_cash", "business_date", "note")
    notes = {str(n): request.form.get(f"note_{n}", "") for n in closing.NOTES}
    notes["coins"] = request.form.get("coins", "")
    entered.update({f"note_{k}": v for k, v in notes.items()})
    notes = {k: v for k, v in notes.items() if v.strip()}
    return _save(
        partial(_closing_page, store), entered,
        lambda key: closing.close_day(
            access.actor(), current_user, store.id,
            counted_cash=entered["counted_cash"] or None, notes=notes or None,
            business_date=entered["business_date"] or None, note=entered["note"],
            idempotency_key=key),
        lambda result: _("Day closed. Difference: %(difference)s.",
                         difference=rupees(result.data["closing"]["difference"])),
        lambda result: url_for("khata.closing_view", store_id=store.id,
                               closing_id=result.data["closing"]["id"]))


@bp.get("/stores/<int:store_id>/closings/<int:closing_id>")
@login_required
def closing_view(store_id, closing_id):
    """One closed day, as it was closed; its summary to share on WhatsApp."""
    store = access.store_or_404(store_id)
    done = access.in_store_or_404(store, closing.get_closing, closing_id)
    text = closing.summary_text(done, store.name, current_language())
    return render("khata/closing_view.html", store=store, closing=done,
                  share_url="https://wa.me/?text=" + quote(text, safe=""), summary=text)


# --- the manager's money screen -------------------------------------------------------------

# The largest supplier accounts shown on the money screen (the total counts every one).
OWED_SHOWN = 50


@bp.get("/money")
@login_required
@access.page_permission("suppliers.view")
def money():
    """Owed to suppliers, customers' udhaar, and closings across stores (differences flagged)."""
    owed_rows, owed_total = payables.owed(current_user, limit=OWED_SHOWN)
    owed_count = payables.owed_count(current_user) if len(owed_rows) == OWED_SHOWN \
        else len(owed_rows)
    closings = closing.list_closings(current_user, page=page_arg(), per_page=30)
    stores = {s.id: s for s in policy.visible_stores(current_user, include_inactive=True)}
    receivables = khata.receivables_total(current_user)
    return render("khata/money.html", owed_rows=owed_rows, owed_total=owed_total,
                  owed_count=owed_count, closings=closings, stores=stores,
                  receivables=receivables, form=TokenForm(),
                  key=uuid.uuid4().hex)


@bp.post("/suppliers/<int:supplier_id>/payments")
@login_required
@access.page_permission("suppliers.view")
def pay_supplier(supplier_id):
    """A payment from a store to a supplier."""
    check_token()
    try:
        result = payables.pay(access.actor(), current_user, supplier_id,
                              store_id=request.form.get("store_id"),
                              amount=request.form.get("amount"),
                              method=request.form.get("method") or "cash",
                              idempotency_key=request.form.get("key") or None)
    except DomainError as error:
        flash(translate(error.message), "error")
        return redirect(url_for("khata.money"), 303)
    store = db.session.get(Store, result.data["entry"]["store_id"])
    flash(_("Paid %(amount)s. %(store)s still owes %(balance)s.",
            amount=rupees(-Decimal(result.data["entry"]["amount"])), store=store.code,
            balance=rupees(result.data["balance"])), "success")
    return redirect(url_for("khata.money"), 303)
