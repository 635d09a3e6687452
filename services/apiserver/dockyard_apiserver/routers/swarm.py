"""Swarm-mode routes (moby's router/swarm) on a node that is not part of a swarm.

dockyard has no swarm mode yet: every query answers as dockerd does before `docker swarm init`
(503 with its messages), and init/join say plainly that the mode is not available.
"""

from flask import Blueprint

from dockyard_common import errors

bp = Blueprint("swarm", __name__)

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 'to connect this node to swarm and try again.')
NOT_IN_SWARM = "This node is not part of a swarm"
ALL_METHODS = ["GET", "POST", "DELETE", "PUT", "HEAD"]


@bp.route("/swarm", methods=ALL_METHODS)
@bp.route("/swarm/unlockkey", methods=ALL_METHODS)
@bp.route("/swarm/unlock", methods=ALL_METHODS)
@bp.route("/swarm/update", methods=ALL_METHODS)
@bp.route("/<any(nodes, services, tasks, secrets, configs):kind>", methods=ALL_METHODS)
@bp.route("/<any(nodes, services, tasks, secrets, configs):kind>/<path:rest>", methods=ALL_METHODS)
def not_a_manager(**_):
    raise errors.Unavailable(NOT_A_MANAGER)


@bp.post("/swarm/leave")
def leave():
    raise errors.Unavailable(NOT_IN_SWARM)


@bp.post("/swarm/init")
@bp.post("/swarm/join")
def init_or_join():
    raise errors.NotImplementedYet("swarm mode is not supported by dockyard yet")
