"""The password policy: long enough, and not one that attackers try first.

The list of common passwords is zxcvbn's (30,000 passwords from leaked-password corpora,
maintained on PyPI) rather than a file of our own: it is a well-known list that is already
packaged, and it is only read, never scored, so a password like "galla-demo-303" passes while
"password123" or "1234567890" does not. Nor may a password contain the username (so not the
username doubled either), be one or two characters repeated, or be one of the short local list
below: passwords Pakistani shop staff pick that zxcvbn's English-centred list lacks (issue 23).
"""
import re
from functools import lru_cache


from webapp.services.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 200


@lru_cache(maxsize=1)
def _common():
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"])


# Compared with the password case-folded and with its punctuation taken out (Pakistan@123).
PAKISTANI_COMMON = frozenset((
    "pakistan123", "pakistan1234", "pakistan12345", "pakistan786", "pakistan1947",
    "pakistanzindabad", "pakzindabad", "kiryana123", "kiryana1234", "kiryana786",
    "kiryanastore", "karachi123", "karachi786", "lahore123", "lahore786", "islamabad123",
    "peshawar123", "quetta12345", "multan12345", "faisalabad1", "bismillah786",
    "bismillah123", "allah786786", "allahakbar786", "mashallah123", "subhanallah",
    "786786786786", "7867867860", "1234567890786", "password786", "qwerty786786",
    "dukan123456", "dukaan12345", "shop1234567", "store123456", "iloveyou786",
    "pakistani123", "urdu1234567", "jazz1234567", "zong1234567", "telenor1234",
))
_PUNCTUATION = re.compile(r"[\W_]+")


def _is_common(password, username):
    folded = password.casefold()
    bare = _PUNCTUATION.sub("", folded)
    name = (username or "").casefold()
    return (folded in _common() or len(set(folded)) <= 2 or bare in PAKISTANI_COMMON
            or folded in PAKISTANI_COMMON or len(name) >= 3 and name in folded)


def check_password(password, username=None, field="password"):
    """Raise DomainError unless the password is long enough and not a common one."""
    if not password or len(password) < MIN_LENGTH:
        raise DomainError("invalid", f"Password must be at least {MIN_LENGTH} characters.", field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError("invalid", "Password is too long.", field=field)
    if _is_common(password, username):
        raise DomainError("invalid", ("This password is too common or too easy to guess. "
                                    "Choose a longer, less usual one."), field=field)
