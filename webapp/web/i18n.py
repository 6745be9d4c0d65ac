"""The interface language: the user's setting, else a `lang` cookie, else Accept-Language.

English is the default and the source language; every interface string goes through gettext
(`_()` in templates and code) and has its Urdu translation in webapp/translations/ur.
"""
from flask import request
from flask_login import current_user

from webapp.services.validation import PAKISTAN

LANGUAGES = ("en", "ur")
RTL = {"ur"}
COOKIE = "lang"


def select_locale():
    chosen = getattr(current_user, "language", None) if current_user else None
    if chosen in LANGUAGES:
        return chosen
    if request.cookies.get(COOKIE) in LANGUAGES:
        return request.cookies[COOKIE]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def init_app(app, babel):
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories="translations",
                   default_timezone=PAKISTAN.key)
