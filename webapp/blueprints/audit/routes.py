"""The audit log page: events told in words, filtered by who, what, which and when."""
from flask import render_template, request
from flask_babel import gettext as _

from webapp.blueprints.audit import bp, sentences
from webapp.infra.replica import replica_reads
from webapp.services import audit, audit_names
from webapp.services.errors import DomainError
from webapp.web.access import page_permission
from webapp.web.paging import page_arg
from webapp.web.periods import span_words

PER_PAGE = 50
FILTERS = ("actor", "action", "entity_type", "entity_id", "from", "to")


@bp.get("/")
@page_permission("audit.view")
@replica_reads
def index():
    """The audit log, newest first, each event in words with the raw event one tap away;
    filters (actor, action, entity, date range) folded away on a phone."""
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
    names = audit_names.for_events(events)
    told = [(event, sentences.sentence(event, names)) for event in events]
    return render_template("audit/index.html", events=told, total=total, page=page,
                           pages=pages, filters=filters, error=error,
                           filter_words=_filter_words(filters)), status


def _filter_words(filters):
    """What the folded filters hold, in words, for the summary a phone shows."""
    words = [span_words(filters["from"], filters["to"]), filters["actor"], filters["action"]]
    if filters["entity_type"] or filters["entity_id"]:
        words.append(" #".join(v for v in (filters["entity_type"], filters["entity_id"]) if v))
    return [w for w in words if w] or [_("Everything")]
