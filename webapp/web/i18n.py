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
from flask.globals import _cv_app, _cv_request
from flask_babel import force_locale, get_locale, refresh
from flask_babel import Domain, get_babel, get_translations
from flask_login import current_user
from jinja2 import pass_eval_context
from markupsafe import Markup

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


def _kept(babel_ctx, domain):
    """The translations RequestDomain kept on the request's babel context, if they were found
    for its current locale and for `domain`; else None."""
    if babel_ctx is None:
        return None
    kept = babel_ctx.__dict__.get("kiryana_translations")
    if kept is not None and kept[0] is babel_ctx.__dict__.get("babel_locale") \
            and kept[1] is domain:
        return kept[2]
    return None


class RequestDomain(Domain):
    """Flask-Babel's default domain, keeping the translations it finds on the request's babel
    context beside the locale they were found for. Flask-Babel looks that context up through
    `g` three times and formats the locale's name for every gettext (~35 a basket, 15 % of
    it); a forced or refreshed locale is another (or no) object, so the next call looks again."""

    def get_translations(self):
        app_ctx = _cv_app.get(None)
        if app_ctx is None:
            return super().get_translations()
        kept = _kept(app_ctx.g.__dict__.get("_flask_babel"), self)
        if kept is not None:
            return kept
        found = super().get_translations()
        babel_ctx = app_ctx.g._flask_babel  # made by the call above
        locale = babel_ctx.__dict__.get("babel_locale")
        if locale is not None:
            babel_ctx.kiryana_translations = (locale, self, found)
        return found


def translations():
    """flask_babel.get_translations(): what RequestDomain kept for this request's locale and
    domain, from one context variable and two identity checks."""
    app_ctx = _cv_app.get(None)
    babel_ctx = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    if babel_ctx is not None:
        kept = _kept(babel_ctx, babel_ctx.__dict__.get("babel_domain"))
        if kept is not None:
            return kept
    return get_translations()


def gettext(string, **variables):
    """flask_babel.gettext, through translations()."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular, plural, num, **variables):
    """flask_babel.ngettext, through translations()."""
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


@pass_eval_context
def _template_gettext(eval_ctx, string, **variables):
    """Jinja's newstyle gettext (jinja2.ext._make_new_gettext) without its context: Jinja
    derives a whole template context for a pass_context call inside a block or loop, and the
    translation needs only the autoescape flag."""
    text = translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


@pass_eval_context
def _template_ngettext(eval_ctx, singular, plural, num, **variables):
    """Jinja's newstyle ngettext, as _template_gettext."""
    variables.setdefault("num", num)
    text = translations().ungettext(singular, plural, num)
    if eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


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
    if _cv_request.get(None) is None:
        return LANGUAGES[0]
    # The locale Flask-Babel chose for this request, read without its three lookups of `g`.
    babel_ctx = _cv_app.get().g.__dict__.get("_flask_babel")
    locale = babel_ctx.__dict__.get("babel_locale") if babel_ctx is not None else None
    if locale is None:
        locale = get_locale()
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
    if not isinstance(babel.__dict__.get("domain_instance"), RequestDomain):
        babel.domain_instance = RequestDomain(domain=get_babel(app).default_domain)

    @app.before_request
    def choose_language_afresh():
        """Flask-Babel caches the locale on the app context, which a test client (or a
        copied context) can share between requests: each request chooses again. (A context
        without Flask-Babel's namespace has nothing cached to forget.)"""
        if "_flask_babel" in _cv_app.get().g.__dict__:
            refresh()

    @app.context_processor
    def language_context():
        language = current_language()
        return {"lang": language, "text_dir": "rtl" if language in RTL else "ltr",
                "languages": NAMES, "tr": translate}

    app.add_template_filter(translate, "tr")
    # Flask-Babel's callables (pgettext, npgettext) through translations(); gettext, `_` and
    # ngettext as _template_gettext (the same text, the same escaping).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n))
    app.jinja_env.globals.update(gettext=_template_gettext, _=_template_gettext,
                                 ngettext=_template_ngettext)
