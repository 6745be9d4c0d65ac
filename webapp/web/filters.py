"""Template filters: quantities, rupees and Pakistan times the way a shopkeeper reads them."""
from decimal import Decimal

from webapp.services.validation import PAKISTAN


def quantity(value):
    """12.500 → 12.5, 10.000 → 10; blank for None."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def rupees(value):
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    whole = number == number.to_integral_value()
    return f"Rs {number:,.0f}" if whole else f"Rs {number:,.2f}"


def pakistan_time(moment, fmt="%d %b %Y %H:%M"):
    if moment is None:
        return ""
    if isinstance(moment, str):
        from datetime import datetime
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(PAKISTAN).strftime(fmt)


def register(app):
    app.add_template_filter(quantity, "qty")
    app.add_template_filter(rupees, "rupees")
    app.add_template_filter(pakistan_time, "pkt")
