"""Stock levels and store stock pages cached in Redis, never older than a returned write.

Every cached value is stored under the generations it was read at:
  stock:lvl:{epoch}:{catalog gen}:{store}:{product}:{level gen}
  stock:page:{epoch}:{catalog gen}:{store}:{store gen}:{query hash}
After a stock write commits, ledger.stock_changed makes us INCR the level's and the store's
generation before the writer's response goes out. A reader fetches the generations and the value
in one Lua call; on a miss it reads the primary database and stores the result under the
generations it fetched. A reader that raced a writer thus stores its old value under a generation
nobody asks for again, so out-of-order cache updates can never win and no compare-and-set is
needed. Catalog edits (names, reorder levels, archiving) bump the catalog generation; a Redis
outage that swallowed an invalidation starts a new epoch (see webapp/redisconn.py).

`store_version(store_id)` is the cheap per-store "has anything changed" token for live pages
(one Redis round trip instead of an aggregate over the store's levels); it changes with every
stock write in the store, across all processes. Whatever moves it is also PUBLISHed on
LIVE_CHANNEL, in the same call: the changed stores' ids, or "*" when every store's version
moved (catalog, epoch), for live.py's event streams.
"""
import hashlib
import json
import logging
import time

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.infra import metrics, redisconn, replica
from webapp.models import Product, StockLevel, Store
from webapp.services import audit, inventory, ledger
from webapp.services.paging import Page

log = logging.getLogger(__name__)
LEVEL_GEN_TTL = 24 * 3600

# KEYS: epoch, catalog gen, the value's own generation. ARGV: new epoch, value key prefix and
# suffix. Returns {epoch, catalog gen, gen, value or false}.
_READ = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  epoch = redis.call('GET', KEYS[1])
end
local catalog = redis.call('GET', KEYS[2]) or '0'
local gen = redis.call('GET', KEYS[3]) or '0'
local key = ARGV[2] .. epoch .. ':' .. catalog .. ':' .. ARGV[3] .. ':' .. gen .. ARGV[4]
return {epoch, catalog, gen, redis.call('GET', key), key}
"""


def _key(name):
    return redisconn.prefixed("stock:" + name)


# KEYS: the stores' generations, then the levels', then (ARGV[3] = 1) the audit drain flag.
# ARGV: how many stores, the levels' TTL, whether the flag is there, its TTL, the live channel
# and the stores' ids for it. Returns 1 when it set the flag (no drain job was waiting). One
# script call instead of a pipeline of INCR, INCR, EXPIRE: a sale's invalidation cost more
# client CPU in redis-py's pipeline than its whole database write; the drain request and the
# live streams' notice ride along instead of costing a round trip of their own.
_BUMP = """
local stores = tonumber(ARGV[1])
local gens = #KEYS - tonumber(ARGV[3])
for i = 1, gens do
  redis.call('INCR', KEYS[i])
  if i > stores then redis.call('EXPIRE', KEYS[i], ARGV[2]) end
end
if stores > 0 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
if gens < #KEYS and redis.call('SET', KEYS[#KEYS], 1, 'NX', 'EX', ARGV[4]) then
  return 1
end
return 0
"""
# KEYS: the catalog generation. ARGV: the live channel.
_CATALOG = """
redis.call('INCR', KEYS[1])
return redis.call('PUBLISH', ARGV[1], '*')
"""
_SCRIPTS = {"read": _READ, "bump": _BUMP, "catalog": _CATALOG}
# Where every change of a store version is announced (prefixed): see the module's docstring.
LIVE_CHANNEL = redisconn.LIVE_CHANNEL


def _script(r, name):
    scripts = r.__dict__.setdefault("_kiryana_scripts", {})
    if name not in scripts:
        scripts[name] = redisconn.Script(r, _SCRIPTS[name])
    return scripts[name]


def _dump(value):
    """A value as it is cached: compact JSON, the bytes the API answers with (json_response)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cached(kind, gen_key, ident, suffix, load, as_json=False):
    """The value under the current generations, loading it from the primary on a miss
    (as_json: as its JSON text, which a hit has without parsing it)."""
    prefix = _key("")

    def read(r):
        return _script(r, "read")(keys=[prefix + "epoch", prefix + "catalog-gen", gen_key],
                                  args=[time.time_ns(), prefix + kind + ":", ident, suffix])

    got = redisconn.run(read)
    if got is None:  # no Redis: an ordinary read, routed like any other
        metrics.child(metrics.CACHE, kind, "bypass").inc()
        value = load()
        return _dump(value) if as_json else value
    if got[3] is not None:
        metrics.child(metrics.CACHE, kind, "hit").inc()
        return got[3] if as_json else json.loads(got[3])
    metrics.child(metrics.CACHE, kind, "miss").inc()
    with replica.primary():
        value = load()
    text = _dump(value)
    ttl = current_app.config["STOCK_CACHE_TTL"]
    redisconn.run(lambda r: r.set(got[4], text, ex=ttl))
    return text if as_json else value


def get_level(store_id, product_id, as_json=False):
    """One stock level (as inventory.get_level), from the cache; as_json: its compact JSON
    text, bytes on a hit (the API sends it as it was stored, without parsing and writing it
    again)."""
    return _cached("lvl", _key(f"gen:{store_id}:{product_id}"), f"{store_id}:{product_id}", "",
                   lambda: inventory.get_level(store_id, product_id), as_json)


def store_levels(store_id, q=None, low=False, page=1, per_page=50):
    """A page of a store's stock (as inventory.store_levels), from the cache."""
    params = json.dumps([q or "", bool(low), page, per_page])
    digest = ":" + hashlib.sha1(params.encode()).hexdigest()[:16]

    def load():
        result = inventory.store_levels(store_id, q=q, low=low, page=page, per_page=per_page)
        return [result.items, result.total]

    items, total = _cached("page", _key(f"store-gen:{store_id}"), str(store_id), digest, load)
    return Page(items, total, page, per_page)


def version_keys(store_ids):
    """The keys store versions are made of: the epoch, the catalog generation, then each
    store's generation (read them in one MGET; versions() turns the values into versions)."""
    return [_key("epoch"), _key("catalog-gen")] + [_key(f"store-gen:{s}") for s in store_ids]


def versions(values):
    """The stores' versions from version_keys' values, in the same order."""
    epoch, catalog = (v.decode() if v else "0" for v in values[:2])
    return [f"r-{epoch}-{catalog}-{v.decode() if v else '0'}" for v in values[2:]]


def store_version(store_id):
    """A token that changes whenever a level in the store changes, in any process; None when
    Redis cannot answer (then ask the database: lookup.levels_version does both)."""
    keys = version_keys([store_id])

    def read(r):
        # One round trip once the epoch is there (every live list's poll asks this; setting
        # it first each time was a second round trip, a third of an unchanged poll's cost).
        got = r.mget(keys)
        if got[0] is None:
            r.set(keys[0], time.time_ns(), nx=True)
            got = r.mget(keys)
        return got

    got = redisconn.run(read)
    if got is None:
        return None
    return versions(got)[0]


def invalidate(changes, drain=False):
    """Move the generations of the changed levels and their stores on; with `drain`, ask in
    the same call for a worker to drain the audit outbox (audit.DRAIN_FLAG)."""
    stores = sorted({s for s, _ in changes})
    keys = [_key(f"store-gen:{store_id}") for store_id in stores] + [
        _key(f"gen:{store_id}:{product_id}") for store_id, product_id in changes]
    if drain:
        keys.append(redisconn.prefixed(audit.DRAIN_FLAG))

    def bump(r):
        return _script(r, "bump")(keys=keys, args=[
            len(stores), LEVEL_GEN_TTL, int(drain), audit.DRAIN_FLAG_SECONDS,
            redisconn.prefixed(LIVE_CHANNEL), " ".join(map(str, stores))])

    flagged = redisconn.run(bump, invalidation=True)
    if drain:
        if flagged is None:  # Redis absent or failing: the request's end asks (or runs it inline)
            audit.mark_pending()
        elif flagged:
            audit.drain_flagged.send(None)


def invalidate_catalog():
    redisconn.run(lambda r: _script(r, "catalog")(
        keys=[_key("catalog-gen")], args=[redisconn.prefixed(LIVE_CHANNEL)]), invalidation=True)


def _on_stock_changed(sender, changes=(), **kwargs):
    try:
        invalidate(changes, drain=audit.take_pending())
    except Exception:  # the write has committed; a receiver must never fail it
        log.exception("stock cache invalidation failed")


CATALOG_MODELS = (Product, Store, StockLevel)


def _note_catalog_change(session, flush_context):
    if any(isinstance(obj, CATALOG_MODELS) for obj in (*session.new, *session.dirty,
                                                        *session.deleted)):
        session.info["catalog_changed"] = True


def _after_commit(session):
    if session.info.pop("catalog_changed", False):
        try:
            invalidate_catalog()
        except Exception:
            log.exception("stock cache catalog invalidation failed")


def init_app(app):
    ledger.stock_changed.connect(_on_stock_changed, weak=False)
    if not getattr(init_app, "listening", False):
        event.listen(Session, "after_flush", _note_catalog_change)
        event.listen(Session, "after_commit", _after_commit)
        init_app.listening = True
