"""Manifest, service worker and the JSON doors of the phone's offline queue.

The queue (static/js/offline-queue.js) asks `session` for the logged-in user and a fresh CSRF
token before it replays, sends only that user's items, and posts each to its kind's route here
(`movements` for the store page's forms, `sales` for the counter's baskets, `payments` for
a customer's Receive payment).
A refusal answers the usual error envelope plus what the phone needs to offer choices
(`allow_negative_stock`), and the item waits under "needs attention" until the shopkeeper acts.
"""
import hashlib
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from flask import current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from webapp.blueprints.offline import bp
from webapp.services import offline as offline_service
from webapp.services import policy
from webapp.services.errors import DomainError
from webapp.services.validation import PAKISTAN
from webapp.web import access
from webapp.web.errors import json_error
from webapp.web.filters import rupees
from webapp.web.i18n import translate
from webapp.web.navigation import current_store_id

THEME = "#0b7a4b"


@bp.app_context_processor
def offline_helpers():
    """Template helpers for the manifest link and the store page's offline block."""
    def manifest_url():
        store_id = current_store_id(current_user) if current_user.is_authenticated else None
        return url_for("offline.manifest", store=store_id) if store_id else \
            url_for("offline.manifest")
    return {
        "offline_manifest_url": manifest_url,
        # When the page was rendered, Pakistan time: "offline · levels as of 14:05".
        "offline_now": lambda: datetime.now(timezone.utc).astimezone(PAKISTAN).strftime("%H:%M"),
        "offline_can_add_products": lambda: policy.can(current_user, "catalog.manage"),
        "offline_lang": lambda: str(get_locale() or "en"),
        "offline_scanner_download": scanner_download,
    }


# What a phone without its own BarcodeDetector downloads the first time Scan is tapped.
SCANNER_FILES = ("vendor/barcode-detector-3.2.2/ponyfill.iife.js",
                 "vendor/zxing-wasm-3.1.3/zxing_reader.wasm")


@cache
def _scanner_bytes(folder):
    return sum((Path(folder) / name).stat().st_size for name in SCANNER_FILES)


def scanner_download():
    """The decoder's size as the scanner says it before a metered first download: "1.1 MB"."""
    size = _scanner_bytes(current_app.static_folder) / 1_000_000
    return _("%(size)s MB", size=f"{size:.1f}")


def _logged_out():
    return json_error(401, "unauthorized", _("Log in again to send what is waiting."))


def _static_digest(folder):
    """A digest of every static file: the worker's cache version, so a deploy that changes any
    file makes the phone install a new worker and fetch the new files once, and a phone on
    mobile data downloads nothing again until then."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_deployed_digest = cache(_static_digest)


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the site root so its scope is the whole app. Never a 304: its
    bytes change with the static digest even when sw.js itself did not."""
    folder = current_app.static_folder
    # A developer's edits show on the next load; a deployed process reads its files once.
    version = (_static_digest if current_app.debug else _deployed_digest)(folder)
    body = (Path(folder) / "sw.js").read_text().replace(
        'var VERSION = "dev";', f'var VERSION = "{version}";', 1)
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest; `store` (from the page that links it) makes the start URL."""
    store = request.args.get("store", "")
    start = url_for("stock.home", store_id=int(store)) if store.isdigit() and \
        0 < int(store) < 2**31 else "/"
    icons = [{"src": url_for("static", filename=f"icons/icon-{size}.png"), "sizes": f"{size}x{size}",
              "type": "image/png", "purpose": "any"} for size in (192, 512)]
    icons.append({"src": url_for("static", filename="icons/maskable-512.png"),
                  "sizes": "512x512", "type": "image/png", "purpose": "maskable"})
    response = jsonify({
        "id": "/", "name": _("Kiryana Inventory"), "short_name": _("Kiryana"),
        "start_url": start, "scope": "/", "display": "standalone",
        "background_color": "#ffffff", "theme_color": THEME, "icons": icons})
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/offline")
def offline_page():
    """What the service worker shows for a page never saved on the phone (no user data)."""
    response = current_app.make_response(render_template("offline/offline.html"))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline/session")
def session():
    """Who is logged in and a fresh CSRF token: asked before every replay."""
    if not current_user.is_authenticated:
        return _logged_out()
    response = jsonify({"user_id": current_user.id, "csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/offline/stores/<int:store_id>/catalog")
def catalog(store_id):
    """Every active product with its level: offline search and barcode lookup read this.
    The store page keeps it on the phone (static/js/offline.js) and asks again with the copy's
    ETag each time it opens."""
    def products(store):
        items = offline_service.catalog(store.id)
        for product in items:   # the basket shows a price as the server writes it
            product["price_text"] = rupees(product["sale_price"])
        return {"store_id": store.id, "products": items}
    return _kept(store_id, offline_service.catalog_version, products)


@bp.get("/offline/stores/<int:store_id>/customers")
def customers(store_id):
    """The store's customers (name, phone, balance, limit) for udhaar with no signal. The
    basket and khata pages keep it on the phone and ask again with the copy's ETag when they
    open or after the queue sent something: a 304 while no customer or balance changed."""
    def listing(store):
        items = offline_service.customers(store.id)
        for customer in items:
            customer["balance_text"] = rupees(customer["balance"])
        return {"store_id": store.id, "customers": items}
    return _kept(store_id, offline_service.customers_version, listing)


def _kept(store_id, version, body):
    """A list the phone keeps (Cache Storage), answered 304 while its ETag still holds."""
    if not current_user.is_authenticated:
        return _logged_out()
    try:
        store = access.store_or_404(store_id)
    except DomainError as error:
        return json_error(error.status, error.code, error.message)
    tag = version(store.id)
    # (Flask-Compress tags a compressed answer's ETag "…:gzip"; the copy's tag comes back so.)
    if any(t.split(":", 1)[0] == tag for t in request.if_none_match):
        response = current_app.response_class(status=304)
    else:
        response = jsonify(body(store))
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _replay(store_id, apply):
    """One queued item through `apply(actor, store_id, item)` (the handler decides whether
    this user may write in this store): its result, or a refusal the phone lists under "needs
    attention" (reason in the user's language, and whether this store allows negative stock,
    which decides if "Record anyway" is offered)."""
    if not current_user.is_authenticated:
        return _logged_out()
    item = request.get_json(silent=True)
    if not isinstance(item, dict):
        return json_error(400, "bad_request", _("Send the queued item as a JSON object."))
    if item.get("user_id") != current_user.id:
        # Belt and braces: the phone never sends another user's items, and we never take them.
        return json_error(409, "wrong_user",
                          _("Saved by another user on this phone: only they can send it."))
    actor = access.actor()
    try:
        result = apply(actor, store_id, item)
    except DomainError as error:
        allow_negative = offline_service.allows_negative_stock(actor, store_id)
        fields = {name: translate(message) for name, message in error.fields.items()}
        return json_error(error.status, error.code, translate(error.message), fields,
                          allow_negative_stock=allow_negative, **error.details)
    body = dict(result.data, replayed=result.replayed)
    return jsonify(body), result.status_code


@bp.post("/offline/stores/<int:store_id>/movements")
def record_movement(store_id):
    """Replay one queued sale, stock-in or removal with its key and tap time."""
    return _replay(store_id, offline_service.record_movement)


@bp.post("/offline/stores/<int:store_id>/sales")
def complete_sale(store_id):
    """Replay one queued basket ({lines, note, pay, customer_id, paid_now, new_customer}) with
    its key and tap time."""
    return _replay(store_id, offline_service.complete_sale)


@bp.post("/offline/stores/<int:store_id>/payments")
def receive_payment(store_id):
    """Replay one queued customer payment ({customer_id, amount, method}) with its key."""
    return _replay(store_id, offline_service.receive_payment)
