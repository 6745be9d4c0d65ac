"""The app gunicorn serves in the benchmark: production config on the bench database."""
import os

from config import ProductionConfig
from webapp import create_app


class BenchConfig(ProductionConfig):
    SECRET_KEY = "bench-only-secret"
    SQLALCHEMY_DATABASE_URI = os.environ["BENCH_DATABASE_URL"]
    REDIS_URL = os.environ["REDIS_URL"]
    RATELIMIT_STORAGE_URI = REDIS_URL
    # Explicit: Flask-Limiter's extension is one object per process, and an in-process tool that
    # first built a TestingConfig app (the migration) would otherwise inherit "disabled".
    RATELIMIT_ENABLED = True
    # Limits stay on (their Redis round trip is part of the cost) but high enough not to bite.
    API_RATE_LIMIT = "100000000 per minute"
    RATELIMIT_KEY_PREFIX = os.environ["BENCH_KEY_PREFIX"]


app = create_app(BenchConfig)
