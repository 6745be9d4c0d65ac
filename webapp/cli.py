"""Command-line tools: `flask --app webapp seed-demo`, `flask --app webapp create-user`."""
import click

from webapp.services import audit

OPERATOR = audit.Actor(user_id=None, source="web", ip="cli")


def register(app):
    @app.cli.command("seed-demo")
    @click.option("--force", is_flag=True,
                  help="Erase EVERY row first, then seed (development and testing only).")
    @click.option("--days", default=14, show_default=True, type=click.IntRange(0, 366),
                  help="Days of sales history to make up.")
    @click.option("--in-production", "in_production", is_flag=True,
                  help="Seed although APP_ENV is production (the accounts get random "
                       "passwords, shown once).")
    def seed_demo(force, days, in_production):
        """Fill an empty database with demo stores, products, history and one user per role.

        Run again on a database that has stores, it seeds nothing and prints the demo accounts
        that still work, so a second `make run` shows how to log in.
        """
        from webapp import demo

        production = app.config["APP_ENV"] not in ("development", "testing")
        if force and production:
            raise click.ClickException(
                "--force erases every row; it runs only with APP_ENV=development or testing.")
        if production and not in_production:
            raise click.ClickException(
                "APP_ENV is production: demo data and demo accounts do not belong there. "
                "Add --in-production to seed anyway (the accounts get random passwords).")
        accounts = demo.seed(force=force, days=days, fresh_passwords=production)
        if accounts is None:
            accounts = demo.usable_accounts()
            click.echo("The database already has stores; nothing seeded "
                       "(`flask seed-demo --force` or `make reset` starts the demo over).")
            if not accounts:
                return
            click.echo("Demo accounts:")
        else:
            click.echo("Demo data ready. Log in with:")
        for username, password, role in accounts:
            click.echo(f"  {role:<10} {username:<12} password: {password}")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(["admin", "manager", "shopkeeper"]),
                  default="shopkeeper", show_default=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--store", "stores", multiple=True, help="Store code (repeatable).")
    def create_user(username, role, password, stores):
        """Create a user; shopkeepers belong to the stores given with --store."""
        from webapp.services import accounts
        from webapp.services.errors import DomainError

        try:
            user = accounts.create_user(OPERATOR, username, password, role=role,
                                        store_codes=list(stores))
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Created {user.role} {user.username} (id {user.id}).")

    @app.cli.command("drain-audit")
    def drain_audit():
        """Move every pending audit event from the outbox into the audit log."""
        click.echo(f"{audit.drain_all()} audit events moved.")

    @app.cli.command("verify-ledger")
    @click.option("--store", "store_code", help="Check one store (by code) instead of all.")
    def verify_ledger(store_code):
        """Check the ledger's invariants and print what was checked; exit 1 on any breach."""
        _verify_ledger(store_code)

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False))
    def backup_database(path):
        """Copy the SQLite database to PATH while the app keeps serving (online backup API)."""
        from webapp.extensions import db
        from webapp.services import backup
        from webapp.services.errors import DomainError

        try:
            size = backup.backup(db.engine, path)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Backed up {backup.sqlite_path(db.engine)} to {path} ({size:,} bytes).")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
    def restore_database(path, yes):
        """Put the SQLite backup PATH in place of the database, then verify the ledger."""
        from webapp.extensions import db
        from webapp.services import backup
        from webapp.services.errors import DomainError

        try:
            backup.check_backup(path)
            live = backup.sqlite_path(db.engine)
            if not yes:
                click.confirm(f"Replace {live} with {path}?", abort=True)
            kept = backup.restore(db.engine, path)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        db.engine.dispose()  # this process's pooled connections predate the restore
        if kept:
            click.echo(f"The database it replaced is kept as {kept}.")
        click.echo(f"Restored {live} from {path}.")
        _verify_ledger(None)


def _verify_ledger(store_code):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Store
    from webapp.services import integrity

    store_id = None
    if store_code:
        store_id = db.session.scalar(select(Store.id).where(Store.code == store_code.strip()))
        if store_id is None:
            raise click.ClickException(f"No store with code {store_code}.")
    conn = db.session.connection()
    report = integrity.verify(conn, store_id)
    if store_id is None:  # the whole ledger: its findings are now the watch's alarm state
        from webapp.models.types import utcnow

        integrity.record_full_check(conn, utcnow(), report)
        db.session.commit()
    else:
        db.session.rollback()
    checked = report["checked"]
    scope = f"store {store_code}" if store_code else "all stores"
    click.echo(f"Invariant 1 (level = sum of movements, balance_after chain) over {scope}: "
               f"{checked['stores']} stores, {checked['levels']:,} levels, "
               f"{checked['movements']:,} movements.")
    click.echo(f"Invariant 8 (customer's balance = sum of entries, balance_after chain): "
               f"{checked['customers']:,} customers, {checked['entries']:,} entries.")
    click.echo(f"Invariant 9 (a tracked product's batches add up to its level; each batch = "
               f"its batch rows, each movement = its batch rows): {checked['batches']:,} "
               "batches.")
    problems = report["violations"]
    labels = {"levels": "levels that differ from the sum of their movements",
              "chain": "movements whose balance_after breaks the chain",
              "orphans": "store x product pairs with movements and no level",
              "customers": "customers whose balance differs from the sum of their entries",
              "entries": "customer entries whose balance_after breaks the chain",
              "batch_levels": "tracked levels their batches do not add up to",
              "batches": "batches that differ from the sum of their batch rows",
              "batch_movements": "movements whose batch rows do not add up to their delta"}
    for kind, rows in problems.items():
        click.echo(f"  {labels[kind]}: {len(rows)}")
        for row in rows[:20]:
            click.echo(f"    {row}")
    total = sum(len(rows) for rows in problems.values())
    if total:
        raise click.ClickException(f"{total} violations of the ledger's invariants.")
    click.echo("OK: no violation.")
