"""Helpers for API tests: a user with a bearer token and a client that sends it."""
from tests.factories import ADMIN, PASSWORD, make_user  # noqa: F401 (PASSWORD: re-exported)
from webapp.services import accounts


class ApiClient:
    """The Flask test client with `Authorization: Bearer` and JSON on every call."""

    def __init__(self, app, token=None):
        self.client = app.test_client()
        self.token = token

    def _headers(self, headers):
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, path, headers=None, **kwargs):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path, json=None, headers=None, **kwargs):
        return self.client.post(path, json=json, headers=self._headers(headers), **kwargs)

    def patch(self, path, json=None, headers=None, **kwargs):
        return self.client.patch(path, json=json, headers=self._headers(headers), **kwargs)


def token_for(user, ttl_days=30):
    plaintext, _ = accounts.issue_token(ADMIN, user, "test", ttl_days)
    return plaintext


def api_as(app, role="admin", stores=(), user=None):
    """An ApiClient acting as a new user of this role (a shopkeeper in `stores`)."""
    user = user or make_user(role=role, stores=stores, password=PASSWORD)
    client = ApiClient(app, token_for(user))
    client.user = user
    return client

