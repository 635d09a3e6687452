"""/_ping, /version, /info, /system/df, /events (moby's router/system)."""

import json

from flask import Blueprint, Response, request

from dockyard_common import errors

from .. import API_VERSION
from ..backend import disk_usage as df_backend, system
from ..events import parse_filters, parse_time_ns
from ..httpserver import CLIENT_GONE_KEY
from ..webutil import daemon, json_response, version_at_least

bp = Blueprint("system", __name__)

PING_HEADERS = {"Api-Version": API_VERSION, "Ostype": "linux", "Docker-Experimental": "false",
                "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate",
                "Pragma": "no-cache"}


@bp.route("/_ping", methods=["GET", "HEAD"])
def ping():
    if request.method == "HEAD":
        return Response(b"", headers=dict(PING_HEADERS, **{"Content-Length": "0"}),
                        content_type="text/plain; charset=utf-8")
    return Response(b"OK", headers=PING_HEADERS, content_type="text/plain; charset=utf-8")


@bp.get("/version")
def version():
    return json_response(system.version())


@bp.get("/info")
def info():
    return json_response(system.info(daemon()))


@bp.get("/system/df")
def disk_usage():
    return json_response(df_backend.disk_usage(daemon(), api_lt_144=not version_at_least("1.44"),
                                               api_lt_142=not version_at_least("1.42")))


@bp.get("/events")
def events():
    since = parse_time_ns(request.args.get("since"))
    until = parse_time_ns(request.args.get("until"))
    if since is not None and until is not None and until < since:
        raise errors.InvalidArgument("`since` time (%s) cannot be after `until` time (%s)"
                                     % (request.args.get("since"), request.args.get("until")))
    filters = parse_filters(request.args.get("filters"))
    sub = daemon().events.subscribe(since, until, filters,
                                    poll=request.environ.get(CLIENT_GONE_KEY))

    def gen():
        try:
            yield b""  # headers go out now: clients wait for them before anything happens
            for ev in sub:
                yield (json.dumps(ev) + "\n").encode()
        finally:
            sub.close()

    return Response(gen(), mimetype="application/json")
