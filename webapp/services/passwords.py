"""The password policy: long enough, and not one that attackers try first.

The list of common passwords is zxcvbn's (30,000 passwords from leaked-password corpora,
maintained on PyPI) rather than a file of our own: it is a well-known list that is already
packaged, and it is only read, never scored, so a password like "dukan-demo-123" passes while
"password123" or "1234567890" does not. Nor may a password be the username, or one or two
characters repeated.
"""
from functools import lru_cache


from webapp.services.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 200


@lru_cache(maxsize=1)
def _common():
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_common(password, username):
    folded = password.casefold()
    return (folded in _common() or len(set(folded)) <= 2
            or bool(username) and folded == username.casefold())


def check_password(password, username=None, field="password"):
    """Raise DomainError unless the password is long enough and not a common one."""
    if not password or len(password) < MIN_LENGTH:
        raise DomainError("invalid", f"Password must be at least {MIN_LENGTH} characters.", field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError("invalid", "Password is too long.", field=field)
    if _is_common(password, username):
        raise DomainError("invalid", ("This password is too common or too easy to guess. "
                                    "Choose a longer, less usual one."), field=field)
