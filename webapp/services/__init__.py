"""The business rules. Pages, the JSON API and the workers all call these."""
