"""The base of the daemon's background monitors (exit monitor, health monitor)."""

import threading


class DaemonWorker:
    """One background thread of the daemon: its lock and stop flag, the daemon's service clients
    and the containers backend."""

    def __init__(self, daemon):
        self.daemon = daemon
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    @property
    def backend(self):
        from .backend.containers import for_daemon
        return for_daemon(self.daemon)

    @property
    def clients(self):
        return self.daemon.clients
