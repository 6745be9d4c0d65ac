"""Signed webhooks (SPEC §4): admins register a URL and the events it wants; each event is
POSTed to it as JSON, signed, retried until it is answered 2xx or 24 hours have passed.

Where events come from: the audit outbox. Every change already writes its audit event in its
own transaction, and the drain moves those events to the log in batches (services/audit.py);
the same drain transaction turns them into deliveries here. So a delivery can be neither lost
(the outbox row and the deliveries it made commit together) nor invented (a rolled-back sale
left no outbox row), and the sale itself pays nothing: not one statement more, with or
without endpoints.

How they go out: after the drain commits, each new delivery is queued on RQ's `webhooks` queue
(webapp/jobs/tasks.py); the job hands it to the process's sender threads, so a slow receiver
holds one thread, never the worker or other deliveries. A sender first leases the delivery
(WEBHOOK_TIMEOUT_SECONDS + a margin) in its own transaction, then sends, then records the
answer. A sender killed mid-send leaves the lease to run out; the worker's sweep queues every
due delivery no sender holds, so none is lost, and the receiver sees the same
X-Kiryana-Delivery again (it must treat deliveries idempotently: at least once, not exactly once).

Targets: private, loopback, link-local and other non-global addresses are refused when the
endpoint is registered and again at every send, after DNS resolution, and the request goes to
the address that was checked (no second lookup a DNS rebinding could answer differently) —
unless WEBHOOK_ALLOW_PRIVATE is set.
"""
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from blinker import Namespace
from flask import current_app
from sqlalchemy import func, insert, select, update

from webapp.extensions import db
from webapp.models import StockMovement, WebhookDelivery, WebhookEndpoint
from webapp.models.types import utcnow
from webapp.models.webhook import EVENT_TYPES
from webapp.services import audit
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.paging import paginate
from webapp.services.validation import iso_time, parse_id

log = logging.getLogger(__name__)
ENDPOINTS = WebhookEndpoint.__table__
DELIVERIES = WebhookDelivery.__table__
MOVEMENTS = StockMovement.__table__

# Sent after a commit that made deliveries, with their ids; webapp/jobs/tasks.py queues them.
signals = Namespace()
deliveries_ready = signals.signal("webhook-deliveries-ready")

SIGNATURE_HEADER = "X-Kiryana-Signature"
MAX_URL = 2000
# How much of a receiver's answer is read (and of its error kept).
MAX_ANSWER = 4096
# A delivery made by the drain is queued at once; the sweep leaves it alone this long.
DISPATCH_GRACE = timedelta(seconds=30)


# --- Endpoints ----------------------------------------------------------------------------


def register(actor, url, events):
    """Add an endpoint → (endpoint dict, secret); the secret is shown this once."""
    url = check_url(url)
    events = check_events(events)
    secret = new_secret()
    conn = db.session.connection()
    endpoint_id = conn.execute(insert(ENDPOINTS).returning(ENDPOINTS.c.id), {
        "url": url, "events": events, "secret": secret, "active": True,
        "created_by_id": actor.user_id, "created_at": utcnow()}).scalar()
    audit.record(conn, actor, "webhook.create", "webhook", endpoint_id,
                 after={"url": url, "events": events})
    db.session.commit()
    return get_endpoint(endpoint_id), secret


def rotate(actor, endpoint_id):
    """A new secret → (endpoint dict, secret); the old one keeps signing too (a second v1) for
    WEBHOOK_ROTATION_HOURS, so receivers can switch without missing a delivery."""
    endpoint = _endpoint_row(endpoint_id)
    secret = new_secret()
    until = utcnow() + timedelta(hours=current_app.config["WEBHOOK_ROTATION_HOURS"])
    conn = db.session.connection()
    conn.execute(update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint["id"]).values(
        secret=secret, previous_secret=endpoint["secret"], previous_secret_until=until))
    audit.record(conn, actor, "webhook.rotate", "webhook", endpoint["id"],
                 after={"previous_secret_until": iso_time(until)})
    db.session.commit()
    return get_endpoint(endpoint["id"]), secret


def deactivate(actor, endpoint_id):
    """Stop sending to an endpoint (its deliveries stay listed; pending ones are not sent)."""
    endpoint = _endpoint_row(endpoint_id)
    conn = db.session.connection()
    conn.execute(update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint["id"]).values(active=False))
    audit.record(conn, actor, "webhook.deactivate", "webhook", endpoint["id"])
    db.session.commit()
    return get_endpoint(endpoint["id"])


def list_endpoints():
    rows = db.session.execute(select(ENDPOINTS).order_by(ENDPOINTS.c.id)).mappings().all()
    db.session.commit()
    return [endpoint_dict(r) for r in rows]


def get_endpoint(endpoint_id):
    return endpoint_dict(_endpoint_row(endpoint_id))


def _endpoint_row(endpoint_id):
    endpoint_id = parse_id(endpoint_id, "id", "Webhook")
    row = db.session.execute(select(ENDPOINTS).where(ENDPOINTS.c.id == endpoint_id)) \
        .mappings().first()
    if row is None:
        raise NotFound("Webhook")
    return row


def endpoint_dict(row):
    rotating = row["previous_secret_until"] is not None and row["previous_secret_until"] > utcnow()
    return {"id": row["id"], "url": row["url"], "events": list(row["events"]),
            "active": row["active"], "created_at": iso_time(row["created_at"]),
            "rotation_ends_at": iso_time(row["previous_secret_until"]) if rotating else None}


def new_secret():
    return "whsec_" + secrets.token_hex(24)


def check_events(events):
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, (list, tuple)) or not events or \
            not all(isinstance(e, str) for e in events):
        raise DomainError("invalid", N_("Choose at least one event."), field="events")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise DomainError("invalid", N_("Unknown events: %(names)s.", names=", ".join(unknown)),
                          field="events")
    return [e for e in EVENT_TYPES if e in set(events)]


def check_url(url):
    """A well-formed http(s) URL whose host resolves only to addresses we may send to."""
    url = (url or "").strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if not url or len(url) > MAX_URL or parts is None or parts.scheme not in ("http", "https") \
            or not parts.hostname or parts.username or parts.password:
        raise DomainError("invalid", N_("Enter an http:// or https:// URL."), field="url")
    resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def resolve(host, port):
    """The addresses `host` resolves to, all of them allowed targets → [ip, ...]; a
    DomainError (field url) when it does not resolve or any address is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DomainError("invalid", N_("The URL's host does not resolve."), field="url") \
            from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise DomainError("private_target", N_(
                    "The URL points to a private, loopback or link-local address; webhooks "
                    "are sent to public addresses only."), field="url")
    return addresses


# --- From audit events to deliveries (inside the drain's transaction) -----------------------


def fan_out(conn, outbox_rows, now=None):
    """audit.drain hook: make the deliveries for a batch of audit outbox rows → what queues
    them once the drain has committed (None when it made none). Costs one query when no
    endpoint is active."""
    endpoints = conn.execute(select(ENDPOINTS.c.id, ENDPOINTS.c.events)
                             .where(ENDPOINTS.c.active.is_(True))).all()
    if not endpoints or not outbox_rows:
        return None
    wanted = {event for _, events in endpoints for event in events}
    now = now or utcnow()
    deliveries = []
    for event, data in events_from(conn, outbox_rows, wanted):
        body = json.dumps({"id": str(uuid.uuid4()), "type": event, "created_at": iso_time(now),
                           "data": data}, separators=(",", ":"), default=str)
        for endpoint_id, events in endpoints:
            if event in events:
                deliveries.append({
                    "id": str(uuid.uuid4()), "endpoint_id": endpoint_id, "event": event,
                    "body": body, "status": "pending", "attempts": 0, "next_attempt_at": now,
                    "dispatched_until": now + DISPATCH_GRACE, "created_at": now})
    if not deliveries:
        return None
    conn.execute(insert(DELIVERIES), deliveries)
    ids = [d["id"] for d in deliveries]
    return lambda: deliveries_ready.send(None, ids=ids)


def events_from(conn, rows, wanted):
    """(event type, data) for the audit events in `rows` that an endpoint wants, in order."""
    from webapp.services.ledger import movement_dict

    events, movement_ids, transfer_ids = [], [], []
    for row in rows:
        action, after = row["action"], row["after"] or {}
        if action == "sale.complete":
            events.append(("sale.completed", {"sale_id": _int(row["entity_id"]), **after}))
            movement_ids += [line.get("movement_id") for line in after.get("lines", [])]
        elif action == "sale.void":
            events.append(("sale.voided", {"sale_id": _int(row["entity_id"]), **after}))
            movement_ids += after.get("reversals", [])
        elif action == "sale.return":
            movement_ids += [line.get("movement_id") for line in after.get("lines", [])]
        elif action == "movement.create":
            movement_ids.append(_int(row["entity_id"]))
        elif action == "count.apply":
            movement_ids += after.get("adjustments", [])
        elif action == "transfer.create":
            transfer_ids.append(row["entity_id"])
        elif action == "ledger.violation":
            events.append(("ledger.violation", after))
        elif action == "customer.payment":
            events.append(("customer.payment", {"customer_id": _int(row["entity_id"]), **after}))
        elif action == "closing.create":
            events.append(("closing.created", {"closing_id": _int(row["entity_id"]), **after}))
        elif action == "stock.expiring":
            events.append(("stock.expiring", after))
    events = [(event, data) for event, data in events if event in wanted]
    if not {"movement.created", "stock.low"} & wanted:
        return events
    ids = [i for i in movement_ids if isinstance(i, int)]
    query = select(MOVEMENTS)
    found = []
    if ids:
        found += conn.execute(query.where(MOVEMENTS.c.id.in_(ids))).mappings().all()
    if transfer_ids:
        found += conn.execute(query.where(MOVEMENTS.c.transfer_id.in_(transfer_ids))) \
            .mappings().all()
    found.sort(key=lambda m: m["id"])
    if "movement.created" in wanted:
        events += [("movement.created", movement_dict(m)) for m in found]
    if "stock.low" in wanted:
        events += _low_stock(conn, found)
    return events


def _low_stock(conn, movements):
    """stock.low for each movement that took its level from above the reorder level to at or
    below it."""
    from webapp.models import Product, StockLevel

    falling = [m for m in movements if m["delta"] < 0]
    if not falling:
        return []
    levels, products = StockLevel.__table__, Product.__table__
    pairs = {(m["store_id"], m["product_id"]) for m in falling}
    rows = conn.execute(
        select(levels.c.store_id, levels.c.product_id, products.c.sku, products.c.name,
               func.coalesce(levels.c.reorder_level, products.c.reorder_level).label("reorder"))
        .join(products, products.c.id == levels.c.product_id)
        .where(levels.c.product_id.in_({p for _, p in pairs}),
               levels.c.store_id.in_({s for s, _ in pairs}))).all()
    reorder = {(r.store_id, r.product_id): r for r in rows}
    events = []
    for m in falling:
        r = reorder.get((m["store_id"], m["product_id"]))
        if r is None or r.reorder is None:
            continue
        before = m["balance_after"] - m["delta"]
        if m["balance_after"] <= r.reorder < before:
            events.append(("stock.low", {
                "store_id": m["store_id"], "product_id": m["product_id"], "sku": r.sku,
                "name": r.name, "quantity": _text(m["balance_after"]),
                "reorder_level": _text(r.reorder), "movement_id": m["id"]}))
    return events


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _text(value):
    return None if value is None else f"{value:f}"


# --- Sending ----------------------------------------------------------------------------------


def sign(secret, timestamp, body):
    """The hex HMAC-SHA256 of "<t>.<body>" with the secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(endpoint, timestamp, body, now):
    values = [f"t={timestamp}", f"v1={sign(endpoint['secret'], timestamp, body)}"]
    if endpoint["previous_secret"] and endpoint["previous_secret_until"] and \
            endpoint["previous_secret_until"] > now:
        values.append(f"v1={sign(endpoint['previous_secret'], timestamp, body)}")
    return ",".join(values)


def retry_delay(attempts):
    """Seconds before the next attempt after `attempts` failed ones: WEBHOOK_RETRY_SECONDS in
    turn, then its last value again and again."""
    steps = current_app.config["WEBHOOK_RETRY_SECONDS"]
    return steps[min(attempts, len(steps)) - 1]


def send(delivery_id):
    """One attempt at a delivery, if it is due and no other sender holds it → its status
    afterwards ("delivered", "pending" or "failed"), or None when there was nothing to do."""
    config = current_app.config
    now = utcnow()
    # Longer than an attempt can take: its connect and read timeouts, and a margin.
    lease = now + timedelta(seconds=2 * config["WEBHOOK_TIMEOUT_SECONDS"] + 5)
    claimed = db.session.execute(
        update(DELIVERIES).where(
            DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "pending",
            DELIVERIES.c.next_attempt_at <= now,
            (DELIVERIES.c.leased_until.is_(None)) | (DELIVERIES.c.leased_until < now))
        # Taken: from now on the lease, not the dispatch mark, says when it may be sent again.
        .values(leased_until=lease, dispatched_until=None, attempts=DELIVERIES.c.attempts + 1)
        .returning(DELIVERIES.c.endpoint_id, DELIVERIES.c.event, DELIVERIES.c.body,
                   DELIVERIES.c.attempts, DELIVERIES.c.created_at)).first()
    endpoint = db.session.execute(select(ENDPOINTS).where(ENDPOINTS.c.id == claimed.endpoint_id)) \
        .mappings().first() if claimed else None
    db.session.commit()  # the lease is ours before the first byte goes out
    if claimed is None:
        return None
    if not endpoint["active"]:
        return _finish(delivery_id, "failed", None, "endpoint deactivated")
    body = claimed.body.encode()
    status, error = post(endpoint, delivery_id, claimed.event, body)
    if status is not None and 200 <= status < 300:
        return _finish(delivery_id, "delivered", status, None)
    given_up = utcnow() - claimed.created_at >= timedelta(hours=config["WEBHOOK_GIVE_UP_HOURS"])
    if given_up:
        return _finish(delivery_id, "failed", status, error)
    return _finish(delivery_id, "pending", status, error,
                   next_attempt_at=utcnow() + timedelta(seconds=retry_delay(claimed.attempts)))


def _finish(delivery_id, status, http_status, error, next_attempt_at=None):
    values = {"status": status, "last_status": http_status, "leased_until": None,
              "last_error": (error or "")[:500] or None}
    if status == "delivered":
        values["delivered_at"] = utcnow()
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
        values["dispatched_until"] = None
    db.session.execute(update(DELIVERIES).where(DELIVERIES.c.id == delivery_id).values(**values))
    db.session.commit()
    if status != "delivered":
        log.warning("webhook delivery %s: %s (%s)", delivery_id, status, error or http_status)
    return status


def post(endpoint, delivery_id, event, body):
    """POST the body to the endpoint's checked address → (HTTP status or None, error text)."""
    import urllib3

    config = current_app.config
    parts = urlsplit(endpoint["url"])
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve(parts.hostname, port)[0]
    except DomainError as refused:
        return None, refused.message
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json", "User-Agent": "Kiryana-Webhooks/1",
        "Host": parts.netloc.rsplit("@", 1)[-1], "X-Kiryana-Event": event,
        "X-Kiryana-Delivery": delivery_id,
        SIGNATURE_HEADER: signature_header(endpoint, timestamp, body, utcnow()),
    }
    timeout = urllib3.Timeout(connect=min(5.0, config["WEBHOOK_TIMEOUT_SECONDS"]),
                              read=config["WEBHOOK_TIMEOUT_SECONDS"])
    if parts.scheme == "https":
        import certifi

        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False,
                                           server_hostname=parts.hostname,
                                           assert_hostname=parts.hostname,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False,
                                preload_content=False)
        answer = response.read(MAX_ANSWER, decode_content=False)
        response.release_conn()
        error = None if 200 <= response.status < 300 else \
            f"HTTP {response.status}: {answer[:200].decode(errors='replace')}"
        return response.status, error
    except urllib3.exceptions.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:500]
    finally:
        pool.close()


def seconds_until_due(delivery_id):
    """Seconds until a pending delivery's next attempt (None if it is not pending)."""
    row = db.session.execute(select(DELIVERIES.c.status, DELIVERIES.c.next_attempt_at)
                             .where(DELIVERIES.c.id == delivery_id)).first()
    db.session.commit()
    if row is None or row.status != "pending":
        return None
    return max((row.next_attempt_at - utcnow()).total_seconds(), 0.0)


def due(limit=500):
    """Deliveries due and held by no sender, marked as queued for a while → their ids (the
    sweep queues them: a lost enqueue, a sender killed mid-send, a retry whose time came)."""
    now = utcnow()
    conn = db.session.connection()
    from webapp.services.sql import skip_locked

    ids = conn.execute(skip_locked(conn, select(DELIVERIES.c.id).where(
        DELIVERIES.c.status == "pending", DELIVERIES.c.next_attempt_at <= now,
        (DELIVERIES.c.leased_until.is_(None)) | (DELIVERIES.c.leased_until < now),
        (DELIVERIES.c.dispatched_until.is_(None)) | (DELIVERIES.c.dispatched_until < now))
        .order_by(DELIVERIES.c.next_attempt_at).limit(limit))).scalars().all()
    if ids:
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.id.in_(ids)).values(
            dispatched_until=now + DISPATCH_GRACE))
    db.session.commit()
    return ids


# --- What admins see and do -----------------------------------------------------------------


def deliveries(endpoint_id, page=1, per_page=50):
    """A Page of an endpoint's deliveries, newest first."""
    endpoint = _endpoint_row(endpoint_id)
    query = select(DELIVERIES).where(DELIVERIES.c.endpoint_id == endpoint["id"])
    return paginate(query, (DELIVERIES.c.created_at.desc(), DELIVERIES.c.id), page, per_page,
                    rows=lambda q: [delivery_dict(r) for r in db.session.execute(q).mappings()])


def redeliver(actor, delivery_id):
    """Send a delivery again now, with the same id (delivered, failed or still pending)."""
    row = db.session.execute(select(DELIVERIES).where(DELIVERIES.c.id == str(delivery_id)[:36])) \
        .mappings().first()
    if row is None:
        raise NotFound("Delivery")
    now = utcnow()
    if row["status"] == "pending" and row["leased_until"] and row["leased_until"] > now:
        raise DomainError("delivery_in_flight", N_("This delivery is being sent right now."),
                          status=409)
    conn = db.session.connection()
    conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == row["id"]).values(
        status="pending", next_attempt_at=now, dispatched_until=now + DISPATCH_GRACE,
        created_at=now if row["status"] == "failed" else row["created_at"]))
    audit.record(conn, actor, "webhook.redeliver", "webhook_delivery", row["id"])
    queued = delivery_dict(db.session.execute(
        select(DELIVERIES).where(DELIVERIES.c.id == row["id"])).mappings().one())
    db.session.commit()
    deliveries_ready.send(None, ids=[row["id"]])
    return queued


def delivery_dict(row):
    return {"id": row["id"], "endpoint_id": row["endpoint_id"], "event": row["event"],
            "status": row["status"], "attempts": row["attempts"],
            "last_status": row["last_status"], "last_error": row["last_error"],
            "next_attempt_at": iso_time(row["next_attempt_at"])
            if row["status"] == "pending" else None,
            "created_at": iso_time(row["created_at"]),
            "delivered_at": iso_time(row["delivered_at"]), "body": row["body"]}
