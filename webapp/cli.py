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
    def seed_demo(force, days):
        """Fill an empty database with demo stores, products, history and one user per role.

        Run again on a database that has stores, it seeds nothing and prints the demo accounts
        that still work, so a second `make run` shows how to log in.
        """
        from webapp import demo

        if force and app.config["APP_ENV"] not in ("development", "testing"):
            raise click.ClickException(
                "--force erases every row; it runs only with APP_ENV=development or testing.")
        accounts = demo.seed(force=force, days=days)
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
