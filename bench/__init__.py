"""`make bench`: load on gunicorn + PostgreSQL + Redis against raw-SQL and trivial ceilings."""
