"""Small factories: each makes one valid object through the services, with overridable fields."""
import itertools

from webapp.services import accounts, audit, catalog

ADMIN = audit.Actor(user_id=None, source="web", ip="127.0.0.1")
_seq = itertools.count(1)


def make_store(**fields):
    n = next(_seq)
    data = {"code": f"TST-{n:04d}", "name": f"Test Store {n}", "city": "Karachi"}
    data.update(fields)
    return catalog.create_store(ADMIN, data)


def make_product(**fields):
    n = next(_seq)
    data = {"sku": f"SKU-{n}", "name": f"Product {n}", "category": "Test", "unit": "kg",
            "sale_price": "100.00", "cost": "80.00", "reorder_level": "5", "tracks_expiry": False}
    data.update(fields)
    return catalog.create_product(ADMIN, data)


def make_supplier(**fields):
    data = {"name": f"Supplier {next(_seq)}"}
    data.update(fields)
    return catalog.create_supplier(ADMIN, data)


PASSWORD = "password-123"  # every test user's password unless the test gives another


def login(client, user, password=PASSWORD):
    """Log in through the real login form; `user` is a User or a username. Returns the response."""
    username = getattr(user, "username", user)
    return client.post("/login", data={"username": username, "password": password})


def make_user(role="shopkeeper", stores=(), password=PASSWORD, **fields):
    username = fields.pop("username", f"user{next(_seq)}")
    return accounts.create_user(ADMIN, username, password, role=role,
                                store_ids=[s.id for s in stores], **fields)
