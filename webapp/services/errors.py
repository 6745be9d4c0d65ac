"""Domain errors: raised by services, turned into HTML or JSON by webapp/errors.py."""


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
        super().__init__("not_found", message or f"{what} not found", field=field)


class Forbidden(DomainError):
    status = 403

    def __init__(self, message="You are not allowed to do that"):
        super().__init__("forbidden", message)


class Conflict(DomainError):
    status = 409


class InsufficientStock(Conflict):
    def __init__(self, available, requested, product_id=None, store_id=None):
        super().__init__(
            "insufficient_stock",
            f"Only {available.normalize():f} in stock; cannot take {requested.normalize():f}.",
            field="quantity",
            available=str(available), requested=str(requested),
            product_id=product_id, store_id=store_id)
