"""gunicorn's settings file: gunicorn reads ./gunicorn.conf.py from where it is started, so the
production command (README, "Running in production"), `make bench` and `make soak` all use it.
The command line still chooses workers, threads and the address.
"""
import gc

from config import Config

# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them. On one shared socket the worker already running won the race for a
# burst of connects: a proxy's or a load client's 32 keep-alive connections could all land on
# one worker of four (seen in `make bench`), which then served every request on one core's GIL
# while the other three idled.
reuse_port = True


def post_worker_init(worker):
    """Everything alive once the app is loaded (modules, models, compiled statements, about
    150,000 objects) goes to the garbage collector's permanent generation: a full collection
    no longer walks it, which took ~70 ms with every thread of the worker stopped (a tail
    latency spike on whatever requests were in flight). Young objects are collected every
    GC_YOUNG allocations (config.py) instead of CPython's 700."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(Config.GC_YOUNG, older, oldest)
