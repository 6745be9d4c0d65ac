"""One way in for every operation that changes stock or money: `handle(actor, command, key)`.

A door (a page form, an API body, a sync item, an offline queue item) builds one frozen command
(services/commands.py) and hands it here. `handle` then does, in this order and nowhere else:

1. who may: store access and the role rules of services/policy.py (`policy.authorize`, one
   table keyed by the command's type), before anything is read or written;
2. the operation's handler, which the services register with `@handles(CommandType)`. Each runs
   through the ledger's runner (services/ledger/runner.py): one transaction in which the
   Idempotency-Key is claimed first (a retry answers its first response even when the rules
   would now refuse it), then the rules that need the database, the write, the key's stored
   response, the commit, and after the commit the `stock_changed` signal.

A registered function called by its own name goes through `handle` as well (the decorator
returns a caller of `handle`), so no service, job or test can write around the policy.
Money operations to come (customer payment, supplier payment, daily closing) add a command,
a row in policy.COMMAND_RULES and one `@handles` function.
"""
from functools import wraps

from webapp.services import policy

# command type → the function that carries it out (actor, command, idempotency_key)
HANDLERS = {}


def handles(command_type):
    """Register the decorated function as the handler of `command_type`; calling it by its
    name afterwards goes through `handle` (policy first)."""
    if command_type in HANDLERS:
        raise ValueError(f"{command_type.__name__} already has a handler")
    if command_type not in policy.COMMAND_RULES:
        raise ValueError(f"{command_type.__name__} has no row in policy.COMMAND_RULES")

    def register(run):
        HANDLERS[command_type] = run

        @wraps(run)
        def through_handle(actor, command, idempotency_key=None):
            return handle(actor, command, idempotency_key)
        return through_handle
    return register


def handle(actor, command, idempotency_key=None):
    """Carry out `command` for `actor`: policy, then its handler (see the module docstring)."""
    run = HANDLERS.get(type(command))
    if run is None:
        raise LookupError(f"No handler for {type(command).__name__}")
    policy.authorize(actor, command)
    return run(actor, command, idempotency_key)
