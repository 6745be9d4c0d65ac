"""Operations drills on real PostgreSQL clusters this machine starts on its own ports:
backup and point-in-time restore (drill.backup), a dead primary (drill.failover).

They are what docs/operations.md tells an operator to do, run end to end; the slow tests in
tests/test_backup_drill.py and tests/test_failover_drill.py run them, and `make drill` prints
their figures.
"""
