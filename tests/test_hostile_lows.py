"""Issue 23's low findings, each a 4xx (or a clean result) where it was a 500."""
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api_client import api_as
from tests.factories import PASSWORD, login, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import User


def _import(api, content, filename):
    return api.client.post("/api/v1/imports", data={
        "kind": "products", "file": (io.BytesIO(content), filename)},
        headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")


@pytest.mark.postgres
def test_a_nul_in_an_upload_filename_is_a_422_on_postgresql(pg_app):
    api = api_as(pg_app, "manager")
    sent = _import(api, b"sku,name\nNUL-1,Nul\n", "list\x00.csv")
    assert sent.status_code == 422, sent.json
    assert "file" in sent.json["error"]["fields"]
    page = pg_app.test_client()
    login(page, make_user(role="manager"))
    refused = page.post("/imports/", data={"kind": "products", "file": (
        io.BytesIO(b"sku,name\nNUL-1,Nul\n"), "list\x00.csv")}, content_type="multipart/form-data")
    assert refused.status_code == 422


def test_basket_replace_with_lines_nested_1000_deep_is_a_400(app, client):
    store = make_store()
    login(client, make_user(role="shopkeeper", stores=[store]))
    nested = "[" * 1000 + "]" * 1000
    response = client.post(f"/stores/{store.id}/basket/replace", data={"lines": nested})
    assert response.status_code == 400


def test_an_import_may_be_larger_than_the_other_requests(app):
    """IMPORT_MAX_BYTES (16 MB) takes effect: the guard no longer reads the multipart body under
    MAX_CONTENT_LENGTH (2 MB) first. Other requests keep the 2 MB limit."""
    kept = ",".join(f"note{i}" for i in range(25))
    filler = ",".join("x" * 120_000 for _ in range(25))
    content = f"sku,name,{kept}\nBIG-1,Big,{filler}\n".encode()
    assert len(content) > app.config["MAX_CONTENT_LENGTH"]
    sent = _import(api_as(app, "manager"), content, "big.csv")
    assert sent.status_code == 202, sent.json
    other = api_as(app, "manager").post("/api/v1/products", data=b"x" * len(content),
                                        headers={"Content-Type": "application/json"})
    assert other.status_code == 413


@pytest.mark.postgres
def test_forty_concurrent_edits_of_one_user_give_no_500(pg_app):
    stores = [make_store() for _ in range(4)]
    target = make_user(role="shopkeeper", stores=stores[:1])
    admins = [make_user(role="admin") for _ in range(40)]
    clients = []
    for admin in admins:
        client = pg_app.test_client()
        with pg_app.app_context():
            assert login(client, admin).status_code == 303
        clients.append(client)
    store_ids, target_id = [str(s.id) for s in stores], target.id
    start = threading.Barrier(40)

    def edit(i):
        start.wait()
        chosen = store_ids[: 1 + i % 4]
        return clients[i].post(f"/users/{target_id}/edit", data={
            "role": "shopkeeper", "stores": chosen, "active": "y",
            "full_name": f"Edit {i}"}).status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(edit, range(40)))
    assert statuses.count(303) == 40, statuses
    db.session.expire_all()
    user = db.session.get(User, target_id)
    assert 1 <= len(user.store_ids) <= 4


def _run_import(user, content):
    from webapp.services import imports
    from webapp.services.audit import Actor

    actor = Actor(user_id=user.id, source="web", ip="127.0.0.1")
    job_id = imports.check(actor, "products", content, "list.csv")
    dry = imports.status(job_id, user)
    imports.confirm(actor, job_id, user)
    imports.run(job_id)
    return dry, imports.status(job_id, user)


def test_an_import_matches_skus_as_they_are_stored(app):
    """Full-width ＣＨＥＥＮＩ is the stored CHEENI: planned as an update, not a create."""
    from webapp.models import Product

    make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150")
    user = make_user(role="manager")
    dry, done = _run_import(user, "sku,name,unit,sale_price\nＣＨＥＥＮＩ,Cheeni 1 kg,kg,155\n"
                            .encode())
    assert (dry["created"], dry["updated"], dry["refused"]) == (0, 1, 0), dry["refusals"]
    assert done["status"] == "done" and done["updated"] == 1
    product = db.session.scalars(db.select(Product)).one()
    assert (product.sku, product.name, str(product.sale_price)) == ("CHEENI", "Cheeni 1 kg",
                                                                   "155.00")


@pytest.mark.parametrize("database", ["app", pytest.param("pg_app", marks=pytest.mark.postgres)])
def test_a_row_the_database_refuses_stays_that_rows_refusal(request, database, monkeypatch):
    """A product made by someone else after the job's own check and before its insert: that row
    is refused in words, the rest of its chunk is imported, and the job shows no SQL."""
    from webapp.models import Product
    from webapp.services import imports

    request.getfixturevalue(database)
    user = make_user(role="manager")
    checks = []
    real_plan = imports.plan

    def plan_then_race(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        checks.append(planned)
        if len(checks) == 2:  # the run's own check: another writer gets in before the insert
            make_product(sku="new-1", name="Made meanwhile")
        return planned

    monkeypatch.setattr(imports, "plan", plan_then_race)
    dry, done = _run_import(user, b"sku,name,unit,sale_price\nNEW-1,One,piece,10\n"
                                  b"NEW-2,Two,piece,20\n")
    assert dry["created"] == 2
    assert done["status"] == "done" and done["error"] is None
    assert (done["created"], done["refused"]) == (1, 1)
    [refusal] = done["refusals"]
    assert refusal["line"] == 2 and refusal["code"] == "not_saved"
    assert "INSERT" not in refusal["message"] and "products" not in refusal["message"]
    skus = set(db.session.scalars(db.select(Product.sku)))
    assert skus == {"new-1", "NEW-2"}


def test_only_a_managers_receipt_sets_the_products_last_cost(app):
    """A shopkeeper's receipt cost (a typo of 0.01, say) stays on that store's movement; it no
    longer becomes the cost every store's next order starts from."""
    from webapp.models import Product
    from webapp.services import policy, purchasing

    store, supplier = make_store(), make_supplier()
    product = make_product(unit="piece", cost="80.00")
    manager, keeper = make_user(role="manager"), make_user(role="shopkeeper", stores=[store])
    order = purchasing.create_order(policy.actor_for(manager, "web"), manager,
                                    store_id=store.id, supplier_id=supplier.id,
                                    lines=[{"product_id": product.id, "packs": "10"}])
    purchasing.change_status(policy.actor_for(manager, "web"), manager, order.id, "sent")
    typo = purchasing.receive(policy.actor_for(keeper, "web"), order.id,
                              [{"product_id": product.id, "quantity": "1", "unit_cost": "0.01"}])
    assert typo.data["movements"][0]["unit_cost"] == "0.01"
    db.session.expire_all()
    assert db.session.get(Product, product.id).last_cost is None
    purchasing.receive(policy.actor_for(manager, "web"), order.id,
                       [{"product_id": product.id, "quantity": "1", "unit_cost": "82.50"}])
    db.session.expire_all()
    assert str(db.session.get(Product, product.id).last_cost) == "82.50"


@pytest.mark.postgres
def test_a_streamed_csv_leaves_the_connection_as_it_found_it(pg_app):
    """The stock CSV streams in a server-side cursor; the next statement of the same
    transaction is an ordinary one (it was DECLARE … CURSOR FOR INSERT: a 500)."""
    from webapp.services import reports

    make_product()
    assert list(reports.iter_stock_levels(None)) == []
    assert list(reports.iter_low_stock(None)) == []
    make_store()  # an INSERT in the same transaction

