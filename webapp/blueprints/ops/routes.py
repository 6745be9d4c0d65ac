from flask import jsonify
from sqlalchemy import text

from webapp.blueprints.ops import bp
from webapp.extensions import csrf, db, limiter


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Liveness: the process answers; touches no database."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Readiness: the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        db.session.rollback()
        return jsonify(status="unavailable", database=str(exc.__class__.__name__)), 503
    return jsonify(status="ok", database="ok")


csrf.exempt(bp)
