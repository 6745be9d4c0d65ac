"""Users, their store memberships and API tokens."""
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    func,
)
from sqlalchemy.orm import relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

ROLES = ("admin", "manager", "shopkeeper")

user_stores = Table(
    "user_stores",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_username_lower", func.lower("username"), unique=True),
        CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
    )

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False)
    full_name = Column(String(120), nullable=False, default="")
    password_hash = Column(String(256), nullable=False)
    role = Column(String(16), nullable=False, default="shopkeeper")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    last_login_at = Column(UTCDateTime)
    # Interface language ("en", "ur"); NULL = the browser's choice (cookie, Accept-Language).
    language = Column(String(8))
    # Moved on by "log out everywhere", a password, role or active change: every session and
    # remember cookie carries the generation it was made under and dies when it moves on.
    session_generation = Column(Integer, nullable=False, default=1, server_default="1")

    stores = relationship("Store", secondary=user_stores, lazy="selectin", order_by="Store.code")

    @property
    def is_active(self):
        return self.active

    # When the password was typed for this login (seconds since the epoch); set by web/sessions.
    login_issued = 0

    def get_id(self):
        """Flask-Login's alternative id: user, session generation and login time."""
        return f"{self.id}:{self.session_generation}:{int(self.login_issued)}"

    @property
    def store_ids(self):
        return {store.id for store in self.stores}

    def __repr__(self):
        return f"<User {self.username} {self.role}>"


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name = Column(String(80), nullable=False)
    # sha256 of the token; the token itself is shown once and never stored.
    token_hash = Column(String(64), nullable=False, unique=True)
    prefix = Column(String(12), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    revoked_at = Column(UTCDateTime)
    last_used_at = Column(UTCDateTime)

    user = relationship("User", lazy="joined")
