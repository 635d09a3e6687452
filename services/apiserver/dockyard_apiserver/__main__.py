"""`python -m dockyard_apiserver`: serve the Docker Engine API on STATE/docker.sock.

Waits for the services it calls to report SERVING, builds the Daemon (clients, events, exit
monitor, attach hubs), then serves until SIGTERM/SIGINT. DOCKYARD_API_TCP="127.0.0.1:2375"
adds a plain TCP listener (as dockerd -H tcp://...).
"""

import logging
import os
import signal
import threading

from dockyard_common import grpcutil, logsetup
from dockyard_common.paths import Layout

from . import httpserver
from .app import create_app
from .daemon import Daemon

log = logging.getLogger("dockyard_apiserver")

DEPENDENCIES = ("image", "volume", "network", "shim", "container")
WAIT_TIMEOUT = float(os.environ.get("DOCKYARD_APISERVER_WAIT", "120"))


def main():
    logsetup.setup("apiserver")
    layout = Layout.from_env()
    for name in DEPENDENCIES:
        grpcutil.wait_serving(layout.grpc_target(name), timeout=WAIT_TIMEOUT)
    daemon = Daemon(layout)
    daemon.start()
    app = create_app(daemon)
    servers = [httpserver.serve_unix(app, layout.docker_socket)]
    tcp = os.environ.get("DOCKYARD_API_TCP")
    if tcp:
        servers.append(httpserver.serve_tcp(app, tcp))
    running = httpserver.Servers(servers)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    running.start()
    log.info("serving", extra={"socket": layout.docker_socket, "tcp": tcp or ""})
    done.wait()
    log.info("stopping")
    running.stop()
    stop = getattr(daemon, "stop", None)
    if stop is not None:
        stop()


if __name__ == "__main__":
    main()
