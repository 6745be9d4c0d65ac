"""Schemathesis against /api/v1/openapi.json: no 500, and every response matches the document."""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_client import token_for
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp import create_app
from webapp.services import commands, ledger

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]



def _document():
    """The document as the app serves it (serving it needs no database)."""
    return create_app(_config("sqlite://")).test_client().get("/api/v1/openapi.json").json


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def admin_token(app):
    """Seeded data the generated requests can hit: ids 1–3 exist, with some stock."""
    stores = [make_store() for _ in range(3)]
    products = [make_product(unit="piece") for _ in range(3)]
    make_supplier()
    for store in stores:
        for product in products:
            ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                  product_id=product.id,
                                                                  type="stock_in", quantity=50))
    return token_for(make_user(role="admin"))


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@pytest.mark.slow  # generated cases for every operation: a minute and more of CPU
def test_every_operation_conforms(case, app, admin_token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {admin_token}"}
    case.call_and_validate(app=app, checks=CHECKS)
