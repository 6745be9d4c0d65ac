"""Flask-Limiter without its per-request pass when that pass has nothing to check.

Flask-Limiter runs a before_request hook on every request for default, application, blueprint
and meta limits. A limit declared with `@limiter.limit` on a view is checked by the decorator's
own wrapper when that view runs, and the API's per-token limit by blueprints/api/limits.py, so
while none of the other kinds is declared the hook only resolves, for every request, that there
is nothing to do: about a tenth of a /healthz's CPU under gunicorn (docs/performance.md). It is
taken out then, and left in place the moment any such limit is declared.
"""
from webapp.extensions import limiter


def _middleware_has_work(app):
    manager = limiter.limit_manager
    return bool(manager.default_limits or manager.application_limits
                or manager._blueprint_limits or limiter._meta_limits
                or any(app.config.get(key) for key in (
                    "RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")))


def drop_idle_middleware(app):
    """Call after the blueprints are registered (a blueprint-wide limit is declared then)."""
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks and not _middleware_has_work(app):
        hooks.remove(limiter._check_request_limit)
