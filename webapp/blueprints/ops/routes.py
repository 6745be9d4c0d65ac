import hmac
import ipaddress

from flask import Response, abort, current_app, jsonify, request
from sqlalchemy import text

from webapp.blueprints.ops import bp, exposition
from webapp.extensions import csrf, db, limiter
from webapp.infra import redisconn


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Liveness: the process answers; touches no database."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Readiness: the database answers (503 if not); Redis is reported.

    A dead Redis only makes the app slower (cache, queues and rate limits fall back), so it
    reports "degraded" with 200 rather than taking every instance out of the load balancer.
    """
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        db.session.rollback()
        return jsonify(status="unavailable", database=str(exc.__class__.__name__)), 503
    redis_ok = redisconn.ping()
    redis_state = {None: "not configured", True: "ok", False: "unavailable"}[redis_ok]
    return jsonify(status="degraded" if redis_ok is False else "ok", database="ok",
                   redis=redis_state)


def _may_scrape():
    """Development and tests: anyone. Otherwise METRICS_TOKEN as a bearer token, or a client
    address inside METRICS_ALLOW (with TRUSTED_PROXY_HOPS set, the real client's)."""
    config = current_app.config
    if config["METRICS_PUBLIC"]:
        return True
    token = config["METRICS_TOKEN"]
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(),
                                                                    token.encode()):
        return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(net, strict=False)
               for net in config["METRICS_ALLOW"] or ())


@bp.get("/metrics")
@limiter.exempt
def prometheus_metrics():
    """Prometheus scrape endpoint: closed in production except to METRICS_TOKEN/METRICS_ALLOW.

    Refused scrapes are a plain 404 and cost no database query."""
    if not _may_scrape():
        abort(404)
    body, content_type = exposition.exposition()
    return Response(body, content_type=content_type)


csrf.exempt(bp)
