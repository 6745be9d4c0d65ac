"""The per-token rate limit: one Redis round trip per request (none in memory mode).

Flask-Limiter's header injection reads the window back after every hit (two more round trips),
so the API hits the same storage through Flask-Limiter's strategy itself and computes the
X-RateLimit-* and Retry-After headers only when it answers 429.
"""
import logging
import time
from functools import lru_cache

import redis
from flask import current_app
from limits import parse
from limits.storage import MemoryStorage
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


@lru_cache(maxsize=16)
def _item(text):
    return parse(text)


log = logging.getLogger(__name__)
# While the shared storage (Redis) is unreachable, each process counts in its own memory and
# tries the storage again after REDIS_RETRY_SECONDS: the API keeps answering, still limited.
_fallback = {"strategy": None, "until": 0.0}


def _strategy():
    if time.monotonic() < _fallback["until"]:
        return _fallback["strategy"]
    return limiter.limiter


def _fall_back(exc):
    if _fallback["strategy"] is None:
        _fallback["strategy"] = type(limiter.limiter)(MemoryStorage())
    if time.monotonic() >= _fallback["until"]:
        log.warning("rate-limit storage unreachable (%s); counting in memory",
                    exc.__class__.__name__)
    _fallback["until"] = time.monotonic() + current_app.config.get("REDIS_RETRY_SECONDS", 2)
    return _fallback["strategy"]


def enforce():
    """before_request: count this request against its token's window; 429 when it is spent."""
    if not limiter.enabled or is_public():
        return
    strategy = _strategy()
    item = _item(current_app.config["API_RATE_LIMIT"])
    identifiers = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "api", rate_limit_key())
    try:
        allowed = strategy.hit(item, *identifiers)
    except (redis.RedisError, OSError) as exc:
        strategy = _fall_back(exc)
        allowed = strategy.hit(item, *identifiers)
    if not allowed:
        reset_at, remaining = strategy.get_window_stats(item, *identifiers)
        raise RateLimited(item.amount, remaining, reset_at)
