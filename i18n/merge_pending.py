"""Bring the Urdu catalogue up to date: extract, update, fill from i18n/pending/*.po, compile.

    .venv/bin/python -m i18n.merge_pending          # or: make translations

1. Extract every msgid from webapp/ (Python: _ gettext ngettext N_ _l lazy_gettext; Jinja
   templates) with babel.cfg.
2. Update webapp/translations/ur/LC_MESSAGES/messages.po from it: new msgids are added, msgids
   no longer used are dropped (no fuzzy guessing: a guess shown to a shopkeeper is worse than
   a missing translation, which the test catches).
3. Fill empty msgstr from i18n/pending/<branch>.po (each helper writes the Urdu of their new
   strings there); a pending translation never overwrites one already in the catalogue — the
   differences are printed for a person to decide.
4. Compile the .mo, and list every msgid still without Urdu (exit status 1 if any).
"""
import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "webapp" / "translations" / "ur" / "LC_MESSAGES" / "messages.po"
PENDING = ROOT / "i18n" / "pending"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None,
            "lazy_gettext": None, "lazy_ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def _ignore(path):
    name = Path(path).name
    return not (name.startswith(".") or name == "__pycache__")


def extract():
    """Every msgid in webapp/ (Python and templates), as a template catalogue."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    template = Catalog(project="Kiryana Inventory", charset="utf-8")
    messages = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS,
                                directory_filter=_ignore, strip_comment_tags=True)
    for filename, lineno, message, comments, context in messages:
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def read(path):
    with Path(path).open("rb") as source:
        return read_po(source, locale="ur")


def pending_catalogues(directory=PENDING):
    return {path.name: read(path) for path in sorted(Path(directory).glob("*.po"))}


def _key(message):
    return message.id if isinstance(message.id, str) else message.id[0]


def _translated(message):
    if isinstance(message.string, (list, tuple)):
        return all(message.string)
    return bool(message.string)


def placeholders(text):
    return {a or b for a, b in PLACEHOLDER.findall(text or "")}


def placeholder_problems(catalog):
    """msgids whose Urdu drops or invents a %(name)s placeholder (it would crash or mislead)."""
    problems = []
    for message in catalog:
        if not message.id or not _translated(message):
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set().union(*(placeholders(i) for i in ids))
        for string in strings:
            if placeholders(string) - wanted or (placeholders(ids[0]) - placeholders(string)
                                                 and "num" not in placeholders(ids[0])):
                problems.append(_key(message))
    return problems


def merge(template, catalogue, pending):
    """The catalogue updated to the template, empty msgstr filled from pending; conflicts."""
    catalogue.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalogue.obsolete.clear()
    conflicts = []
    for name, extra in pending.items():
        for message in extra:
            if not message.id or not _translated(message):
                continue
            ours = catalogue.get(message.id, message.context)
            if ours is None:
                continue
            if not _translated(ours):
                ours.string = message.string
                ours.flags.discard("fuzzy")
            elif ours.string != message.string:
                conflicts.append((name, _key(message), ours.string, message.string))
    return conflicts


def missing(catalogue):
    return [_key(m) for m in catalogue if m.id and (not _translated(m) or m.fuzzy)]


def write(catalogue, path=CATALOGUE):
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=100, sort_output=True, omit_header=False,
             include_previous=False)
    path.write_bytes(buffer.getvalue())
    with path.with_suffix(".mo").open("wb") as target:
        write_mo(target, catalogue)


def main():
    template = extract()
    catalogue = read(CATALOGUE) if CATALOGUE.exists() else Catalog(locale="ur")
    conflicts = merge(template, catalogue, pending_catalogues())
    write(catalogue)
    for name, msgid, ours, theirs in conflicts:
        print(f"kept the catalogue's Urdu for {msgid!r}; {name} suggests {theirs!r}")
    for msgid in placeholder_problems(catalogue):
        print(f"placeholders differ: {msgid!r}")
    left = missing(catalogue)
    for msgid in left:
        print(f"no Urdu yet: {msgid!r}")
    print(f"{len(catalogue)} messages, {len(left)} without Urdu -> {CATALOGUE.relative_to(ROOT)}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
