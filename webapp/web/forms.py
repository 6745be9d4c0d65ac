"""The base form: service errors (DomainError) land on the field they name."""
from flask import flash
from flask_wtf import FlaskForm

from webapp.services.errors import DomainError
from webapp.web.htmx import redirect_to


class Form(FlaskForm):
    # Service field names that differ from this form's field names.
    field_aliases = {}

    def show_error(self, error):
        """Put a DomainError's messages on the form: each named field, else the whole form."""
        placed = False
        for name, message in error.fields.items():
            target = self._fields.get(self.field_aliases.get(name, name))
            if target is not None and target.type not in ("HiddenField", "CSRFTokenField"):
                target.errors = list(target.errors or []) + [message]
                placed = True
        if not placed:
            self.form_errors.append(error.message)
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


def blank_to_none(value):
    return None if value in ("", None) else value
