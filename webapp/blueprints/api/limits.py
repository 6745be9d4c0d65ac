"""The per-token rate limit: one Redis round trip per request (none in memory mode).

Flask-Limiter's header injection reads the window back after every hit (two more round trips),
so the API hits the same storage through Flask-Limiter's strategy itself and computes the
X-RateLimit-* and Retry-After headers only when it answers 429. When the storage (Redis) is
unreachable, each worker counts in memory for a few seconds and then tries Redis again: the
API keeps answering, with limits per worker instead of global ones, until Redis is back.
"""
import time
from functools import lru_cache

from flask import current_app
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

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
    if not strategy.hit(item, *identifiers):
        reset_at, remaining = strategy.get_window_stats(item, *identifiers)
        raise RateLimited(item.amount, remaining, reset_at)


def enforce():
    """before_request: count this request against its token's window; 429 when it is spent."""
    if not limiter.enabled or is_public():
        return
    item = _item(current_app.config["API_RATE_LIMIT"])
    identifiers = (current_app.config["RATELIMIT_KEY_PREFIX"], "api", rate_limit_key())
    if not fallback.active():
        try:
            return _check(limiter.limiter, item, identifiers)
        except RateLimited:
            raise
        except Exception as error:  # any storage failure: the API must keep answering
            fallback.engage(error)
    _check(fallback.strategy, item, identifiers)
