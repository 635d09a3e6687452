"""`python -m dockyard_apiserver`: serve the Docker Engine API on STATE/docker.sock.

Waits for the services it calls to report SERVING, builds the Daemon (clients, events, exit
monitor, attach hubs), then serves until SIGTERM/SIGINT. DOCKYARD_API_TCP="HOST:PORT" adds a TCP
listener (as dockerd -H tcp://...), TLS-protected with DOCKYARD_TLS_CERT and DOCKYARD_TLS_KEY, and
requiring client certificates signed by DOCKYARD_TLS_CACERT when that is set (dockerd --tlsverify).
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
        tls = httpserver.TLSConfig.from_env()
        if tls is None and not tcp.startswith(("127.", "localhost:", "[::1]:")):
            log.warning("plain TCP on %s: anyone who can reach it controls the host; "
                        "set DOCKYARD_TLS_CERT/KEY/CACERT", tcp)
        servers.append(httpserver.serve_tcp(app, tcp, tls))
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
