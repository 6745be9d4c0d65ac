"""The operator commands: seed-demo and create-user."""
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Product, StockMovement, Store, User
from webapp.services.integrity import ledger_is_consistent


def test_seed_demo_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "dukan-demo-123" in result.output and "admin" in result.output
    assert db.session.scalar(select(func.count()).select_from(Product)) >= 60
    cities = set(db.session.scalars(select(Store.city)))
    assert {"Karachi", "Lahore"} <= cities
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) > 500
    assert ledger_is_consistent(db.session.connection())
    again = runner.invoke(args=["seed-demo"])
    assert "nothing seeded" in again.output


def test_create_user_with_stores(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
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
