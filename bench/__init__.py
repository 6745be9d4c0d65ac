"""Benchmarks: `make bench` (bench.run: load on gunicorn + PostgreSQL + Redis against raw-SQL
and trivial ceilings) and `make bench-reports` (bench.reports_scale: reports at scale)."""
