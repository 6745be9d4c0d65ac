"""The interface language: the user's setting, else a `lang` cookie, else Accept-Language.

English is the default and the source language; every interface string goes through gettext
(`_()` in templates and code) and has its Urdu translation in webapp/translations/ur.

Service messages (DomainError) are English `Text` that carries its msgid and values
(services/errors.py); `translate()` turns them into the reader's language here, at the door:
pages always, the JSON API only when the client asks with `Accept-Language: ur` (and then only
`message` and field messages: codes and field names never change).
"""
import os
from pathlib import Path

from flask import has_request_context, request
from flask_babel import force_locale, get_locale, gettext, refresh
from flask_login import current_user

from webapp.services.errors import Text
from webapp.services.validation import PAKISTAN

LANGUAGES = ("en", "ur")
NAMES = {"en": "English", "ur": "اردو"}
RTL = {"ur"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# Unicode first-strong-isolate … pop-directional-isolate: a value (a product name, a number, a
# SKU) dropped into an Urdu sentence keeps its own direction and does not reorder the sentence.
FSI, PDI = "\u2068", "\u2069"


def select_locale():
    if not has_request_context():
        return LANGUAGES[0]
    chosen = getattr(current_user, "language", None) if current_user else None
    if chosen in LANGUAGES:
        return chosen
    if request.cookies.get(COOKIE) in LANGUAGES:
        return request.cookies[COOKIE]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def remember_language(response, language):
    """The `lang` cookie: the language before login (and after logout) on this browser."""
    response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, samesite="Lax",
                        httponly=True, secure=request.is_secure)
    return response


def current_language():
    locale = get_locale() if has_request_context() else None
    return locale.language if locale and locale.language in LANGUAGES else LANGUAGES[0]


def is_rtl():
    return current_language() in RTL


def translate(text):
    """A service message (Text, or a plain msgid) in the current language; other values as is."""
    if isinstance(text, Text):
        rtl = is_rtl()
        values = {name: _value(value, rtl) for name, value in (text.values or {}).items()}
        return gettext(text.msgid, **values) if values else gettext(text.msgid)
    if isinstance(text, str) and text:
        return gettext(text)
    return text


def _value(value, rtl):
    """A value inside a message: a Text or a plain label ("Unit cost") in the reader's words
    when the catalogue knows it; anything else (names, numbers, codes) as it is, isolated."""
    if isinstance(value, Text):
        return translate(value)
    if isinstance(value, str):
        value = gettext(value)
    return f"{FSI}{value}{PDI}" if rtl else value


def translate_error_body(body):
    """The API's error envelope with `message` and field messages in Urdu (Accept-Language: ur)."""
    with force_locale("ur"):
        body = dict(body)
        body["message"] = translate(body.get("message"))
        if body.get("fields"):
            body["fields"] = {name: translate(message) for name, message in body["fields"].items()}
    return body


def api_wants_urdu():
    return request.accept_languages.best_match(LANGUAGES, default="en") == "ur" and \
        request.accept_languages["ur"] >= request.accept_languages["en"]


def compile_catalogues(directory=TRANSLATIONS):
    """Build each .mo from its .po when it is missing or older (written aside, then renamed, so
    a process starting at the same moment never reads half a file)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in directory.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        temporary = mo.with_name(f".{mo.name}.{os.getpid()}")
        with temporary.open("wb") as target:
            write_mo(target, catalog)
        os.replace(temporary, mo)


def init_app(app, babel):
    compile_catalogues()
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(TRANSLATIONS),
                   default_timezone=PAKISTAN.key)

    @app.before_request
    def choose_language_afresh():
        """Flask-Babel caches the locale on the app context, which a test client (or a
        copied context) can share between requests: each request chooses again."""
        refresh()

    @app.context_processor
    def language_context():
        language = current_language()
        return {"lang": language, "text_dir": "rtl" if language in RTL else "ltr",
                "languages": NAMES, "tr": translate}

    app.add_template_filter(translate, "tr")
