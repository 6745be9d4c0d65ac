from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from webapp.blueprints.admin import bp
from webapp.blueprints.admin.forms import SupplierForm, TokenForm, UserForm, WebhookForm
from webapp.extensions import db
from webapp.models import ApiToken, Store, Supplier, User
from webapp.models.types import utcnow
from webapp.services import accounts, catalog, webhooks
from webapp.services.errors import DomainError
from webapp.web import access
from webapp.web.htmx import redirect_to, render
from webapp.web.i18n import translate

# --- suppliers --------------------------------------------------------------------------------

@bp.get("/suppliers/")
@access.page_permission("suppliers.view")
def suppliers():
    """Suppliers named on stock-ins; inactive ones last."""
    rows = db.session.execute(select(Supplier).order_by(Supplier.active.desc(),
                                                        Supplier.name)).scalars().all()
    return render("admin/suppliers.html", suppliers=rows)


def _supplier_page(form, heading, status):
    return render("form_page.html", status=status, form=form, heading=heading,
                  cancel_url=url_for("admin.suppliers"))


@bp.route("/suppliers/new", methods=["GET", "POST"])
@access.page_permission("suppliers.manage")
def create_supplier():
    """Add a supplier to pick on stock-ins."""
    form = SupplierForm()
    return form.save(lambda: catalog.create_supplier(access.actor(), form.service_data()),
                     lambda supplier: _("Supplier %(name)s added.", name=supplier.name),
                     lambda supplier: url_for("admin.suppliers")) \
        or _supplier_page(form, _("New supplier"), form.status)


@bp.route("/suppliers/<int:supplier_id>/edit", methods=["GET", "POST"])
@access.page_permission("suppliers.manage")
def edit_supplier(supplier_id):
    """Change a supplier, or retire it by clearing Active."""
    supplier = catalog.get_supplier(supplier_id)
    form = SupplierForm(obj=supplier)
    return form.save(lambda: catalog.update_supplier(access.actor(), supplier.id,
                                                     form.service_data()),
                     lambda saved: _("Supplier %(name)s saved.", name=saved.name),
                     lambda saved: url_for("admin.suppliers")) \
        or _supplier_page(form, _("Edit %(name)s", name=supplier.name), form.status)


# --- users ------------------------------------------------------------------------------------

@bp.get("/users/")
@access.page_permission("users.manage")
def users():
    """Every account with its role and stores (admins only)."""
    rows = db.session.execute(select(User).order_by(func.lower(User.username))).scalars().all()
    return render("admin/users.html", users=rows)


def _user_form(**kwargs):
    form = UserForm(**kwargs)
    form.stores.choices = [(s.id, f"{s.code} · {s.name}") for s in
                           db.session.execute(select(Store).order_by(Store.code)).scalars()]
    return form


def _user_page(form, heading, status):
    return render("form_page.html", status=status, form=form, heading=heading,
                  cancel_url=url_for("admin.users"),
                  hints={"password": _("At least 10 characters, and not a common password.")})


@bp.route("/users/new", methods=["GET", "POST"])
@access.page_permission("users.manage")
def create_user():
    """Create an account; shopkeepers get their stores here."""
    form = _user_form()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(access.actor(), form.username.data, form.password.data,
                                        role=form.role.data, full_name=form.full_name.data,
                                        store_ids=form.stores.data, active=form.active.data)
        except DomainError as error:
            form.show_error(error)
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect_to(url_for("admin.users"))
    return _user_page(form, _("New user"), form.status)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@access.page_permission("users.manage")
def edit_user(user_id):
    """Change role, stores, password or active flag; deactivating ends open sessions."""
    user = accounts.get_user(user_id)
    form = _user_form(obj=user, data={"stores": sorted(user.store_ids)})
    del form.username
    form.password.label.text = _("New password (leave blank to keep)")
    if form.validate_on_submit():
        try:
            accounts.update_user(access.actor(), user.id, role=form.role.data,
                                 full_name=form.full_name.data, active=form.active.data,
                                 store_ids=form.stores.data, password=form.password.data or None)
        except DomainError as error:
            form.show_error(error)
        else:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect_to(url_for("admin.users"))
    return _user_page(form, _("Edit %(name)s", name=user.username), form.status)


# --- API tokens -------------------------------------------------------------------------------

def _tokens_page(form, created=None, status=200):
    tokens = db.session.execute(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                .order_by(ApiToken.created_at.desc())).scalars().all()
    return render("admin/tokens.html", status=status, form=form, tokens=tokens, created=created,
                  now=utcnow(), longest=current_app.config["API_TOKEN_MAX_DAYS"])


@bp.get("/tokens/")
@login_required
def tokens():
    """The user's own API tokens: create (shown once), list, revoke."""
    form = TokenForm(ttl_days=current_app.config["API_TOKEN_TTL_DAYS"])
    return _tokens_page(form)


@bp.post("/tokens/")
@login_required
def create_token():
    """Issue a token and show it this once."""
    form = TokenForm()
    if form.validate_on_submit():
        # Every time: a stolen session or remember cookie alone must not mint a token.
        if not accounts.check_own_password(current_user.id, form.password.data):
            form.password.errors = [_("Type your password again to create a token.")]
            return _tokens_page(form, status=422)
        try:
            plaintext, token = accounts.issue_token(access.actor(), current_user, form.name.data,
                                                    form.ttl_days.data)
        except DomainError as error:
            form.show_error(error)
        else:
            # Rendered, not redirected: the token must never travel through the session.
            response = _tokens_page(TokenForm(formdata=None, ttl_days=form.ttl_days.data),
                                    created=(plaintext, token), status=201)
            response.headers["Cache-Control"] = "no-store"
            return response
    return _tokens_page(form, status=422)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id):
    """Revoke one of the user's own tokens; anyone else's is a 404."""
    token = accounts.revoke_token(access.actor(), token_id, owner_id=current_user.id)
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect_to(url_for("admin.tokens"))


# --- webhooks ---------------------------------------------------------------------------------

def _webhook_form(formdata=True):
    from webapp.models.webhook import EVENT_TYPES

    form = WebhookForm() if formdata else WebhookForm(formdata=None)
    form.events.choices = [(event, event) for event in EVENT_TYPES]
    return form


def _webhooks_page(form, created=None, status=200):
    response = render("admin/webhooks.html", status=status, form=form, created=created,
                      endpoints=webhooks.list_endpoints())
    if created:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/webhooks/")
@access.page_permission("webhooks.manage")
def webhooks_index():
    """Registered webhook endpoints and a form to add one."""
    return _webhooks_page(_webhook_form(formdata=False))


@bp.post("/admin/webhooks/")
@access.page_permission("webhooks.manage")
def create_webhook():
    """Register an endpoint and show its secret this once (rendered, never redirected)."""
    form = _webhook_form()
    if form.validate_on_submit():
        try:
            endpoint, secret = webhooks.register(access.actor(), form.url.data, form.events.data)
        except DomainError as error:
            form.show_error(error)
        else:
            return _webhooks_page(_webhook_form(formdata=False), created=(endpoint, secret),
                                  status=201)
    return _webhooks_page(form, status=422)


def _webhook_page(endpoint_id, secret=None, status=200):
    page = request.args.get("page", 1, type=int)
    response = render("admin/webhook.html", status=status,
                      endpoint=webhooks.get_endpoint(endpoint_id), secret=secret,
                      deliveries=webhooks.deliveries(endpoint_id, page, 25))
    if secret:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/webhooks/<int:endpoint_id>")
@access.page_permission("webhooks.manage")
def webhook(endpoint_id):
    """One endpoint: its deliveries, newest first, with their last answer."""
    return _webhook_page(endpoint_id)


@bp.post("/admin/webhooks/<int:endpoint_id>/rotate")
@access.page_permission("webhooks.manage")
def rotate_webhook(endpoint_id):
    """A new secret, shown this once; the old one keeps signing during the rotation window."""
    _, secret = webhooks.rotate(access.actor(), endpoint_id)
    return _webhook_page(endpoint_id, secret=secret)


@bp.post("/admin/webhooks/<int:endpoint_id>/deactivate")
@access.page_permission("webhooks.manage")
def deactivate_webhook(endpoint_id):
    """Stop sending to an endpoint."""
    endpoint = webhooks.deactivate(access.actor(), endpoint_id)
    flash(_("Nothing more is sent to %(url)s.", url=endpoint["url"]), "success")
    return redirect_to(url_for("admin.webhook", endpoint_id=endpoint_id))


@bp.post("/admin/webhooks/deliveries/<delivery_id>/redeliver")
@access.page_permission("webhooks.manage")
def redeliver_webhook(delivery_id):
    """Send one delivery again, with the same delivery id."""
    try:
        delivery = webhooks.redeliver(access.actor(), delivery_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(translate(error.message), "error")
        return redirect_to(request.referrer or url_for("admin.webhooks_index"))
    flash(_("Delivery %(id)s is queued again.", id=delivery["id"][:8]), "success")
    return redirect_to(url_for("admin.webhook", endpoint_id=delivery["endpoint_id"]))
