"""The per-token rate limit, counted in Redis in batches (no storage round trip on most requests).

Each worker process takes a block of hits for a token from Redis at once (INCRBY n, one round
trip) and grants them from memory; near the limit the block shrinks to a single hit, and a
worker only owns the hits Redis counted before the limit, so across all workers no more than
the limit is ever granted in a window. The cost: hits a worker took but has not used by the end
of a window are lost to others (a few, since blocks are small near the limit).
API_RATE_LIMIT_BATCH = 1 is one round trip per request, as before.

Flask-Limiter's header injection reads the window back after every hit (two more round trips),
so the API counts itself and writes the same X-RateLimit-Limit / -Remaining / -Reset headers
(and Retry-After on a 429) from what the hit already knew: with Redis, the block's count
(Remaining is then what this worker can be sure of: the limit less every hit Redis has handed
out to any worker, plus this worker's unused ones; other workers' unused hits make the true
figure a little higher, never lower), in memory the window read back from the dict. When the
storage (Redis) is unreachable, each worker counts in memory for a few seconds and then tries
Redis again: the API keeps answering, with limits per worker instead of global ones, until
Redis is back.
"""
import threading
import time
from functools import lru_cache

from flask import current_app
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from webapp.infra.current import app_config, this_request
from webapp.blueprints.api.auth import is_public, rate_limit_key
from webapp.extensions import limiter


class RateLimited(TooManyRequests):
    def __init__(self, amount, remaining, reset_at):
        self.retry_after_seconds = max(1, int(reset_at - time.time()) + 1)
        super().__init__(f"Too many requests: {amount} allowed per window. "
                         f"Retry in {self.retry_after_seconds} s.")
        self.extra = {"Retry-After": str(self.retry_after_seconds),
                      "X-RateLimit-Limit": str(amount),
                      "X-RateLimit-Remaining": str(remaining),
                      "X-RateLimit-Reset": str(int(reset_at))}

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *self.extra.items()]


class _Fallback:
    """The in-memory strategy used while the shared storage is down."""

    def __init__(self):
        self.strategy = FixedWindowRateLimiter(MemoryStorage())
        self.until = 0.0

    def active(self):
        return time.monotonic() < self.until

    def engage(self, error):
        seconds = current_app.config["REDIS_RETRY_SECONDS"]
        self.until = time.monotonic() + seconds
        current_app.logger.warning("rate-limit storage unreachable (%s); counting in memory "
                                   "for %s s", error.__class__.__name__, seconds)


fallback = _Fallback()


@lru_cache(maxsize=16)
def _item(text):
    return parse(text)


def _check(strategy, item, identifiers):
    """A hit on a limits strategy (in memory here) → (remaining, reset_at); else RateLimited."""
    allowed = strategy.hit(item, *identifiers)
    reset_at, remaining = strategy.get_window_stats(item, *identifiers)
    if not allowed:
        raise RateLimited(item.amount, remaining, reset_at)
    return remaining, reset_at


# Up to this many workers are assumed to share what remains of a token's window: a block is
# at most remaining ÷ SHARE, so early blocks from all of them cannot overdraw the limit.
SHARE = 8


class _Bucket:
    __slots__ = ("window", "tokens", "counted")

    def __init__(self, window, tokens, counted):
        self.window, self.tokens, self.counted = window, tokens, counted


class BatchedLimiter:
    """Hits taken from Redis in blocks and granted from memory (one instance per process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.buckets = {}

    def hit(self, client, key, item, batch):
        """This hit, within the limit → (remaining, reset_at); else raises RateLimited."""
        period = item.get_expiry()
        now = time.time()
        window = int(now // period)
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is not None and bucket.window == window:
                if bucket.tokens > 0:
                    bucket.tokens -= 1
                    return item.amount - bucket.counted + bucket.tokens, (window + 1) * period
                if bucket.counted >= item.amount:  # a window's count only grows: refuse here
                    raise RateLimited(item.amount, 0, (window + 1) * period)
                counted = bucket.counted
            else:
                counted = 0
        block = max(1, min(batch, (item.amount - counted) // SHARE))
        redis_key = f"{key}:{window}"
        pipe = client.pipeline(transaction=False)
        pipe.incrby(redis_key, block)
        pipe.expire(redis_key, period + 5)
        total = pipe.execute()[0]
        granted = max(0, min(block, item.amount - (total - block)))
        with self.lock:
            if len(self.buckets) > 10000:
                self.buckets = {k: b for k, b in self.buckets.items() if b.window == window}
            bucket = self.buckets.get(key)
            if bucket is None or bucket.window != window:
                bucket = self.buckets[key] = _Bucket(window, 0, total)
            bucket.counted = max(bucket.counted, total)
            if granted:
                bucket.tokens += granted - 1
                return item.amount - bucket.counted + bucket.tokens, (window + 1) * period
        raise RateLimited(item.amount, 0, (window + 1) * period)


batched = BatchedLimiter()


def _redis_client():
    """The Redis client behind Flask-Limiter's storage, or None in memory mode."""
    return getattr(limiter.limiter.storage, "storage", None) \
        if type(limiter.limiter.storage).__name__ == "RedisStorage" else None


def enforce():
    """before_request: count this request against its user's window; 429 when it is spent."""
    # Public endpoints have their own limits; requests without a live token count per IP.
    if not limiter.enabled or is_public():
        return
    config, req = app_config(), this_request()
    item = _item(config["API_RATE_LIMIT"])
    identifiers = (config["RATELIMIT_KEY_PREFIX"], "api", rate_limit_key())
    if not fallback.active():
        try:
            client = _redis_client()
            if client is not None:
                # A block of 1 when API_RATE_LIMIT_BATCH is 1: one round trip per request.
                req.rate_limit = item, *batched.hit(
                    client, "kiryana-rl:" + ":".join(identifiers), item,
                    config["API_RATE_LIMIT_BATCH"])
                return None
            req.rate_limit = item, *_check(limiter.limiter, item, identifiers)
            return None
        except RateLimited:
            raise
        except Exception as error:  # any storage failure: the API must keep answering
            fallback.engage(error)
    req.rate_limit = item, *_check(fallback.strategy, item, identifiers)


def add_headers(response):
    """after_request: the window this request was counted in, as Flask-Limiter writes it
    (a 429 carries its own, with Retry-After)."""
    counted = getattr(this_request(), "rate_limit", None)
    if counted is not None:
        item, remaining, reset_at = counted
        headers = response.headers
        headers.add("X-RateLimit-Limit", str(item.amount))
        headers.add("X-RateLimit-Remaining", str(max(0, remaining)))
        headers.add("X-RateLimit-Reset", str(int(reset_at)))
    return response
