"""The apiserver's in-memory daemon state: service clients, the event ring, the exit monitor, the
health prober and the attach hubs. The apiserver keeps no persistent state (ARCHITECTURE.md section 1)."""

from .clients import Clients


class Daemon:
    def __init__(self, layout, clients=None):
        from .attach import AttachHubs
        from .events import EventBus
        from .health import HealthMonitor
        from .monitor import ExitMonitor
        self.layout = layout
        self.clients = clients or Clients(layout)
        self.events = EventBus()
        self.monitor = ExitMonitor(self)
        self.hubs = AttachHubs(self)
        self.health = HealthMonitor(self)

    def start(self):
        """Begin following container exits (rebuilding state from the services after a restart)."""
        self.monitor.start()
        self.health.start()
