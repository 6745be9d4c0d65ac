"""POST /auth/token: trade a username and password for a bearer token."""
from datetime import datetime

from flask import current_app, request
from flask_limiter.util import get_remote_address
from pydantic import Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import public
from webapp.blueprints.api.spec import Body, responses, spec
from webapp.extensions import limiter
from webapp.services import accounts, audit
from webapp.services.errors import DomainError


class TokenRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    name: str = Field("api", min_length=1, max_length=80, description="A label for the token.")
    ttl_days: int | None = Field(None, ge=1, le=3650, description="Default API_TOKEN_TTL_DAYS.")


class TokenOut(Body):
    token: str = Field(description="Shown once; send it as Authorization: Bearer <token>.")
    expires_at: datetime


def _username_key():
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return "login-user:" + accounts.normalise_username(username if isinstance(username, str)
                                                       else "")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.post("/auth/token")
@public
@limiter.limit(_login_limit, key_func=get_remote_address)
# The same bucket as /login's: guessing one user's password is limited across both doors.
@limiter.shared_limit(_login_limit, "login-user", key_func=_username_key)
@spec.validate(json=TokenRequest, resp=responses(HTTP_201=TokenOut), tags=["auth"], security={})
def create_token():
    """Issue a token for a username and password (rate-limited per IP and per username).

    Not idempotent on purpose: a replay would have to store the plaintext token.
    """
    body = request.context.json
    user = accounts.authenticate(body.username, body.password, ip=request.remote_addr)
    if user is None:
        raise DomainError("invalid_credentials", "Wrong username or password.", status=401)
    ttl = body.ttl_days or current_app.config["API_TOKEN_TTL_DAYS"]
    plaintext, token = accounts.issue_token(audit.Actor(user.id, "api", request.remote_addr),
                                            user, body.name, ttl)
    return TokenOut(token=plaintext, expires_at=token.expires_at), 201, {"Cache-Control": "no-store"}
