"""One shape for every list a service returns (Page) and one reading of page / per_page."""
from dataclasses import dataclass

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.services.errors import DomainError
from webapp.services.validation import parse_id

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000  # the API's bound
MAX_LINKED_PAGE = 10_000  # pages link page by page; a larger number is a typed-in URL


@dataclass
class Page:
    """One page of a list. total is None where counting would cost a scan of every row; then
    has_next comes from fetching one row more than the page."""

    items: list
    total: int | None
    page: int
    per_page: int
    has_next: bool = False

    def __post_init__(self):
        if self.total is not None:
            self.has_next = self.page * self.per_page < self.total

    @property
    def pages(self):
        return None if self.total is None else max(1, -(-self.total // self.per_page))


def page_number(value):
    """A page number from a query string: anything that is not one reads as page 1."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return max(1, min(number, MAX_LINKED_PAGE))


def page_args(page=1, per_page=PER_PAGE):
    """(page, per_page) from user input, checked: page ≥ 1, 1 ≤ per_page ≤ MAX_PER_PAGE."""
    page = parse_id(page or 1, "page", "Page")
    per_page = parse_id(per_page or PER_PAGE, "per_page", "Per page")
    if per_page > MAX_PER_PAGE:
        raise DomainError("invalid", f"Per page can be at most {MAX_PER_PAGE}.", field="per_page")
    return page, per_page


def count_of(query):
    """How many rows `query` gives."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def paginate(query, order, page=1, per_page=PER_PAGE, count=True, rows=None, counter=count_of):
    """A Page of `query` in `order`. count=False skips the COUNT (has_next from one extra row);
    rows(query) turns the limited query into items (default: its ORM objects/scalars);
    counter(query) counts it (default: count_of)."""
    fetch = rows or (lambda q: db.session.scalars(q).all())
    limited = query.order_by(*order).limit(per_page + (0 if count else 1)) \
        .offset((page - 1) * per_page)
    items = fetch(limited)
    if not count:
        return Page(items[:per_page], None, page, per_page, has_next=len(items) > per_page)
    return Page(items, counter(query), page, per_page)
