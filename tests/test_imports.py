"""Bulk import: every refusal reason, encodings, .xlsx, idempotent re-import, opening stock."""
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from tests.factories import make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import ImportJob, Product, StockLevel
from webapp.services import accounts, imports
from webapp.services.audit import Actor

D = Decimal


def _actor(user):
    return Actor(user_id=user.id, source="web", ip="127.0.0.1")


def _run(user, kind, content, filename="file.csv", **kw):
    job_id = imports.check(_actor(user), kind, content, filename, **kw)
    dry = imports.status(job_id, user)
    imports.confirm(_actor(user), job_id, user)
    imports.run(job_id)
    return dry, imports.status(job_id, user)


def _codes(status):
    return {(r["line"], r["column"], r["code"]) for r in status["refusals"]}


PRODUCTS_CSV = (
    "SKU,Name,Category,Unit,Sale price,Cost,Reorder level,Pack size\n"
    "ATTA-10,آٹا چکی 10 کلو,Flour,pack,\"1,450.00\",\"1,300\",5,10\n"   # 2: Urdu, 1,450.00
    ",No SKU,Misc,piece,10,,,\n"                                          # 3: missing SKU
    "OIL-1,Cooking oil,Oil,litre,abc,,,\n"                                # 4: bad number
    "RICE-5,Rice,Grain,bags,500,,,\n"                                     # 5: unknown unit
    "atta-10,Again,Flour,pack,10,,,\n"                                    # 6: duplicate SKU
    "DAL-1,Daal Mash,Pulses,kg,320.50,300,2,\n"                           # 7: fine
)


@pytest.fixture
def manager(app):
    return make_user(role="manager")


def test_products_dry_run_lists_every_refusal_then_imports(manager):
    existing = make_product(sku="DAL-1", name="Daal", unit="kg", sale_price="300")
    dry, done = _run(manager, "products", PRODUCTS_CSV.encode("utf-8"))
    assert (dry["status"], dry["created"], dry["updated"], dry["unchanged"], dry["refused"]) == \
        ("checked", 1, 1, 0, 4)
    assert _codes(dry) == {(3, "SKU", "missing_sku"), (4, "Sale price", "bad_number"),
                           (5, "Unit", "unknown_unit"), (6, "SKU", "duplicate_sku")}
    assert done["status"] == "done" and (done["created"], done["updated"]) == (1, 1)
    atta = db.session.scalars(db.select(Product).where(Product.sku == "ATTA-10")).one()
    assert atta.name == "آٹا چکی 10 کلو"
    assert (atta.sale_price, atta.cost, atta.pack_size) == (D("1450.00"), D("1300.00"), D(10))
    db.session.refresh(existing)
    assert (existing.name, existing.sale_price) == ("Daal Mash", D("320.50"))
    # The same file again changes nothing.
    before = {p.id: p.updated_at for p in db.session.scalars(db.select(Product))}
    dry2, done2 = _run(manager, "products", PRODUCTS_CSV.encode("utf-8"))
    assert (dry2["created"], dry2["updated"], dry2["unchanged"], dry2["refused"]) == (0, 0, 2, 4)
    assert (done2["created"], done2["updated"]) == (0, 0)
    db.session.expire_all()
    assert {p.id: p.updated_at for p in db.session.scalars(db.select(Product))} == before


@pytest.mark.parametrize("encoding,prefix", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"),
                                             ("cp1252", b"")])
def test_encodings(manager, encoding, prefix):
    text = "sku;name;unit;price\nCAFE-1;Café crème;piece;1,250.00\n"
    dry, done = _run(manager, "products", prefix + text.encode(encoding))
    assert done["created"] == 1, done["refusals"]
    product = db.session.scalars(db.select(Product).where(Product.sku == "CAFE-1")).one()
    assert product.name == "Café crème" and product.sale_price == D("1250.00")


def test_xlsx(manager):
    book = Workbook()
    sheet = book.active
    sheet.append(["SKU", "Name", "Unit", "Sale price", "Cost"])
    sheet.append(["GHEE-1", "بناسپتی گھی", "kg", 560.5, 500])
    sheet.append(["GHEE-2", "Ghee tin", "kilogram", "1,450.00", None])
    sheet.append(["GHEE-3", "Bad", "kg", "٥x", None])
    out = io.BytesIO()
    book.save(out)
    dry, done = _run(manager, "products", out.getvalue(), "list.xlsx")
    assert _codes(dry) == {(4, "Sale price", "bad_number")}
    assert done["created"] == 2
    prices = dict(db.session.execute(db.select(Product.sku, Product.sale_price)).all())
    assert prices == {"GHEE-1": D("560.50"), "GHEE-2": D("1450.00")}


def test_opening_stock_sets_levels_and_refuses_unknown_stores(manager):
    store = make_store(code="KHI-0009")
    a, b = make_product(sku="A-1", unit="piece"), make_product(sku="B-1", unit="kg")
    make_product(sku="C-1")
    csv = ("sku,store_code,quantity\nA-1,KHI-0009,24\nB-1,khi-0009,\"1,250.5\"\n"
           "A-1,NOPE-1,3\nZZZ,KHI-0009,1\nA-1,KHI-0009,2\nC-1,KHI-0009,x\n")
    dry, done = _run(manager, "opening_stock", csv.encode())
    assert _codes(dry) == {(4, "store_code", "unknown_store"), (5, "sku", "unknown_sku"),
                           (6, "sku", "duplicate_sku"), (7, "quantity", "bad_number")}
    levels = dict(db.session.execute(db.select(StockLevel.product_id, StockLevel.quantity)
                                     .where(StockLevel.store_id == store.id)).all())
    assert levels == {a.id: D("24.000"), b.id: D("1250.500")}
    dry2, done2 = _run(manager, "opening_stock", csv.encode())
    assert (dry2["created"], dry2["updated"], dry2["unchanged"]) == (0, 0, 2)
    from webapp.services import integrity
    assert integrity.ledger_is_consistent(db.session.connection())


def test_products_imported_for_a_store_at_zero_are_on_its_stock_list_and_low(manager):
    """Opening stock of 0 still says the store stocks the product: it shows at 0 and low."""
    from webapp.services import inventory, reports
    store = make_store(code="KHI-0010")
    pepsi = make_product(sku="PEPSI-1", name="Pepsi 1.5L", unit="piece", reorder_level="6")
    other = make_product(sku="OTHER-1", unit="piece")
    csv = "sku,store_code,quantity\nPEPSI-1,KHI-0010,0\n"
    dry, done = _run(manager, "opening_stock", csv.encode())
    assert (dry["created"], done["status"]) == (1, "done")
    listed = {i["product_id"]: i for i in inventory.store_levels(store.id).items}
    assert set(listed) == {pepsi.id} and other.id not in listed
    assert listed[pepsi.id]["quantity"] == "0.000" and listed[pepsi.id]["low"]
    assert [i["sku"] for i in reports.low_stock({store.id}, store_id=store.id).items] == \
        ["PEPSI-1"]
    assert db.session.scalar(db.select(db.func.count()).select_from(
        db.text("stock_movements"))) == 0  # a level at 0, no movement
    dry2, _done2 = _run(manager, "opening_stock", csv.encode())
    assert (dry2["created"], dry2["unchanged"]) == (0, 1)


def test_supplier_price_list(manager):
    metro = make_supplier(name="Metro Cash")
    product = make_product(sku="TEA-1", cost="100")
    csv = "sku,cost,pack size,supplier\nTEA-1,\"1,200.00\",12,metro cash\nTEA-1,5,1,\nNO-1,5,,\n" \
          "TEA-2,5,,Unknown Co\n"
    dry, done = _run(manager, "supplier_prices", csv.encode())
    assert _codes(dry) == {(3, "sku", "duplicate_sku"), (4, "sku", "unknown_sku"),
                           (5, "sku", "unknown_sku")}
    db.session.refresh(product)
    assert (product.cost, product.pack_size, product.preferred_supplier_id) == \
        (D("1200.00"), D(12), metro.id)


def test_a_file_without_the_needed_column_is_refused_whole(manager):
    from webapp.services.errors import DomainError
    with pytest.raises(DomainError) as error:
        imports.check(_actor(manager), "opening_stock", b"sku,quantity\nA,1\n", "x.csv")
    assert error.value.code == "missing_column"
    assert db.session.scalar(db.select(db.func.count()).select_from(ImportJob)) == 0


def test_import_pages_dry_run_confirm_and_refused_file_inline(client, manager):
    """The embedded default: no Redis, the confirmed job runs in-process."""
    from webapp.models import User
    user = db.session.get(User, manager.id)
    user.password_hash = accounts.hash_password("password-123")
    db.session.commit()
    client.post("/login", data={"username": user.username, "password": "password-123"})
    page = client.post("/imports/", data={"kind": "products", "file": (
        io.BytesIO(PRODUCTS_CSV.encode()), "products.csv")},
        content_type="multipart/form-data")
    assert page.status_code == 303
    checked = client.get(page.headers["Location"]).get_data(as_text=True)
    assert 'data-count="created">2<' in checked and 'data-count="refused">4<' in checked
    assert "Unknown unit bags" in checked and "This SKU is also on line 2." in checked
    assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == 0
    job_id = page.headers["Location"].rsplit("/", 1)[-1]
    done = client.post(f"/imports/{job_id}/confirm", follow_redirects=True).get_data(as_text=True)
    assert 'data-count="created">2<' in done and "hx-trigger" not in done
    assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == 2
    refused = client.get(f"/imports/{job_id}/refused.csv").get_data(as_text=True)
    assert refused.startswith("\ufeffline,column,code,reason")
    assert "\n5,Unit,unknown_unit," in refused.replace("\r\n", "\n")
    bad = client.post("/imports/", data={"kind": "products", "file": (
        io.BytesIO(b""), "empty.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 422


def test_a_stalled_job_is_queued_again_and_a_replaced_run_stops(manager, monkeypatch):
    from webapp.models.types import utcnow
    from datetime import timedelta
    csv = "sku,name,sale_price\nS-1,One,5\nS-2,Two,6\n".encode()
    job_id = imports.check(_actor(manager), "products", csv, "s.csv")
    imports.confirm(_actor(manager), job_id, manager)
    # A run that another run takes over before its first chunk writes nothing.
    original = imports._apply_products

    def taken_over(actor, job_id_, runner, result):
        db.session.execute(db.update(ImportJob).where(ImportJob.id == job_id_)
                           .values(runner="someone-else"))
        db.session.commit()
        return original(actor, job_id_, runner, result)

    monkeypatch.setattr(imports, "_apply_products", taken_over)
    assert imports.run(job_id) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == 0
    monkeypatch.setattr(imports, "_apply_products", original)
    # Its worker "died": nothing touches the job, so the sweep puts it back in the queue.
    assert imports.stalled_jobs(3600) == []
    db.session.execute(db.update(ImportJob).where(ImportJob.id == job_id)
                       .values(heartbeat_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    assert imports.stalled_jobs(3600) == [job_id]
    assert imports.run(job_id)["created"] == 2
    assert imports.run(job_id) is None  # a duplicate enqueue finds it done
    assert imports.status(job_id, manager)["status"] == "done"
