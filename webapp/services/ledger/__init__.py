"""The stock ledger: the only code that changes stock.

Each operation is one transaction that claims the idempotency key, moves the level with a
guarded UPDATE (the row lock serialises writers of one store × product, so there is no lost
update and each movement's balance_after is the level right after it), appends the movement,
bumps the daily summary and writes the audit event. The hot path is SQLAlchemy Core: no ORM
objects are loaded or refreshed.

    operations.py  the operations (a movement, a transfer, a count, a basket's lines and their
                   reversals, a delivery), registered with services/handlers
    rules.py       the rules that need no database (types, reasons, whole units, bounds)
    runner.py      the transaction: the key claimed in it, the commit, the signal after it
    writes.py      the general path, a statement per step, on any database
    fastpath.py    PostgreSQL's one-statement movement, made from the same column lists
    statements.py  the statements, built once per dialect, and those column lists
    serialise.py   movements and levels as JSON-ready data
    batches.py     a tracked product's batches by expiry date: taken first-expiring-first-out,
                   added by date, put back by a void, carried by a transfer (invariant 9)

Doors reach the operations through services/handlers.handle, which asks services/policy.py
who may first; the names below are what the rest of the house uses.
"""
from webapp.services.commands import MAX_COUNT_LINES, RECORDABLE_TYPES
from webapp.services.errors import InsufficientStock
from webapp.services.ledger import batches
from webapp.services.ledger.operations import (
    REVERSAL_REASONS,
    Line,
    apply_count,
    apply_opening_stock,
    load_lines,
    put_back_lines,
    receive_delivery,
    record_movement,
    take_lines,
    transfer,
    write_count,
)
from webapp.services.ledger.rules import ShortLines, check_countable, count_difference
from webapp.services.ledger.runner import (
    LedgerResult,
    run_in_transaction,
    signals,
    stock_changed,
)
from webapp.services.ledger.serialise import level_dict, movement_dict
from webapp.services.ledger.statements import LEVELS, MOVEMENTS

__all__ = [
    "LEVELS", "MAX_COUNT_LINES", "InsufficientStock", "MOVEMENTS", "RECORDABLE_TYPES", "REVERSAL_REASONS",
    "LedgerResult", "Line", "batches", "ShortLines", "apply_count", "apply_opening_stock",
    "check_countable", "count_difference", "level_dict", "load_lines", "movement_dict",
    "put_back_lines", "receive_delivery", "record_movement", "run_in_transaction", "signals",
    "stock_changed", "take_lines", "transfer", "write_count",
]
