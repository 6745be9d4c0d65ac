"""The API rate limit counted in Redis in batches: never more than the limit across workers,
and far fewer Redis round trips than requests."""
import threading
import uuid

import pytest
import redis

from tests import services
from tests.api_client import api_as
from tests.conftest import _config
from webapp import create_app
from webapp.blueprints.api.limits import BatchedLimiter, RateLimited, _item
from webapp.extensions import db

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_client():
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    client = redis.Redis.from_url(services.REDIS_URL)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield client, prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


class CountingClient:
    """The real client; counts round trips (pipelines sent)."""

    def __init__(self, client):
        self.client, self.round_trips, self.lock = client, 0, threading.Lock()

    def pipeline(self, **kwargs):
        outer, pipe = self, self.client.pipeline(**kwargs)
        execute = pipe.execute

        def counted():
            with outer.lock:
                outer.round_trips += 1
            return execute()
        pipe.execute = counted
        return pipe


@pytest.mark.parametrize("limit", [100, 37, 3])
def test_workers_taking_batches_never_grant_more_than_the_limit(redis_client, limit):
    client, prefix = redis_client
    counting = CountingClient(client)
    item = _item(f"{limit} per minute")
    workers = [BatchedLimiter() for _ in range(4)]  # one per process in production
    granted, refused = [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def thread(worker):
        barrier.wait()
        for _ in range(limit // 2 + 5):
            try:
                worker.hit(counting, f"{prefix}:api:token-1", item, batch=16)
                outcome = granted
            except RateLimited as refusal:
                assert refusal.extra["X-RateLimit-Remaining"] == "0"
                assert int(refusal.extra["Retry-After"]) >= 1
                outcome = refused
            with lock:
                outcome[0] += 1

    threads = [threading.Thread(target=thread, args=(workers[i % 4],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    attempts = 16 * (limit // 2 + 5)
    assert granted[0] + refused[0] == attempts
    assert granted[0] <= limit
    # Hits a worker took but did not use before the others ran dry are lost; a few at most.
    assert granted[0] >= limit - 4 * max(1, limit // 8 // 8)
    if limit == 100:
        assert counting.round_trips < attempts / 2


def test_another_token_has_its_own_budget(redis_client):
    client, prefix = redis_client
    worker, item = BatchedLimiter(), _item("2 per minute")
    worker.hit(client, f"{prefix}:a", item, 16)
    worker.hit(client, f"{prefix}:a", item, 16)
    with pytest.raises(RateLimited):
        worker.hit(client, f"{prefix}:a", item, 16)
    assert worker.hit(client, f"{prefix}:b", item, 16)


def test_the_api_refuses_above_the_limit_with_redis_storage(redis_client, tmp_path):
    from flask_migrate import upgrade

    _, prefix = redis_client
    app = create_app(_config(f"sqlite:///{tmp_path / 'limits.db'}", RATELIMIT_ENABLED=True,
                             RATELIMIT_STORAGE_URI=services.REDIS_URL,
                             RATELIMIT_KEY_PREFIX=prefix, API_RATE_LIMIT="5 per minute"))
    with app.app_context():
        upgrade()
        api = api_as(app)
        statuses = [api.get("/api/v1/stores").status_code for _ in range(6)]
        refused = api.get("/api/v1/stores")
        db.session.remove()
    assert statuses == [200] * 5 + [429]
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.headers["X-RateLimit-Limit"] == "5"
