"""Request-bound helpers for the pages and the API: auth decorators, errors, forms, htmx,
navigation, template filters, security headers, request logs. Imports services, never blueprints."""
