"""The migration history: one head, up and down on both engines, no drift from the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from config import TestingConfig, sqlalchemy_url
from webapp import create_app
from webapp.extensions import db, migrate
from webapp.services import partitions


def _app(url):
    return create_app(type("Config", (TestingConfig,),
                           {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url)}))


def _script(app):
    return ScriptDirectory.from_config(migrate.get_config())


def _drift(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": partitions.include_name})
        diff = compare_metadata(context, db.metadata)
    return [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_index"
                                    and d[1].name.endswith("_lower"))]


def test_history_has_a_single_head(app):
    assert len(_script(app).get_heads()) == 1


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_base(own_database):
    app = _app(own_database)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {t.name for t in db.metadata.sorted_tables} <= tables
        assert _drift(app) == []
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_database_enforces_case_insensitive_sku_and_username(own_database):
    """The functional unique indexes exist in the migrated schema, not only in the models."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    app = _app(own_database)
    with app.app_context():
        upgrade()
        insert = text("INSERT INTO products (sku, name, category, unit, sale_price, "
                      "reorder_level, archived, created_at, updated_at) VALUES "
                      "(:sku, 'x', '', 'kg', 1, 0, false, '2026-01-01', '2026-01-01')")
        db.session.execute(insert, {"sku": "atta-10"})
        with pytest.raises(IntegrityError):
            db.session.execute(insert, {"sku": "ATTA-10"})
        db.session.rollback()
        db.engine.dispose()
