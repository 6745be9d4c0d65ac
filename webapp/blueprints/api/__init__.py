"""The JSON API at /api/v1: bearer tokens, JSON envelopes, idempotent POSTs, OpenAPI.

To add an endpoint module (say `sync.py`):
1. Declare pydantic models once: bodies extend `spec.Body`, list queries extend `spec.PageQuery`,
   lists answer `spec.page_model(ItemModel)` built with `spec.page_of(model, page)`
   from the service's services/paging.Page.
2. `from webapp.blueprints.api import bp` and route with `@bp.post("/sync")`, then
   `@spec.validate(json=..., query=..., resp=spec.responses(HTTP_202=Model), tags=["sync"])`.
   It validates (422 envelope per field), serialises and documents it in /api/v1/openapi.json.
3. Read the validated input from `request.context.json` / `request.context.query`.
4. Auth and the per-token rate limit are done (401, 429); `auth.api_user()` is a Principal (id,
   role, store_ids), `auth.actor()` the audit Actor (source "api"); use
   `auth.api_permission("<permission>")` (services/policy.py's table; 403) and
   `auth.store_or_404(id)` / `auth.check_store(id)` (404).
5. Writes: the body of a command is built from it (`spec.body_model(commands.X, name)`, or
   from the `commands.XRequest` it declares, with `path=` the fields the URL gives and `models=`
   its lines' models): never restate a command's field (tests/test_commands.py checks). Build
   the command with `commands.X.parse(**body.model_dump(exclude_unset=True))`, hand it to the
   handler with `idempotency.request_key()` and answer `idempotency.ledger_response(result)`;
   wrap other writes in `idempotency.run_once(payload, call)`.
6. Raise DomainError from services; errors.py renders it. Import your module at the bottom here.
"""
from flask import Blueprint

from webapp.blueprints.api import errors, hooks

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)
hooks.register(bp)


from webapp.blueprints.api import (  # noqa: E402,F401
                                   audit,
                                   closings,
                                   customers,
                                   imports,
                                   movements,
                                   openapi,
                                   products,
                                   purchase_orders,
                                   reports,
                                   sales,
                                   stores,
                                   suppliers,
                                   sync,
                                   tokens,
                                   transfers,
                                   webhooks,
)
