"""Users, passwords, store membership and API tokens."""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import ROLES, ApiToken, Store, User
from webapp.models.types import utcnow
from webapp.services import audit
from webapp.services.errors import Conflict, DomainError, NotFound
from webapp.services.validation import parse_text

MIN_PASSWORD = 8
TOKEN_PREFIX = "kir_"
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A real hash to check against when the username is unknown, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def find_user(username):
    return db.session.execute(
        select(User).where(func.lower(User.username) == username.strip().lower())).scalar()


def _stores_by_code(codes):
    stores = []
    for code in codes or []:
        store = db.session.execute(select(Store).where(Store.code == code.strip().upper())).scalar()
        if store is None:
            raise NotFound("Store", f"No store with code {code}.", field="stores")
        stores.append(store)
    return stores


def _stores_by_id(ids):
    stores = [db.session.get(Store, int(i)) for i in ids or []]
    if any(s is None for s in stores):
        raise NotFound("Store", field="store_ids")
    return stores


def _check_password(password):
    if not password or len(password) < MIN_PASSWORD:
        raise DomainError("invalid", f"Password must be at least {MIN_PASSWORD} characters.",
                          field="password")
    if len(password) > 200:
        raise DomainError("invalid", "Password is too long.", field="password")


def _snapshot(user):
    return {"username": user.username, "full_name": user.full_name, "role": user.role,
            "active": user.active, "stores": sorted(s.code for s in user.stores)}


def create_user(actor, username, password, role="shopkeeper", full_name="", store_codes=None,
                store_ids=None, active=True):
    username = parse_text(username, "username", "Username", 64, required=True)
    if not all(c.isalnum() or c in "._-@" for c in username):
        raise DomainError("invalid", "Username may use letters, digits and . _ - @ only.",
                          field="username")
    if role not in ROLES:
        raise DomainError("invalid", f"Role must be one of: {', '.join(ROLES)}.", field="role")
    _check_password(password)
    if find_user(username):
        raise Conflict("duplicate_username", "This username is taken.", field="username")
    user = User(username=username, role=role,
                full_name=parse_text(full_name, "full_name", "Full name", 120),
                password_hash=generate_password_hash(password), active=bool(active))
    user.stores = _stores_by_code(store_codes) + _stores_by_id(store_ids)
    db.session.add(user)
    db.session.flush()
    audit.record(db.session.connection(), actor, "user.create", "user", user.id,
                 after=_snapshot(user))
    db.session.commit()
    return user


def get_user(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User")
    return user


def update_user(actor, user_id, role=None, full_name=None, active=None, store_ids=None,
                password=None):
    user = get_user(user_id)
    before = _snapshot(user)
    if role is not None:
        if role not in ROLES:
            raise DomainError("invalid", f"Role must be one of: {', '.join(ROLES)}.", field="role")
        user.role = role
    if full_name is not None:
        user.full_name = parse_text(full_name, "full_name", "Full name", 120)
    if active is not None:
        if not active and actor.user_id == user.id:
            raise DomainError("invalid", "You cannot deactivate yourself.", field="active")
        user.active = bool(active)
    if store_ids is not None:
        user.stores = _stores_by_id(store_ids)
    if password:
        _check_password(password)
        user.password_hash = generate_password_hash(password)
    db.session.flush()
    audit.record(db.session.connection(), actor, "user.update", "user", user.id,
                 before=before, after=_snapshot(user))
    db.session.commit()
    return user


def authenticate(username, password, ip=None):
    """The active user with this username and password, or None; both outcomes are audited."""
    user = find_user(username or "") if username else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        ok = False
    else:
        ok = check_password_hash(user.password_hash, password or "") and user.active
    conn = db.session.connection()
    if ok:
        user.last_login_at = utcnow()
        audit.record(conn, audit.Actor(user.id, "web", ip), "user.login", "user", user.id)
    else:
        audit.record(conn, audit.Actor(user.id if user else None, "web", ip),
                     "user.login_failed", "user", user.id if user else None,
                     after={"username": (username or "")[:64]})
    db.session.commit()
    return user if ok else None


# --- API tokens -------------------------------------------------------------------------------

def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(actor, user, name, ttl_days):
    """Create a token; returns (plaintext, ApiToken). The plaintext is never stored."""
    name = parse_text(name, "name", "Name", 80, required=True)
    if not 1 <= int(ttl_days) <= 3650:
        raise DomainError("invalid", "A token lives between 1 and 3650 days.", field="ttl_days")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plaintext),
                     prefix=plaintext[:12], expires_at=utcnow() + timedelta(days=int(ttl_days)))
    db.session.add(token)
    db.session.flush()
    audit.record(db.session.connection(), actor, "token.create", "api_token", token.id,
                 after={"name": name, "user_id": user.id, "prefix": token.prefix})
    db.session.commit()
    return plaintext, token


def revoke_token(actor, token_id, owner_id=None):
    """Revoke a token; owner_id limits it to that user's tokens (others get a 404)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFound("Token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(db.session.connection(), actor, "token.revoke", "api_token", token.id)
    db.session.commit()
    return token


def user_for_token(plaintext):
    """The active user behind a live token, or None. Records last use at most once a minute."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))).scalar()
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now \
            or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return token.user
