"""The base form: service errors (DomainError) land on the field they name."""
from flask_wtf import FlaskForm


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


def blank_to_none(value):
    return None if value in ("", None) else value
