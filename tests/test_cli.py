"""The operator commands: seed-demo and create-user."""
import pytest
from sqlalchemy import func, select

from tests.factories import make_store
from webapp.cli import OPERATOR
from webapp.extensions import db
from webapp.models import Product, StockMovement, Store, User
from webapp.services import accounts
from webapp.services.integrity import ledger_is_consistent


@pytest.mark.slow  # seeds the whole demo: hundreds of movements
def test_seed_demo_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "galla-demo-303" in result.output and "admin" in result.output
    assert db.session.scalar(select(func.count()).select_from(Product)) >= 60
    cities = set(db.session.scalars(select(Store.city)))
    assert {"Karachi", "Lahore"} <= cities
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) > 500
    assert ledger_is_consistent(db.session.connection())
    again = runner.invoke(args=["seed-demo"])
    assert "nothing seeded" in again.output
    # A second `make run` still tells the newcomer how to log in.
    assert "galla-demo-303" in again.output and "hisaab-demo-202" in again.output


@pytest.mark.slow  # seeds the whole demo: hundreds of movements
def test_seed_demo_again_lists_only_accounts_that_still_work(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--days", "0"])
    dukan = accounts.find_user("dukan")
    accounts.update_user(OPERATOR, dukan.id, password="changed-by-me-1")
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert "galla-demo-303" not in again.output and "chabi-demo-101" in again.output


@pytest.mark.slow  # seeds the whole demo: hundreds of movements
def test_seed_demo_force_starts_the_demo_over(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--days", "0"])
    first = db.session.scalar(select(func.count()).select_from(StockMovement))
    runner.invoke(args=["create-user", "Ali", "--password", "secret-pass-1"])
    result = runner.invoke(args=["seed-demo", "--force", "--days", "0"])
    assert result.exit_code == 0, result.output
    assert "Demo data ready" in result.output and "galla-demo-303" in result.output
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Store)) == 4
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == first
    assert accounts.find_user("Ali") is None
    assert ledger_is_consistent(db.session.connection())


def test_seed_demo_force_refuses_outside_development(app, monkeypatch):
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "Ali", "--password", "secret-pass-1"])
    result = runner.invoke(args=["seed-demo", "--force"])
    assert result.exit_code != 0 and "erases every row" in result.output
    assert accounts.find_user("Ali") is not None


def test_create_user_with_stores(app):
    runner = app.test_cli_runner()
    make_store(code="KHI-0001")
    result = runner.invoke(args=["create-user", "Ali", "--role", "shopkeeper",
                                 "--password", "secret-pass-1", "--store", "khi-0001"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "Ali"))
    assert [s.code for s in user.stores] == ["KHI-0001"]
    duplicate = runner.invoke(args=["create-user", "ali", "--password", "secret-pass-1"])
    assert duplicate.exit_code != 0 and "taken" in duplicate.output
    short = runner.invoke(args=["create-user", "bilal", "--password", "short"])
    assert short.exit_code != 0 and "at least 10" in short.output
    unknown = runner.invoke(args=["create-user", "bilal", "--password", "secret-pass-1",
                                  "--store", "NOPE-1"])
    assert unknown.exit_code != 0 and "NOPE-1" in unknown.output


@pytest.mark.slow  # seeds the demo
def test_seed_demo_refuses_production_unless_asked_and_never_with_a_known_password(
        app, monkeypatch):
    from webapp import demo

    monkeypatch.setitem(app.config, "APP_ENV", "production")
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["seed-demo", "--days", "0"])
    assert refused.exit_code != 0 and "--in-production" in refused.output
    assert db.session.scalar(select(func.count()).select_from(Store)) == 0
    seeded = runner.invoke(args=["seed-demo", "--days", "0", "--in-production"])
    assert seeded.exit_code == 0, seeded.output
    for username, password, _role, _codes in demo.ACCOUNTS:
        assert password not in seeded.output
        assert accounts.authenticate(username, password) is None
    assert demo.usable_accounts() == []


@pytest.mark.parametrize("username,password", [
    ("bilal", "bilalbilal123"), ("ahmed.khan", "x-AHMED.KHAN-x"), ("dukan", "Pakistan123"),
    ("dukan", "kiryana123"), ("dukan", "Pakistan@786"), ("dukan", "bismillah786")])
def test_passwords_with_the_username_or_on_the_local_list_are_refused(app, username, password):
    from webapp.services.errors import DomainError

    with pytest.raises(DomainError, match="too common"):
        accounts.create_user(OPERATOR, username, password, role="shopkeeper",
                             store_codes=[make_store().code])
