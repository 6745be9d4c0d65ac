"""Catalog and account services: validation, case-insensitive uniqueness, audit events."""
import pytest
from sqlalchemy import select

from tests.factories import ADMIN, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import AuditOutbox
from webapp.services import accounts, catalog
from webapp.services.errors import Conflict, DomainError


def test_sku_is_trimmed_and_unique_case_insensitively(app):
    product = make_product(sku="  Atta-10 ")
    assert product.sku == "Atta-10"
    with pytest.raises(Conflict) as error:
        make_product(sku="ATTA-10")
    assert error.value.code == "duplicate_sku" and "sku" in error.value.fields


def test_barcode_is_unique_when_present(app):
    make_product(barcode="896100")
    make_product(barcode="")
    make_product()
    with pytest.raises(Conflict) as error:
        make_product(barcode="896100")
    assert error.value.code == "duplicate_barcode"


@pytest.mark.parametrize("changes, field", [
    ({"sku": ""}, "sku"), ({"name": " "}, "name"), ({"name": "x" * 201}, "name"),
    ({"unit": "bag"}, "unit"), ({"sale_price": "-5"}, "sale_price"),
    ({"sale_price": "1.234"}, "sale_price"), ({"sale_price": None}, "sale_price"),
    ({"cost": "abc"}, "cost"), ({"reorder_level": "-1"}, "reorder_level"),
    ({"archived": "maybe"}, "archived"), ({"colour": "red"}, "colour"),
])
def test_product_validation(app, changes, field):
    with pytest.raises(DomainError) as error:
        make_product(**changes)
    assert field in error.value.fields


def test_update_and_archive_are_audited_with_before_and_after(app):
    product = make_product(name="Cheeni")
    catalog.update_product(ADMIN, product.id, {"name": "Cheeni (loose)", "archived": True})
    event = db.session.scalars(select(AuditOutbox).where(
        AuditOutbox.action == "product.update")).one()
    assert event.before["name"] == "Cheeni" and event.after["name"] == "Cheeni (loose)"
    assert event.after["archived"] is True


def test_store_codes_are_upper_cased_and_unique(app):
    assert make_store(code="khi-9").code == "KHI-9"
    with pytest.raises(Conflict):
        make_store(code="KHI-9")
    with pytest.raises(DomainError):
        make_store(code="bad code!")


def test_usernames_are_unique_case_insensitively_and_login_is_audited(app):
    make_user(username="Dukan", password="long-enough-1")
    with pytest.raises(Conflict):
        make_user(username="dukan")
    assert accounts.authenticate("DUKAN", "long-enough-1", ip="1.2.3.4").username == "Dukan"
    assert accounts.authenticate("dukan", "wrong-password") is None
    assert accounts.authenticate("nobody", "wrong-password") is None
    actions = db.session.scalars(select(AuditOutbox.action).order_by(AuditOutbox.id)).all()
    assert actions[-3:] == ["user.login", "user.login_failed", "user.login_failed"]


def test_inactive_users_cannot_log_in(app):
    user = make_user(password="long-enough-1")
    accounts.update_user(ADMIN, user.id, active=False)
    assert accounts.authenticate(user.username, "long-enough-1") is None


def test_api_tokens_are_hashed_expire_and_revoke(app):
    user = make_user()
    plaintext, token = accounts.issue_token(ADMIN, user, "POS", ttl_days=30)
    assert plaintext not in token.token_hash and token.prefix == plaintext[:12]
    assert accounts.user_for_token(plaintext).id == user.id
    assert token.last_used_at is not None
    assert accounts.user_for_token(plaintext + "x") is None
    accounts.revoke_token(ADMIN, token.id)
    assert accounts.user_for_token(plaintext) is None
