"""python -m dockyard_containers: the container-service (records and task lifecycle)."""

import logging
import os


from dockyard_api.containers.v1 import containers_pb2_grpc
from dockyard_api.shim.v1 import shim_pb2_grpc
from dockyard_api.tasks.v1 import tasks_pb2_grpc
from dockyard_common import errors, grpcutil, logsetup
from dockyard_common.paths import Layout
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .containers import Containers
from .events import EventHub
from .records import Store
from .restore import ShimWatcher
from .server import ContainersServicer, TasksServicer
from .tasks import TaskManager

log = logging.getLogger("dockyard_containers")

SHIM_SERVICE = "dockyard_api.shim.v1.Shim"


def shim_ready_check(channel):
    stub = health_pb2_grpc.HealthStub(channel)

    def check():
        try:
            # wait_for_ready: answer as soon as a restarted shim-runner accepts connections.
            resp = stub.Check(health_pb2.HealthCheckRequest(service=SHIM_SERVICE), timeout=1.0,
                              wait_for_ready=True)
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            raise errors.Unavailable("shim-runner health: %s" % exc) from None
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise errors.Unavailable("shim-runner is not serving yet")
    return check


def shim_client(layout):
    return grpcutil.Client(shim_pb2_grpc.ShimStub, layout.grpc_target("shim"))


def main():
    logsetup.setup("container")
    layout = Layout.from_env()
    os.makedirs(layout.containers_dir, exist_ok=True)
    store = Store(os.path.join(layout.containers_dir, "container.db"))
    shim = shim_client(layout)
    hub = EventHub()
    tasks = TaskManager(store, shim, hub)
    containers = Containers(store, tasks, layout)

    # Wait and Events calls each hold a worker thread for as long as they last.
    server = grpcutil.Server(layout.socket("container"), max_workers=128)
    server.add(containers_pb2_grpc.add_ContainersServicer_to_server, ContainersServicer(containers),
               "dockyard_api.containers.v1.Containers")
    server.add(tasks_pb2_grpc.add_TasksServicer_to_server, TasksServicer(tasks, hub),
               "dockyard_api.tasks.v1.Tasks")
    server.start()

    watcher = ShimWatcher(tasks, shim, ready_check=shim_ready_check(shim.channel), max_backoff=0.5)
    if not watcher.start(wait_first=float(os.environ.get("DOCKYARD_CONTAINER_SHIM_WAIT", "10"))):
        # Keep the records as they are and resync once the shim-runner answers.
        log.warning("shim-runner unreachable at startup; resyncing in the background")
    server.ready()
    try:
        server.serve_forever()
    finally:
        watcher.stop()
        store.close()


if __name__ == "__main__":
    main()
