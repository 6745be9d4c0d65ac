"""gunicorn's settings file: gunicorn reads ./gunicorn.conf.py from where it is started, so the
production command (README, "Running in production"), `make bench` and `make soak` all use it.
The command line still chooses workers, threads and the address.
"""
import gc
import os

# Young objects allocated before the collector runs (CPython's default is 700). A sale
# allocates a few thousand, so at 700 the collector ran several times per request, each time
# walking every in-flight request's objects across the worker's threads. Refcounting frees
# nearly all of them anyway; the collector only has cycles to find. GC_YOUNG=700 restores the
# default (bench.compare measures one against the other).
GC_YOUNG = int(os.environ.get("GC_YOUNG", "50000"))


def post_worker_init(worker):
    """Everything alive once the app is loaded (modules, models, compiled statements, about
    150,000 objects) goes to the garbage collector's permanent generation: a full collection
    no longer walks it, which took ~70 ms with every thread of the worker stopped (a tail
    latency spike on whatever requests were in flight)."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)
