"""Plugin routes (moby's router/plugin). dockyard has no plugin system: no plugin is ever
installed, so lists are empty and a named plugin is not found, as on a dockerd without plugins;
installing one is refused plainly."""

from flask import Blueprint

from dockyard_common import errors

from ..webutil import json_response

bp = Blueprint("plugins", __name__)


@bp.get("/plugins")
def list_plugins():
    return json_response([])


@bp.get("/plugins/privileges")
def privileges():
    raise errors.NotImplementedYet("plugins are not supported by dockyard")


@bp.post("/plugins/pull")
@bp.post("/plugins/create")
def install():
    raise errors.NotImplementedYet("plugins are not supported by dockyard")


@bp.route("/plugins/<path:name>/json", methods=["GET"])
@bp.route("/plugins/<path:name>", methods=["DELETE"])
@bp.route("/plugins/<path:name>/<any(enable, disable, upgrade, push, set):action>", methods=["POST"])
def named(name, action=None):
    raise errors.NotFound('plugin "%s" not found' % name)
