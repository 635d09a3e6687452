"""The Flask application: blueprints per area (as moby's routers), errors, version prefix."""

import importlib
import logging

from flask import Flask

from . import httperrors
from .versioning import VersionMiddleware

log = logging.getLogger(__name__)

# Each router module defines `bp` (a Blueprint). Order does not matter.
ROUTERS = ("system", "images", "containers", "exec", "volumes", "networks", "build")


def create_app(daemon):
    """`daemon` is the Daemon (daemon.py): clients, event bus, exit monitor, attach hubs."""
    app = Flask("dockyard_apiserver")
    app.url_map.strict_slashes = False
    app.extensions["dockyard"] = daemon
    httperrors.register(app)
    for name in ROUTERS:
        try:
            module = importlib.import_module("dockyard_apiserver.routers." + name)
        except ModuleNotFoundError as exc:
            if exc.name == "dockyard_apiserver.routers." + name:
                continue  # area not built yet
            raise
        app.register_blueprint(module.bp)
    app.wsgi_app = VersionMiddleware(app.wsgi_app)
    return app


def daemon_of(app_or_none=None):
    from flask import current_app
    return (app_or_none or current_app).extensions["dockyard"]
