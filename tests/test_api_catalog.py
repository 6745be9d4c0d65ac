"""Contract tests: /products, /stores, /suppliers — shapes, errors, pagination, filters, roles."""
import pytest

from tests.api_client import api_as
from tests.factories import make_product, make_store, make_supplier

PRODUCT = {"sku": "CHEENI-1", "name": "Cheeni 1kg", "category": "Sugar", "unit": "pack",
           "sale_price": "150.00", "cost": 138, "reorder_level": "10", "barcode": "8961000000011"}


@pytest.fixture
def admin(app):
    return api_as(app, "admin")


def test_create_and_read_a_product(admin):
    response = admin.post("/api/v1/products", json=PRODUCT)
    assert response.status_code == 201
    product = response.json
    assert product["sku"] == "CHEENI-1" and product["sale_price"] == "150.00"
    assert product["cost"] == "138.00" and product["reorder_level"] == "10.000"
    assert product["archived"] is False and product["id"] > 0
    assert admin.get(f"/api/v1/products/{product['id']}").json == product


def test_duplicate_sku_and_barcode_are_409(admin):
    admin.post("/api/v1/products", json=PRODUCT)
    again = admin.post("/api/v1/products", json={**PRODUCT, "sku": "cheeni-1", "barcode": None})
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate_sku"
    assert again.json["error"]["fields"] == {"sku": "Another product already has this SKU."}
    barcode = admin.post("/api/v1/products", json={**PRODUCT, "sku": "OTHER"})
    assert barcode.status_code == 409 and barcode.json["error"]["code"] == "duplicate_barcode"


def test_patch_updates_and_archives(admin):
    product = make_product()
    response = admin.patch(f"/api/v1/products/{product.id}",
                           json={"name": "Renamed", "archived": True})
    assert response.status_code == 200
    assert response.json["name"] == "Renamed" and response.json["archived"] is True
    assert response.json["sku"] == product.sku


def test_unknown_product_is_404(admin):
    assert admin.get("/api/v1/products/999999").json["error"]["code"] == "not_found"
    assert admin.patch("/api/v1/products/999999", json={"name": "x"}).status_code == 404
    assert admin.get("/api/v1/products/99999999999999999999").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({**PRODUCT, "unit": "tonne"}, "unit"),
    ({**PRODUCT, "sale_price": "-1"}, "sale_price"),
    ({**PRODUCT, "sale_price": "1.005"}, "sale_price"),
    ({k: v for k, v in PRODUCT.items() if k != "name"}, "name"),
    ({**PRODUCT, "colour": "red"}, "colour"),
])
def test_invalid_product_is_422_per_field(admin, body, field):
    response = admin.post("/api/v1/products", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"
    assert field in response.json["error"]["fields"]


def test_product_list_filters_and_paginates(admin):
    for i in range(5):
        make_product(name=f"Atta {i}", category="Flour")
    make_product(name="Cheeni", category="Sugar", sku="SUGAR-9")
    make_product(name="Old Atta", category="Flour", archived=True)
    page = admin.get("/api/v1/products?category=Flour&archived=false&per_page=2&page=2").json
    assert (page["page"], page["per_page"], page["total"]) == (2, 2, 5)
    assert [p["name"] for p in page["items"]] == ["Atta 2", "Atta 3"]
    assert admin.get("/api/v1/products?q=sugar-9").json["total"] == 1
    assert admin.get("/api/v1/products?archived=true").json["total"] == 1
    beyond = admin.get("/api/v1/products?page=99").json
    assert beyond["items"] == [] and beyond["total"] == 7


@pytest.mark.parametrize("query", ["per_page=201", "per_page=0", "page=0", "page=x",
                                   "archived=maybe"])
def test_bad_pagination_or_filters_are_422(admin, query):
    response = admin.get(f"/api/v1/products?{query}")
    assert response.status_code == 422
    assert response.json["error"]["fields"]


def test_per_page_200_is_allowed(admin):
    assert admin.get("/api/v1/products?per_page=200").json["per_page"] == 200


def test_shopkeeper_reads_the_catalog_but_cannot_change_it(app):
    product = make_product()
    shopkeeper = api_as(app, "shopkeeper", stores=[make_store()])
    assert shopkeeper.get(f"/api/v1/products/{product.id}").status_code == 200
    for response in (shopkeeper.post("/api/v1/products", json=PRODUCT),
                     shopkeeper.patch(f"/api/v1/products/{product.id}", json={"name": "x"}),
                     shopkeeper.post("/api/v1/stores", json={"code": "X-1", "name": "X"}),
                     shopkeeper.post("/api/v1/suppliers", json={"name": "X"})):
        assert response.status_code == 403
        assert response.json["error"]["code"] == "forbidden"


def test_manager_creates_and_updates_stores(app):
    manager = api_as(app, "manager")
    created = manager.post("/api/v1/stores", json={"code": "khi-0009", "name": "Madina",
                                                   "city": "Karachi"})
    assert created.status_code == 201 and created.json["code"] == "KHI-0009"
    assert created.json["allow_negative_stock"] is False
    store_id = created.json["id"]
    updated = manager.patch(f"/api/v1/stores/{store_id}", json={"allow_negative_stock": True})
    assert updated.json["allow_negative_stock"] is True
    duplicate = manager.post("/api/v1/stores", json={"code": "KHI-0009", "name": "Again"})
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "duplicate_code"


def test_shopkeeper_sees_only_their_stores(app):
    mine, other = make_store(city="Lahore"), make_store()
    shopkeeper = api_as(app, "shopkeeper", stores=[mine])
    listed = shopkeeper.get("/api/v1/stores").json
    assert [s["id"] for s in listed["items"]] == [mine.id] and listed["total"] == 1
    assert shopkeeper.get(f"/api/v1/stores/{mine.id}").json["city"] == "Lahore"
    hidden = shopkeeper.get(f"/api/v1/stores/{other.id}")
    missing = shopkeeper.get("/api/v1/stores/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json


def test_managers_see_every_store_and_filter_them(app):
    make_store(name="Karachi One"), make_store(name="Lahore One", active=False)
    manager = api_as(app, "manager")
    assert manager.get("/api/v1/stores").json["total"] == 2
    assert manager.get("/api/v1/stores?active=false").json["items"][0]["name"] == "Lahore One"
    assert manager.get("/api/v1/stores?q=lahore").json["total"] == 1


def test_suppliers_list_and_create(app):
    make_supplier(name="Unilever Distributor")
    manager = api_as(app, "manager")
    created = manager.post("/api/v1/suppliers", json={"name": "Nestle Agent",
                                                      "phone": "0300-1234567"})
    assert created.status_code == 201 and created.json["phone"] == "0300-1234567"
    listed = manager.get("/api/v1/suppliers?q=nestle").json
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Nestle Agent"
    shopkeeper = api_as(app, "shopkeeper")
    assert shopkeeper.get("/api/v1/suppliers").json["total"] == 2
