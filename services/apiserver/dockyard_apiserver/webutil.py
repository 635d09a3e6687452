"""Small helpers shared by the routers: query parsing, JSON bodies with Go-like decoder
messages, JSON and JSON-stream responses."""

import json

from flask import Response, current_app, request

from dockyard_common import errors, gojsonerrors

from . import gojson, versioning


def daemon():
    return current_app.extensions["dockyard"]


def clients():
    return daemon().clients


def api_version():
    return request.environ.get("dockyard.api_version", versioning.API_VERSION)


def version_at_least(v):
    return versioning.at_least(request.environ, v)


def qbool(name, default=False):
    """Docker's boolValue: "", "0", "no", "false", "none" are false; anything else true."""
    value = request.args.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("", "0", "no", "false", "none")


def qint(name, default=0):
    value = request.args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.InvalidArgument("invalid value for %s: %r" % (name, value))


# A terminal's rows and columns are unsigned 16-bit (struct winsize).
MAX_TTY_DIMENSION = 0xFFFF


def tty_size():
    """?h=&w= of a resize: (height, width), each 0..65535 (dockerd would wrap -1 to a huge size)."""
    dims = qint("h", 0), qint("w", 0)
    for name, value in zip(("h", "w"), dims):
        if not 0 <= value <= MAX_TTY_DIMENSION:
            raise errors.InvalidArgument("invalid value for %s: %d is out of range (0-%d)"
                                         % (name, value, MAX_TTY_DIMENSION))
    return dims


def json_response(obj, status=200, headers=None):
    return Response(json.dumps(obj) + "\n", status=status, mimetype="application/json",
                    headers=headers)


def empty(status=204):
    return Response(status=status)


def json_stream(items, status=200):
    """Stream dicts as JSON lines (chunked; flushed per item); headers go out at once."""
    def gen():
        yield b""
        for item in items:
            yield (json.dumps(item) + "\r\n").encode()
    return Response(gen(), status=status, mimetype="application/json")


def parse_json(raw, what="request body"):
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise errors.InvalidArgument("invalid %s: not UTF-8" % what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.InvalidArgument(gojsonerrors.syntax_error(exc, text))


def json_body(required=True, check_content_type=False, kind=dict, schema=None):
    """Decode the request's JSON body. Empty body: {} unless required (then 400).
    `schema` (an api_types Go type) checks every field's JSON type as dockerd's decoder does;
    a JSON null body is then the zero value, {}."""
    raw = request.get_data(cache=False)
    if check_content_type and raw:
        ctype = (request.content_type or "").split(";")[0].strip()
        if ctype and ctype != "application/json":
            raise errors.InvalidArgument(
                "unsupported Content-Type header (%s): must be 'application/json'" % ctype)
    if not raw.strip():
        if required:
            raise errors.InvalidArgument("got EOF while reading request body")
        return kind()
    body = parse_json(raw)
    if schema is not None:
        gojson.check(body, schema)
        return kind() if body is None else body
    if kind is not None and not isinstance(body, kind):
        raise errors.InvalidArgument("json: cannot unmarshal %s into Go value of type %s" % (
            gojsonerrors.json_kind(body), "map[string]interface {}" if kind is dict else "[]interface {}"))
    return body


def filters_arg(name="filters"):
    from .events import parse_filters
    return parse_filters(request.args.get(name))


def go_values(values):
    """A filter's values as Go's fmt prints a []string: "[a b]"."""
    return "[%s]" % " ".join(sorted(values))


def exact_bool(flt, key, bad_message=None):
    """dockerd 20.10's ExactMatch reading of a boolean filter: true/1 wins, else false/0, else
    400 (bad_message, or "Invalid filter 'key=[values]'"). None when absent."""
    vals = flt.get(key)
    if not vals:
        return None
    if "true" in vals or "1" in vals:
        return True
    if "false" in vals or "0" in vals:
        return False
    raise errors.InvalidArgument(bad_message or "Invalid filter '%s=%s'" % (key, go_values(vals)))


def filter_bool(flt, key):
    """A boolean filter (dangling=true): None when absent; 400 when not a boolean."""
    vals = flt.get(key)
    if not vals:
        return None
    out = set()
    for v in vals:
        lv = v.lower()
        if lv in ("true", "1"):
            out.add(True)
        elif lv in ("false", "0"):
            out.add(False)
        else:
            raise errors.InvalidArgument("invalid filter '%s=%s'" % (key, v))
    if len(out) != 1:
        raise errors.InvalidArgument("invalid filter '%s': conflicting values" % key)
    return out.pop()
