"""The optional /vX.Y prefix of every route, and API version negotiation (as dockerd).

The middleware strips the prefix, refuses versions outside [MIN_API_VERSION, API_VERSION] with
400, and leaves the version the client asked for in environ["dockyard.api_version"].
"""

import json
import re

from . import API_VERSION, MIN_API_VERSION

_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def parse(version):
    major, minor = version.split(".")
    return int(major), int(minor)


def at_least(environ_or_version, version):
    """True when the request's API version is >= version ("1.42")."""
    v = environ_or_version
    if isinstance(v, dict):
        v = v.get("dockyard.api_version", API_VERSION)
    return parse(v) >= parse(version)


class VersionMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        m = _PREFIX.match(path)
        version = API_VERSION
        if m:
            version = "%s.%s" % (m.group(1), m.group(2))
            if parse(version) > parse(API_VERSION):
                return _reject(start_response, "client version %s is too new. Maximum supported API version is %s"
                               % (version, API_VERSION))
            if parse(version) < parse(MIN_API_VERSION):
                return _reject(start_response, "client version %s is too old. Minimum supported API version is %s, "
                               "please upgrade your client to a newer version" % (version, MIN_API_VERSION))
            environ["PATH_INFO"] = m.group(3)
        environ["dockyard.api_version"] = version
        return self.app(environ, start_response)


def _reject(start_response, message):
    body = (json.dumps({"message": message}) + "\n").encode()
    start_response("400 Bad Request", [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body)))])
    return [body]
