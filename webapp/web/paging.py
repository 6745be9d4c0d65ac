"""Reading ?page= (and ?per_page=) from the request: one way for every page.

The API reads the same bounds through its pydantic PageQuery (api/spec.py).
"""
from flask import request

from webapp.services import paging


def page_arg():
    """The requested page number; anything that is not one reads as page 1."""
    return paging.page_number(request.args.get("page"))


def page_args():
    """(page, per_page), checked (DomainError on a bad per_page): for lists that let it vary."""
    return paging.page_args(request.args.get("page"), request.args.get("per_page"))
