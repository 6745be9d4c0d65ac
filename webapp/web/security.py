"""Security headers on every response, set in one place."""
from webapp.infra.current import app_config, request_globals, this_request

# 'wasm-unsafe-eval' lets the vendored barcode decoder (WebAssembly) compile; it allows no JS eval.
# blob: images are the scanner's camera frames.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
                           "img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def _private(req):
    """Whether this response was made for someone: a logged-in page, a token's API call, or
    the reply that carries a new token. (Reads only what the request already loaded.)"""
    ctx = request_globals()
    user = ctx.get("_login_user")
    return (bool(getattr(user, "is_authenticated", False)) or ctx.get("api_user") is not None
            or req.path == "/api/v1/auth/token")


_BY_KEY = {name.lower(): (name, value) for name, value in HEADERS.items()}
_ALL = list(HEADERS.items())


def add_security_headers(response):
    req = this_request()
    if response.status_code == 304:
        # "Nothing changed" carries no body for these to govern, and RFC 9110 §15.4.5 asks a
        # 304 to leave such metadata out: the stock list's polls are ~150 of them an hour.
        if _private(req):
            response.headers["Cache-Control"] = "no-store"
        return response
    # One pass over the response's headers instead of a setdefault (a scan) per header; a view
    # that set one of them keeps its own.
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend(_ALL if present.isdisjoint(_BY_KEY) else
                            [pair for key, pair in _BY_KEY.items() if key not in present])
    hsts = app_config()["HSTS_SECONDS"]
    if hsts and req.is_secure:  # behind nginx, TRUSTED_PROXY_HOPS makes this true
        response.headers.setdefault("Strict-Transport-Security",
                                    f"max-age={hsts}; includeSubDomains")
    if _private(req):
        # Nothing a user saw may be kept by a browser or a cache once they log out.
        response.headers["Cache-Control"] = "no-store"
        if "pragma" not in present:  # (Headers.setdefault raises and catches a KeyError)
            response.headers["Pragma"] = "no-cache"
    return response


def register(app):
    app.after_request(add_security_headers)
