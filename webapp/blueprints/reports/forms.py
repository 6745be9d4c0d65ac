"""Report filters from the query string: shape and types only; the service checks the rest."""
from webapp.services import reports
from webapp.services.errors import N_, DomainError, NotFound
from webapp.services.policy import get_store_or_404, visible_store_ids
from webapp.services.validation import parse_id, parse_text


def _text(args, name, label, max_length=80):
    return parse_text(args.get(name), name, label, max_length) or None


def scope(user, args):
    """(stores the user may see, the store chosen by ?store_id= or ?store=CODE, or None).

    Another shop's store is a 404; for a user who does not see every store, so is an unknown
    code, so that a shopkeeper cannot tell which codes exist.
    """
    stores = visible_store_ids(user)
    raw, code = args.get("store_id"), (args.get("store") or "").strip()
    if raw in (None, "") and not code:
        return stores, None
    if raw in (None, ""):
        store_id = reports.store_by_code(parse_text(code, "store", "Store code", 32))
        if store_id is None and stores is not None:
            raise NotFound("Store")
        if store_id is None:
            raise DomainError("invalid", N_("No store has the code %(code)s.", code=code),
                              field="store")
    else:
        store_id = parse_id(raw, "store_id", "Store")
    get_store_or_404(store_id, user)
    return stores, store_id


def stock_filters(args):
    sort = args.get("sort") or "product"
    if sort not in reports.STOCK_SORTS:
        raise DomainError("invalid", N_("Unknown sort."), field="sort")
    return {"q": _text(args, "q", "Search", 100), "category": _text(args, "category", "Category"),
            "city": _text(args, "city", "City"), "archived": args.get("archived") == "1",
            "sort": sort, "descending": args.get("desc") == "1"}


def low_filters(args):
    return {"q": _text(args, "q", "Search", 100), "category": _text(args, "category", "Category"),
            "city": _text(args, "city", "City"),
            "cover_days": args.get("cover_days") or reports.DEFAULT_COVER_DAYS}


def span(args):
    return reports.date_range(args.get("from"), args.get("to"))

