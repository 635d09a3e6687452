"""Rendering errors the way dockerd does: JSON {"message": ...} with moby's status codes."""

import json
import logging

from flask import Response
from werkzeug.exceptions import HTTPException

from dockyard_common import errors

log = logging.getLogger(__name__)


def error_response(status, message):
    return Response(json.dumps({"message": message}) + "\n", status=status,
                    mimetype="application/json")


def register(app):
    @app.errorhandler(errors.DockyardError)
    def _dockyard_error(exc):
        if isinstance(exc, errors.NotModified):
            return Response(status=304)
        if exc.http_status >= 500:
            log.error("request failed: %s", exc.message)
        return error_response(exc.http_status, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        if exc.code == 404:
            return error_response(404, "page not found")
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unhandled error")
        return error_response(500, "internal error: %s" % exc)


class Forbidden(errors.DockyardError):
    """dockerd's errdefs.Forbidden (403): no gRPC code of our own maps to it."""
    http_status = 403
