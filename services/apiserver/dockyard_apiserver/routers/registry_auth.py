"""POST /auth (docker login): check credentials against a registry (moby's postAuth)."""

from flask import Blueprint

from dockyard_common import errors

from ..api_types import AUTH_CONFIG
from ..backend.images import ImageBackend
from ..httperrors import error_response
from ..webutil import daemon, json_body, json_response

bp = Blueprint("registry_auth", __name__)


@bp.post("/auth")
def auth():
    config = json_body(required=True, schema=AUTH_CONFIG)
    d = daemon()
    try:
        out = ImageBackend(d.clients, d.events).login(config)
    except errors.FailedPrecondition as exc:
        # The registry refused the credentials (dockerd: errdefs.Unauthorized).
        return error_response(401, exc.message)
    return json_response(out)
