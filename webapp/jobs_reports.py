"""Report jobs: keep the roll-ups and store totals of services/report_rollups.py up to date.

Production: every worker's sweep refreshes them once they are REPORTS_ROLLUP_MAX_AGE old (or cron:
`flask reports refresh`). Without Redis (the embedded default) there is no worker, so report
views refresh inline when the last refresh is older than REPORTS_ROLLUP_MAX_AGE seconds.
"""
from flask import current_app

from webapp import routing
from webapp.services import report_rollups

DEFAULT_MAX_AGE = 60


def refresh_report_rollups(full=False):
    """RQ entry point (runs inside the worker's app context); returns how many days it redid."""
    days = report_rollups.refresh(full=full)
    return None if days is None else len(days)


def refresh_inline_without_worker():
    """Embedded mode: no worker refreshes the roll-ups, so the request that finds them stale does."""
    if current_app.config.get("REDIS_URL"):
        return
    with routing.primary():
        report_rollups.refresh_if_stale(current_app.config.get("REPORTS_ROLLUP_MAX_AGE",
                                                               DEFAULT_MAX_AGE))
