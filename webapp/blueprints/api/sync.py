"""/sync: a batch of up to 1,000 movements applied by a worker, exactly once per client id."""
from typing import Annotated, Any, Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user
from webapp.blueprints.api.idempotency import run_once
from webapp.blueprints.api.movements import MovementCreate
from webapp.blueprints.api.spec import Body, responses, spec
from webapp.jobs import queueing, tasks
from webapp.services import commands, sync
from webapp.services.errors import DomainError


class SyncMovement(MovementCreate):
    id: Annotated[str, Field(strict=True)] | Annotated[int, Field(strict=True)] = Field(
        description="The client's id for this movement; the same id is never applied twice "
                    "(per user).")


class SyncBatch(Body):
    movements: list[SyncMovement] = Field(min_length=1, description=(
        f"At most {sync.MAX_ITEMS} (413 when more)."))


class SyncAccepted(BaseModel):
    job_id: str
    status_url: str


class SyncItemOut(BaseModel):
    id: str
    status: Literal["pending", "applied", "failed"]
    movement: dict[str, Any] | None = None
    level: dict[str, Any] | None = None
    replayed: bool | None = Field(None, description="True when this client id had already "
                                                    "been applied: the first result is shown.")
    error: dict[str, Any] | None = None


class SyncStatus(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    total: int
    applied: int
    failed: int
    pending: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    items: list[SyncItemOut]


@bp.post("/sync")
@spec.validate(json=SyncBatch, resp=responses(HTTP_202=SyncAccepted), tags=["sync"])
def submit_sync():
    """Queue a batch: 202 {job_id}; a worker applies each movement through the stock ledger."""
    items = [(item.id, _command(i, item.model_dump(exclude={"id"}, exclude_unset=True)))
             for i, item in enumerate(request.context.json.movements)]
    body, status, *replayed = run_once(request.get_json(), lambda: _accept(items))
    # Enqueue even on a replay: if the first enqueue was lost, this one finds the work.
    queueing.enqueue("sync", tasks.run_sync, body["job_id"])
    return (body, status, *replayed)


def _command(i, values):
    """The item's movement command; an error names the item (movements.<i>.<field>)."""
    try:
        return commands.Movement.parse(**values)
    except DomainError as error:
        error.fields = {f"movements.{i}.{name}": text for name, text in error.fields.items()}
        raise


def _accept(items):
    job_id = sync.submit(actor(), items)
    return {"job_id": job_id, "status_url": f"{bp.url_prefix}/sync/{job_id}"}, 202


@bp.get("/sync/<job_id>")
@spec.validate(resp=responses(HTTP_200=SyncStatus), tags=["sync"])
def sync_status(job_id):
    """A batch's status and each item's result (its movement and level, or its error)."""
    return sync.status(job_id, api_user())
