"""The per-token rate limit: one Redis round trip per request (none in memory mode).

Flask-Limiter's header injection reads the window back after every hit (two more round trips),
so the API hits the same storage through Flask-Limiter's strategy itself and computes the
X-RateLimit-* and Retry-After headers only when it answers 429.
"""
import time
from functools import lru_cache

from flask import current_app
from limits import parse
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


def enforce():
    """before_request: count this request against its token's window; 429 when it is spent."""
    if not limiter.enabled or is_public():
        return
    strategy = limiter.limiter
    item = _item(current_app.config["API_RATE_LIMIT"])
    identifiers = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "api", rate_limit_key())
    if not strategy.hit(item, *identifiers):
        reset_at, remaining = strategy.get_window_stats(item, *identifiers)
        raise RateLimited(item.amount, remaining, reset_at)
