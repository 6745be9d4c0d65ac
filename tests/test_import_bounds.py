"""Issue 23: no file within the upload limit can take the import's time or memory with it.

The .xlsx dimension bomb (a 1.5 kB sheet declaring A1:XFD8000) took 36 s and grew the process
from 110 MB to 1,139 MB before the fix; it is now refused in milliseconds, in the web process
(the API and the page) and in the worker, which reads the stored file again when it runs the
job. CSV: a field past the csv module's limit, a row wider than the import reads.
"""
import io
import resource
import time
import uuid

import pytest
from sqlalchemy import insert

from tests.api_client import api_as
from tests.factories import login, make_user
from tests.xlsx_files import FALSE_DIMENSION, LONG_BOMB, WIDE_BOMB
from webapp.extensions import db
from webapp.jobs import tasks
from webapp.models import ImportJob, Product
from webapp.models.types import utcnow
from webapp.services import imports


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Measured:
    """Wall time and growth of the process's peak memory over a block."""

    def __enter__(self):
        self.peak, self.start = _peak_mb(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.grew_mb = _peak_mb() - self.peak
        print(f"{self.seconds:.3f} s, peak memory +{self.grew_mb:.0f} MB")


def _upload(api, content, filename="bomb.xlsx"):
    return api.client.post("/api/v1/imports", data={
        "kind": "products", "file": (io.BytesIO(content), filename)},
        headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")


@pytest.mark.parametrize("content,code", [(WIDE_BOMB, "too_many_columns"),
                                          (LONG_BOMB, "too_many_rows")])
def test_a_sheet_too_wide_or_too_long_is_refused_at_once_by_the_api(app, content, code):
    api = api_as(app, "manager")
    _upload(api, FALSE_DIMENSION)  # openpyxl and the route warmed up: the bomb is measured alone
    with Measured() as spent:
        sent = _upload(api, content)
    assert sent.status_code == 422, sent.json
    assert sent.json["error"]["code"] == code and "file" in sent.json["error"]["fields"]
    assert spent.seconds < 1 and spent.grew_mb < 50


def test_a_false_dimension_is_not_believed(app):
    api = api_as(app, "manager")
    with Measured() as spent:
        sent = _upload(api, FALSE_DIMENSION)
    assert sent.status_code == 202, sent.json
    status = api.get(sent.json["status_url"]).json
    assert (status["total"], status["created"], status["refused"]) == (1, 1, 0)
    assert spent.seconds < 1 and spent.grew_mb < 50


def test_the_import_page_refuses_the_bomb_inline(app, client):
    user = make_user(role="manager")
    login(client, user)
    page = client.post("/imports/", data={"kind": "products", "file": (
        io.BytesIO(WIDE_BOMB), "bomb.xlsx")}, content_type="multipart/form-data")
    assert page.status_code == 422
    assert "at most 64 columns" in page.get_data(as_text=True)


def test_the_worker_refuses_a_stored_bomb_at_once(app):
    """A job whose file was stored before the bound (or by any other way) fails cleanly when a
    worker runs it: the job says why, nothing is written, in well under a second."""
    user = make_user(role="manager")
    tasks.run_import(str(uuid.uuid4()))  # warm up: an unknown job is a no-op
    job_id = str(uuid.uuid4())
    db.session.execute(insert(ImportJob.__table__).values(
        id=job_id, user_id=user.id, kind="products", filename="bomb.xlsx", content=WIDE_BOMB,
        status="queued", processed=0, total=1, created=1, updated=0, unchanged=0, refused=0,
        refusals=[], created_at=utcnow(), heartbeat_at=utcnow()))
    db.session.commit()
    with Measured() as spent:
        assert tasks.run_import(job_id) is None
    job = imports.status(job_id, user)
    assert job["status"] == "failed" and "at most 64 columns" in job["error"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == 0
    assert spent.seconds < 1 and spent.grew_mb < 50


@pytest.mark.parametrize("door", ["api", "page"])
def test_a_csv_field_longer_than_the_csv_module_reads_is_a_422(app, client, door):
    content = ("sku,name\nLONG-1," + "x" * 140_000 + "\n").encode()
    if door == "api":
        sent = _upload(api_as(app, "manager"), content, "long.csv")
        assert sent.status_code == 422, sent.json
        assert sent.json["error"]["code"] == "unreadable_file"
    else:
        login(client, make_user(role="manager"))
        sent = client.post("/imports/", data={"kind": "products", "file": (
            io.BytesIO(content), "long.csv")}, content_type="multipart/form-data")
        assert sent.status_code == 422
        assert "cannot be read as CSV" in sent.get_data(as_text=True)


def test_a_csv_row_wider_than_the_import_reads_is_a_422(app):
    content = ("sku,name\nWIDE-1,Wide" + ",x" * 100 + "\n").encode()
    sent = _upload(api_as(app, "manager"), content, "wide.csv")
    assert sent.status_code == 422 and sent.json["error"]["code"] == "too_many_columns"
