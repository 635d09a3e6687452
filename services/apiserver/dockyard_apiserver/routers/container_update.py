"""POST /containers/{id}/update (moby router/container postContainerUpdate)."""

from flask import Blueprint

from ..api_types import CONTAINER_UPDATE
from ..backend.container_update import ContainerUpdater
from ..webutil import daemon, json_body, json_response, version_at_least

bp = Blueprint("container_update", __name__)


@bp.post("/containers/<ref>/update")
def update(ref):
    body = json_body(required=False, schema=CONTAINER_UPDATE)
    # PidsLimit is honoured from API 1.40 on; older clients cannot send it meaningfully.
    result = ContainerUpdater(daemon()).update(ref, body, api_at_least_1_40=version_at_least("1.40"))
    return json_response(result)
