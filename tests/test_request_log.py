"""Issue 23: the request log names a bearer token's user, keeps gunicorn's own log format
working, and cannot be given a forged field by a path with spaces."""
import io
import logging

import pytest
from gunicorn.glogging import CONFIG_DEFAULTS, Logger

from tests.api_client import api_as
from webapp.web import request_log


@pytest.fixture
def request_lines(caplog):
    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "kiryana.request"]
    with caplog.at_level("INFO", logger="kiryana.request"):
        yield lines


def test_a_bearer_request_logs_the_tokens_user(app, request_lines):
    api = api_as(app, "manager")
    assert api.get("/api/v1/stores").status_code == 200
    [line] = [line for line in request_lines() if "/api/v1/stores" in line]
    assert f"user={api.user.id} " in line


def test_a_path_with_spaces_cannot_forge_the_lines_fields(client, request_lines):
    forged = "/x 200 0.1ms rid=forged user=1 ip=10.0.0.1 /y"
    client.get(forged)
    [line] = [line for line in request_lines() if "forged" in line]
    fields = line.split(" ")
    assert fields[0] == "GET"
    assert fields[1] == "/x%20200%200.1ms%20rid=forged%20user=1%20ip=10.0.0.1%20/y"
    assert fields[2] == "404" and len(fields) == 7
    assert line.count(" rid=") == 1 and line.count(" user=") == 1


@pytest.fixture
def lighter_records():
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses,
             logging.logMultiprocessing)
    request_log._lighter_records()
    yield
    (logging._srcfile, logging.logThreads, logging.logProcesses,
     logging.logMultiprocessing) = saved


def test_lighter_records_keep_gunicorns_log_format_working(lighter_records, monkeypatch):
    errors = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: errors.append(record))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(Logger.error_fmt, Logger.datefmt))
    logger = logging.getLogger("test.gunicorn.error")
    logger.addHandler(handler)
    try:
        logger.error("Booting worker with pid: %s", 42)
    finally:
        logger.removeHandler(handler)
    assert errors == [] and "[ERROR] Booting worker" in out.getvalue()
    assert CONFIG_DEFAULTS["formatters"]["generic"]["format"] == Logger.error_fmt
