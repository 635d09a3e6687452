"""`python -m dockyard_shim`: the shim-runner service."""

import logging
import os

from dockyard_api.shim.v1 import shim_pb2_grpc
from dockyard_common import grpcutil, logsetup
from dockyard_common.paths import Layout

from . import runtime
from .monitor import CONMON, ConmonMonitor
from .mounts import Mounter
from .server import ShimServicer
from .tasks import TaskService

log = logging.getLogger("dockyard_shim")


def build(layout, env=None):
    env = os.environ if env is None else env
    default_rt = env.get("DOCKYARD_RUNTIME") or runtime.DEFAULT_RUNTIME
    os.makedirs(layout.tasks_dir, exist_ok=True)
    os.makedirs(layout.runtime_root, exist_ok=True)
    monitor = ConmonMonitor(env.get("DOCKYARD_SHIM_CONMON") or CONMON,
                            log_level=env.get("DOCKYARD_SHIM_CONMON_LOG_LEVEL") or "error")
    return TaskService(layout, monitor, Mounter(),
                       lambda name: runtime.resolve(name, layout.runtime_root, default_rt))


def main():
    logsetup.setup("shim")
    layout = Layout.from_env()
    core = build(layout)
    server = grpcutil.Server(layout.socket("shim"))
    server.add(shim_pb2_grpc.add_ShimServicer_to_server, ShimServicer(core),
               "dockyard_api.shim.v1.Shim")
    core.restore()      # before serving: no call may find a task not yet adopted
    server.start()
    server.ready()
    server.serve_forever()


if __name__ == "__main__":
    main()
