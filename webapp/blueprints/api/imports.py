"""/imports: a CSV or .xlsx file checked (dry run) and imported by a worker, with progress."""
from typing import Literal

from flask import current_app, request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, api_permission
from webapp.blueprints.api.spec import responses, spec
from webapp.jobs import queueing, tasks
from webapp.models import IMPORT_KINDS
from webapp.services import imports
from webapp.services.errors import DomainError


class ImportAccepted(BaseModel):
    job_id: str
    status: Literal["checked", "queued", "running", "done", "failed"]
    status_url: str


class Refusal(BaseModel):
    line: int = Field(description="Line in the file (1 is the header).")
    column: str
    code: str = Field(description="missing_sku, bad_number, unknown_unit, duplicate_sku, "
                                  "unknown_store, unknown_sku, unknown_supplier, invalid, …")
    message: str


class ImportStatus(BaseModel):
    job_id: str
    kind: Literal[IMPORT_KINDS]
    filename: str
    status: Literal["checked", "queued", "running", "done", "failed"]
    dry_run: bool = Field(description="True until the import is confirmed: nothing written.")
    total: int
    processed: int
    percent: int
    created: int
    updated: int
    unchanged: int
    refused: int
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    refusals: list[Refusal]


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@bp.post("/imports")
@api_permission("imports.run")
@spec.validate(resp=responses(HTTP_202=ImportAccepted), tags=["imports"])
def create_import():
    """multipart/form-data: `file` (CSV or .xlsx), `kind` (products, opening_stock,
    supplier_prices), `dry_run` (default true: only check), optional `supplier_id`.
    202 {job_id}; GET the status_url for the counts, progress and refused rows."""
    request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
    upload = request.files.get("file")
    if upload is None:
        raise DomainError("invalid", "Send the file as multipart/form-data field `file`.",
                          field="file")
    kind = request.form.get("kind", "")
    if kind not in IMPORT_KINDS:
        raise DomainError("invalid", f"kind must be one of: {', '.join(IMPORT_KINDS)}.",
                          field="kind")
    job_id = imports.check(actor(), kind, upload.read(), upload.filename or "",
                           supplier_id=request.form.get("supplier_id") or None)
    status = "checked"
    if not _flag(request.form.get("dry_run", "true")):
        imports.confirm(actor(), job_id, api_user())
        queueing.enqueue("default", tasks.run_import, job_id)
        status = imports.status(job_id, api_user())["status"]
    return {"job_id": job_id, "status": status,
            "status_url": f"{bp.url_prefix}/imports/{job_id}"}, 202


@bp.post("/imports/<job_id>/confirm")
@api_permission("imports.run")
@spec.validate(resp=responses(HTTP_202=ImportAccepted), tags=["imports"])
def confirm_import(job_id):
    """Import a checked (dry-run) file: 202; confirming twice is harmless."""
    job_id = imports.confirm(actor(), job_id, api_user())
    queueing.enqueue("default", tasks.run_import, job_id)
    return {"job_id": job_id, "status": imports.status(job_id, api_user())["status"],
            "status_url": f"{bp.url_prefix}/imports/{job_id}"}, 202


@bp.get("/imports/<job_id>")
@api_permission("imports.run")
@spec.validate(resp=responses(HTTP_200=ImportStatus), tags=["imports"])
def import_status(job_id):
    """Progress (processed of total), the counts, and every refused row's line, column and
    reason."""
    return imports.status(job_id, api_user())
