"""The Flask application: blueprints per area (as moby's routers), errors, version prefix."""

import importlib
import logging

from flask import Flask

from . import httperrors
from .versioning import VersionMiddleware

log = logging.getLogger(__name__)

# Each module in routers/ defines `bp` (a Blueprint); all are registered. Order does not matter.
def router_names():
    import pkgutil
    from . import routers
    return sorted(m.name for m in pkgutil.iter_modules(routers.__path__) if not m.name.startswith("_"))


def create_app(daemon):
    """`daemon` is the Daemon (daemon.py): clients, event bus, exit monitor, attach hubs."""
    app = Flask("dockyard_apiserver", static_folder=None)  # no /static route: dockerd has none
    app.url_map.strict_slashes = False
    app.extensions["dockyard"] = daemon
    httperrors.register(app)
    app.after_request(_default_headers)
    for name in router_names():
        module = importlib.import_module("dockyard_apiserver.routers." + name)
        app.register_blueprint(module.bp)
    app.wsgi_app = VersionMiddleware(app.wsgi_app)
    return app


def _default_headers(response):
    """Headers dockerd puts on every response (its version middleware)."""
    from . import API_VERSION, ENGINE_VERSION
    from .hijack import HIJACKED
    if response is HIJACKED:
        return response
    response.headers.setdefault("Api-Version", API_VERSION)
    response.headers.setdefault("Docker-Experimental", "false")
    response.headers.setdefault("Ostype", "linux")
    response.headers["Server"] = "Docker/%s (linux)" % ENGINE_VERSION
    return response


def daemon_of(app_or_none=None):
    from flask import current_app
    return (app_or_none or current_app).extensions["dockyard"]
