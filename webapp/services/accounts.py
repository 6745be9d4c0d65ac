"""Users, passwords, store membership and API tokens."""
import hashlib
import secrets
import unicodedata
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import ROLES, ApiToken, Store, User
from webapp.models.types import utcnow
from webapp.services import audit, passwords
from webapp.services.errors import N_, Conflict, DomainError, NotFound
from webapp.services.validation import parse_store_code, parse_text, parse_username

TOKEN_PREFIX = "kir_"
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A real hash to check against when the username is unknown, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password):
    """Werkzeug's hash with the configured method: scrypt in production; the tests' config
    names a cheap one, as every login and new user would otherwise cost ~0.2 s of CPU."""
    return generate_password_hash(password, current_app.config["PASSWORD_HASH_METHOD"])


def normalise_username(username):
    """The form a username is looked up and rate-limited under (NFKC, case-folded)."""
    return unicodedata.normalize("NFKC", username or "").strip().lower()[:64]


def find_user(username):
    return db.session.execute(
        select(User).where(func.lower(User.username) == normalise_username(username))).scalar()


def _stores_by_code(codes):
    stores = []
    for code in codes or []:
        code = parse_store_code(code, field="stores", label="Store code")
        store = db.session.execute(select(Store).where(Store.code == code)).scalar()
        if store is None:
            raise NotFound("Store", N_("No store with code %(code)s.", code=code), field="stores")
        stores.append(store)
    return stores


def _stores_by_id(ids):
    stores = [db.session.get(Store, int(i)) for i in ids or []]
    if any(s is None for s in stores):
        raise NotFound("Store", field="store_ids")
    return stores


def _check_password(password, username=None, field="password"):
    passwords.check_password(password, username, field=field)


def _snapshot(user):
    return {"username": user.username, "full_name": user.full_name, "role": user.role,
            "active": user.active, "stores": sorted(s.code for s in user.stores)}


def create_user(actor, username, password, role="shopkeeper", full_name="", store_codes=None,
                store_ids=None, active=True):
    username = parse_username(username)
    if role not in ROLES:
        raise DomainError("invalid", N_("Role must be one of: %(roles)s.",
                                        roles=", ".join(ROLES)), field="role")
    _check_password(password, username)
    if find_user(username):
        raise Conflict("duplicate_username", N_("This username is taken."), field="username")
    user = User(username=username, role=role,
                full_name=parse_text(full_name, "full_name", "Full name", 120),
                password_hash=hash_password(password), active=bool(active))
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
    # One edit of a user at a time: the row lock makes a second admin's edit wait and then
    # read this one's stores (40 at once gave StaleDataError and duplicate user_stores rows).
    db.session.expire(user)
    db.session.refresh(user, with_for_update=True)
    before = _snapshot(user)
    generation_before = (user.role, user.active, user.password_hash)
    if role is not None:
        if role not in ROLES:
            raise DomainError("invalid", N_("Role must be one of: %(roles)s.",
                                            roles=", ".join(ROLES)), field="role")
        user.role = role
    if full_name is not None:
        user.full_name = parse_text(full_name, "full_name", "Full name", 120)
    if active is not None:
        if not active and actor.user_id == user.id:
            raise DomainError("invalid", N_("You cannot deactivate yourself."), field="active")
        user.active = bool(active)
    if store_ids is not None:
        user.stores = _stores_by_id(store_ids)
    if password:
        _check_password(password, user.username)
        user.password_hash = hash_password(password)
    if (user.role, user.active, user.password_hash) != generation_before:
        # A new role, password or active flag: every older session and remember cookie dies.
        user.session_generation += 1
    if user.password_hash != generation_before[2]:
        _revoke_all_tokens(actor, user, "password_set")
    db.session.flush()
    audit.record(db.session.connection(), actor, "user.update", "user", user.id,
                 before=before, after=_snapshot(user))
    db.session.commit()
    return user


def end_sessions(actor, user_id, revoke_tokens=False):
    """Log the user out everywhere: every session and remember cookie made before now dies;
    with `revoke_tokens` ("Log out all my devices"), every API token too."""
    user = get_user(user_id)
    user.session_generation += 1
    audit.record(db.session.connection(), actor, "user.sessions_ended", "user", user.id)
    if revoke_tokens:
        _revoke_all_tokens(actor, user, "logout_everywhere")
    db.session.commit()
    return user


def _revoke_all_tokens(actor, user, reason):
    """Revoke every live token of the user (a password change, "log out everywhere"): a token
    minted with a stolen session must not outlive the owner taking their account back. One
    `token.revoke_all` audit event lists them."""
    now = utcnow()
    live = db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now)).all()
    for token in live:
        token.revoked_at = now
    if live:
        db.session.flush()
        audit.record(db.session.connection(), actor, "token.revoke_all", "user", user.id,
                     after={"reason": reason, "tokens": [t.id for t in live]})
    return len(live)


def change_own_password(actor, user_id, current, new):
    """A user changes their own password; the current one is required. Ends other sessions."""
    user = get_user(user_id)
    if not check_password_hash(user.password_hash, current or ""):
        raise DomainError("invalid", "Your current password is not right.",
                          field="current_password")
    _check_password(new, user.username, field="new_password")
    if check_password_hash(user.password_hash, new):
        raise DomainError("invalid", "Choose a password different from the current one.",
                          field="new_password")
    user.password_hash = hash_password(new)
    user.session_generation += 1
    audit.record(db.session.connection(), actor, "user.password_change", "user", user.id)
    _revoke_all_tokens(actor, user, "password_change")
    db.session.commit()
    return user


def check_own_password(user_id, password):
    """Whether this is the user's password (re-entered before a sensitive step)."""
    user = get_user(user_id)
    return check_password_hash(user.password_hash, password or "")


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
    longest = current_app.config["API_TOKEN_MAX_DAYS"]
    if not 1 <= int(ttl_days) <= longest:
        raise DomainError("invalid", N_("A token lives between 1 and %(max)s days.", max=longest),
                          field="ttl_days")
    live = db.session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > utcnow()))
    cap = current_app.config["MAX_TOKENS_PER_USER"]
    if live >= cap:
        raise Conflict("too_many_tokens",
                       N_("You have %(cap)s live tokens, the most allowed. Revoke one first.", cap=cap), field="name")
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


LANGUAGES = ("en", "ur")


def set_language(user_id, language):
    """A user's interface language ("en", "ur"), or None for the browser's choice."""
    if language not in LANGUAGES + (None,):
        raise DomainError("invalid", N_("Choose English or Urdu."), field="lang")
    user = get_user(user_id)
    if user.language != language:
        user.language = language
        db.session.commit()
    return user
