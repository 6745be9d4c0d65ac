"""Upload → dry run (counts and every refused row) → confirm → a job with a progress bar."""
from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.blueprints.imports import bp
from webapp.blueprints.reports import export
from webapp.jobs import queueing, tasks
from webapp.models import IMPORT_KINDS
from webapp.services import imports, purchasing
from webapp.services.errors import DomainError
from webapp.web import access
from webapp.web.htmx import redirect_to, render, render_fragment

KIND_LABELS = {"products": _l("Products (create or update by SKU)"),
               "opening_stock": _l("Opening stock per store"),
               "supplier_prices": _l("Supplier price list")}
STATUS_LABELS = {"checked": _l("Checked (not imported yet)"), "queued": _l("Waiting to start"),
                 "running": _l("Importing"), "done": _l("Done"), "failed": _l("Failed")}


@bp.app_context_processor
def _labels():
    return {"import_kind": lambda k: KIND_LABELS.get(k, k),
            "import_status": lambda s: STATUS_LABELS.get(s, s)}


def _form_page(error=None, status=200):
    return render("imports/new.html", status=status, error=error, kinds=IMPORT_KINDS,
                  suppliers=purchasing.visible_suppliers(),
                  jobs=imports.recent_jobs(current_user), form=request.form)


@bp.get("/")
@access.page_permission("imports.run")
def new():
    """The upload form and the last imports."""
    return _form_page()


@bp.post("/")
@access.page_permission("imports.run")
def upload():
    """Check the file (a dry run: nothing is written) and show what it would do."""
    request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
    upload = request.files.get("file")
    try:
        content = upload.read() if upload else b""
        job_id = imports.check(access.actor(), request.form.get("kind", ""), content,
                               upload.filename if upload else "",
                               supplier_id=request.form.get("supplier_id") or None)
    except DomainError as error:
        return _form_page(error, 422)
    return redirect_to(url_for("imports.job", job_id=job_id))


@bp.get("/<job_id>")
@access.page_permission("imports.run")
def job(job_id):
    """A job: the dry run's results and the confirm button, or its progress, or its summary."""
    job = imports.get_job(job_id, current_user)
    return render("imports/job.html", job=job, s=imports.status_dict(job))


@bp.get("/<job_id>/progress")
@access.page_permission("imports.run")
def progress(job_id):
    """The progress block alone, for htmx's poll (it stops polling once the job is over)."""
    job = imports.get_job(job_id, current_user)
    return render_fragment("imports/job.html", "progress", job=job, s=imports.status_dict(job))


@bp.post("/<job_id>/confirm")
@access.page_permission("imports.run")
def confirm(job_id):
    """Import it: queue the job (run at once in-process without Redis)."""
    job_id = imports.confirm(access.actor(), job_id, current_user)
    queueing.enqueue("default", tasks.run_import, job_id)
    flash(_("Import started."), "success")
    return redirect_to(url_for("imports.job", job_id=job_id))


@bp.get("/<job_id>/refused.csv")
@access.page_permission("imports.run")
def refused_csv(job_id):
    """The refused rows with their line, column and reason, to fix and import again."""
    job = imports.get_job(job_id, current_user)
    rows = list(imports.refused_rows(job))
    return export.stream(f"refused-{job.id[:8]}.csv", rows[0], rows[1:])
