"""Domain errors: raised by services, turned into HTML or JSON by webapp/web/errors.py.

Messages are English `Text`: a str (so the API, logs and stored sync results stay English) that
also carries its msgid and values, so a page translates it at the door (webapp/web/i18n.py
`translate`). Services never ask for a locale: they also run in workers and for the API, where
there is no user language to ask about, and a lazy string stored in a job result would freeze
whichever language happened to render it first.
"""


class Text(str):
    """English text that remembers its msgid (with %(name)s placeholders) and values."""

    msgid = None
    values = None

    def __new__(cls, msgid, **values):
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid, text.values = msgid, values
        return text


def N_(msgid, **values):
    """Mark a message for the catalogue (pybabel's N_ keyword); translated where it is shown."""
    return Text(msgid, **values)


class DomainError(Exception):
    """A business rule said no. `code` is stable for integrators; `message` is for people."""

    status = 422

    def __init__(self, code, message, field=None, fields=None, status=None, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields[field] = message
        if status:
            self.status = status
        self.details = details

    def to_dict(self):
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.details)
        return {"error": body}


class NotFound(DomainError):
    status = 404

    def __init__(self, what, message=None, field=None):
        super().__init__("not_found", message or N_("%(what)s not found", what=Text(what)),
                         field=field)


class Forbidden(DomainError):
    status = 403

    def __init__(self, message=N_("You are not allowed to do that")):
        super().__init__("forbidden", message)


class Conflict(DomainError):
    status = 409


class InsufficientStock(Conflict):
    def __init__(self, available, requested, product_id=None, store_id=None):
        super().__init__(
            "insufficient_stock",
            N_("Only %(available)s in stock; cannot take %(requested)s.",
               available=f"{available.normalize():f}", requested=f"{requested.normalize():f}"),
            field="quantity",
            available=str(available), requested=str(requested),
            product_id=product_id, store_id=store_id)
