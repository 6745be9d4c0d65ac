"""htmx helpers: tell htmx requests apart, render one block of a page, send HX-* headers."""
import json

from flask import current_app, make_response, redirect, render_template, request


def is_htmx():
    """A request made by htmx for a fragment (boosted navigation wants the whole page).
    (Its headers read from the WSGI environ, as request.headers would, without the KeyError
    a header htmx leaves out costs there.)"""
    environ = request.environ
    return environ.get("HTTP_HX_REQUEST") == "true" \
        and environ.get("HTTP_HX_BOOSTED") != "true"


def render_block(template_name, block_name, **context):
    """Render one {% block %} of a page template: a screen and its fragments share one file."""
    app = current_app._get_current_object()
    template = app.jinja_env.get_template(template_name)
    app.update_template_context(context)
    block = template.blocks[block_name]
    return "".join(block(template.new_context(context)))


def render(template_name, block_name=None, status=200, **context):
    """The whole page, or only `block_name` when htmx asks for a fragment."""
    if block_name and is_htmx():
        body = render_block(template_name, block_name, **context)
    else:
        body = render_template(template_name, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def render_fragment(template_name, block_name, status=200, **context):
    """Only one block, whoever asks: for endpoints that exist to feed htmx swaps."""
    response = make_response(render_block(template_name, block_name, **context), status)
    response.vary.add("HX-Request")
    return response


def trigger(response, *events):
    """Add events to the response's HX-Trigger header (merging any already set)."""
    current = response.headers.get("HX-Trigger")
    names = json.loads(current) if current and current.startswith("{") else \
        {name: None for name in (current.split(",") if current else [])}
    names.update({event: None for event in events})
    response.headers["HX-Trigger"] = json.dumps(names)
    return response


def redirect_to(url):
    """After a successful post: HX-Redirect for htmx, a 303 for a plain form."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)
