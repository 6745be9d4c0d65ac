from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from webapp.infra.current import this_request
from webapp.blueprints.auth import bp
from webapp.blueprints.auth.forms import LoginForm, LogoutEverywhereForm, PasswordChangeForm
from webapp.extensions import limiter, login_manager
from webapp.services import accounts
from webapp.services.errors import N_, DomainError
from webapp.web import access, sessions
from webapp.web.errors import json_error
from webapp.web.htmx import is_htmx, redirect_to, render
from webapp.web.i18n import remember_language

TOO_MANY = N_("Too many login attempts. Please wait a minute, then try again.")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_username():
    """The username a login request names, from a form or a JSON body, normalised."""
    username = request.form.get("username")
    if username is None and request.is_json:
        body = request.get_json(silent=True)
        username = body.get("username") if isinstance(body, dict) else None
    return accounts.normalise_username(username if isinstance(username, str) else "")


def _username_key():
    return "login-user:" + login_username()


def _safe_next(target):
    """Only a path on this site: never send a user off to another host after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=TOO_MANY)
# One bucket per username shared with /api/v1/auth/token: guessing one user's password is
# limited across both doors and every address.
@limiter.shared_limit(_login_limit, "login-user", methods=["POST"], key_func=_username_key,
                      error_message=TOO_MANY)
def login():
    """Log in with username and password; inactive accounts are refused like wrong passwords."""
    if current_user.is_authenticated:
        return redirect(access.home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.username.data, form.password.data,
                                     ip=request.remote_addr)
        if user is not None:
            sessions.start(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or access.home_url(user), 303)
        form.form_errors.append(_("Wrong username or password."))
    status = 422 if form.is_submitted() else 200
    return render("auth/login.html", form=form, status=status)


@bp.post("/logout")
@login_required
def logout():
    """Log out by POST only, so a link or an image on another site cannot do it.

    Sessions are signed cookies the server cannot delete one by one, so logging out moves the
    user's session generation on: a copy of this cookie dies too, and so do other devices.
    """
    language = current_user.language
    accounts.end_sessions(access.actor(), current_user.id)
    logout_user()
    # The login page after this stays in the language the user chose (same phone).
    with force_locale(language or str(get_locale())):
        flash(_("You are logged out."), "info")
    response = redirect(url_for("auth.login"), 303)
    if language:
        remember_language(response, language)
    return response


@bp.route("/account/logout-everywhere", methods=["GET", "POST"])
@login_required
def logout_everywhere():
    """Log out every phone and browser of this user (including this one)."""
    form = LogoutEverywhereForm()
    if form.validate_on_submit():
        accounts.end_sessions(access.actor(), current_user.id, revoke_tokens=True)
        logout_user()
        flash(_("You are logged out on all your devices."), "info")
        return redirect_to(url_for("auth.login"))
    return render("auth/logout_everywhere.html", form=form, status=form.status)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"], error_message=TOO_MANY)
def change_password():
    """Change your own password (the current one is required); other devices are logged out."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_own_password(access.actor(), current_user.id,
                                                form.current_password.data,
                                                form.new_password.data)
        except DomainError as error:
            form.show_error(error)
        else:
            sessions.start(user)  # this device stays logged in, under the new generation
            flash(_("Your password is changed. Your other devices are logged out."), "success")
            return redirect_to(access.home_url(user))
    return render("auth/password.html", form=form, status=form.status)


@bp.before_app_request
def refuse_deactivated_sessions():
    """A user deactivated while logged in loses their session at the next request."""
    # Without a cookie there is no session or remember cookie to log anyone in (API calls,
    # /healthz): loading the anonymous user would cost Flask-Login's whole lookup.
    if not this_request().cookies:
        return
    if current_user.is_authenticated and not current_user.active:
        logout_user()


@login_manager.unauthorized_handler
def unauthorized():
    """Not logged in: JSON for the API, HX-Redirect for htmx, the login page otherwise."""
    if request.path.startswith("/api/"):
        return json_error(401, "unauthorized", "Log in or send a bearer token.")
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        response = current_app.response_class("", 401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    return redirect(login_url)
