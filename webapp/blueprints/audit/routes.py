from flask import render_template, request

from webapp.blueprints.audit import bp
from webapp.infra.replica import replica_reads
from webapp.services import audit
from webapp.services.errors import DomainError
from webapp.web.access import permission_required
from webapp.web.paging import page_arg

PER_PAGE = 50
FILTERS = ("actor", "action", "entity_type", "entity_id", "from", "to")


@bp.get("/")
@permission_required("audit.view")
@replica_reads
def index():
    """The audit log with filters (actor, action, entity, date range), newest first."""
    filters = {name: request.args.get(name, "").strip() for name in FILTERS}
    page = page_arg()
    error = None
    try:
        result = audit.search(
            actor=filters["actor"], action=filters["action"],
            entity_type=filters["entity_type"], entity_id=filters["entity_id"],
            date_from=filters["from"], date_to=filters["to"], page=page,
            per_page=PER_PAGE)
        events, total = result.items, result.total
    except DomainError as exc:
        events, total, error = [], 0, exc
    pages = max(1, -(-total // PER_PAGE))
    status = 422 if error else 200
    return render_template("audit/index.html", events=events, total=total, page=page,
                           pages=pages, filters=filters, error=error), status
