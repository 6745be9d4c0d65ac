"""The folded filters' summary in words ("This week · KHI-0001 · Grocery"), so a phone shows
what the results are for without opening the form."""
from flask_babel import gettext as _

from webapp.web.periods import span_words


def _store(args, choices):
    store_id, code = args.get("store_id"), (args.get("store") or "").strip()
    for store in (choices.get("stores") or []) if store_id else []:
        if str(store.id) == store_id:
            return store.code
    if code or store_id:
        return code.upper() or store_id
    return _("All stores") if choices.get("all_stores") else _("All my stores")


def filter_words(args, choices, span=None):
    """The report's chosen range, store, search, category and city, as short words."""
    words = [span_words(span.start, span.end) if span is not None
             else span_words(args.get("from"), args.get("to")),
             _store(args, choices)]
    if (args.get("q") or "").strip():
        words.append(_("“%(text)s”", text=args["q"].strip()))
    words += [args.get("category"), args.get("city")]
    if args.get("archived") == "1":
        words.append(_("archived too"))
    return [w for w in words if w]
