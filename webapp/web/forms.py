"""The base form: service errors (DomainError) land on the field they name."""
import wtforms.widgets
from flask import abort, flash
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms.widgets import core as wtforms_widgets
from wtforms.widgets.core import clean_key

from webapp.services.errors import N_, DomainError
from webapp.web.htmx import redirect_to
from webapp.web.i18n import translate, translations


# WTForms' own messages (it ships no Urdu): listed here so they are in our catalogue.
WTFORMS_MESSAGES = (
    N_("This field is required."), N_("Not a valid integer value."),
    N_("Not a valid date value."), N_("Not a valid choice."),
    N_("Not a valid decimal value."), N_("Invalid input."),
    N_("Field cannot be longer than %(max)d character."),
    N_("Field cannot be longer than %(max)d characters."),
    N_("Number must be between %(min)s and %(max)s."), N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."), N_("Invalid Choice: could not coerce."),
    N_("Field must be between %(min)d and %(max)d characters long."),
)


class _Translations:
    """WTForms' messages from our catalogue, in the page's language."""

    def gettext(self, string):
        return translations().ugettext(string)

    def ngettext(self, singular, plural, n):
        # Listed above as two plain entries (Urdu says both the same way).
        return translations().ugettext(singular if n == 1 else plural)


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _Translations()

    # Service field names that differ from this form's field names.
    field_aliases = {}

    def show_error(self, error):
        """Put a DomainError's messages on the form: each named field, else the whole form."""
        placed = False
        for name, message in error.fields.items():
            target = self._fields.get(self.field_aliases.get(name, name))
            if target is not None and target.type not in ("HiddenField", "CSRFTokenField"):
                target.errors = list(target.errors or []) + [translate(message)]
                placed = True
        if not placed:
            self.form_errors.append(translate(error.message))
        return self

    @property
    def status(self):
        """422 when a submitted form is shown again (htmx swaps it), 200 on a first visit."""
        return 422 if self.is_submitted() else 200

    def save(self, call, message, next_url):
        """On a valid POST run the service call: success flashes message(result) and redirects
        to next_url(result); a DomainError lands on the form. None means "show the form"."""
        if not self.validate_on_submit():
            return None
        try:
            result = call()
        except DomainError as error:
            self.show_error(error)
            return None
        flash(message(result), "success")
        return redirect_to(next_url(result))


class TokenForm(Form):
    """Only the CSRF token: for pages whose inputs are read by name and checked by the
    services (the counter, the khata)."""


def check_token():
    """400 unless the post carries a good CSRF token (a TokenForm page's post)."""
    if not TokenForm().validate_on_submit():
        abort(400)


def blank_to_none(value):
    return None if value in ("", None) else value


def _html_params(**kwargs):
    """wtforms.widgets.html_params, the same attributes in the same order, without
    Markup.format: its escaping string formatter was the largest single cost of rendering a
    form (the store page's panel renders three after every quick sale)."""
    params = []
    for k, v in sorted(kwargs.items()):
        k = clean_key(k)
        if v is True:
            params.append(escape(k))
        elif v is not False:
            params.append(Markup(f'{escape(k)}="{escape(v).replace(_QUOTE, _ENTITY)}"'))
    return Markup(" ").join(params)


WTFORMS_HTML_PARAMS = wtforms_widgets.html_params  # WTForms' own (tests compare the two)


def _use_fast_html_params():
    """Every WTForms widget (and Label, and Select's options) writes its attributes with ours."""
    for name in dir(wtforms_widgets):
        widget = getattr(wtforms_widgets, name)
        if isinstance(widget, type) and "html_params" in vars(widget):
            widget.html_params = staticmethod(_html_params)
    wtforms_widgets.html_params = _html_params
    wtforms.widgets.html_params = _html_params


_QUOTE, _ENTITY = Markup('"'), Markup("&quot;")
_use_fast_html_params()
