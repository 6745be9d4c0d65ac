from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from webapp.web.forms import Form


class LoginForm(Form):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this phone"))


class PasswordChangeForm(Form):
    current_password = PasswordField(_l("Current password"),
                                     validators=[InputRequired(), Length(max=200)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=200)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[InputRequired(),
                                        EqualTo("new_password", _l("The two new passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class LogoutEverywhereForm(Form):
    """Only the CSRF token: the button is the whole form."""
