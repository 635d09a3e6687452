import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_shim import FakeShim  # noqa: E402

from dockyard_common.paths import Layout  # noqa: E402
from dockyard_containers.containers import Containers  # noqa: E402
from dockyard_containers.events import EventHub  # noqa: E402
from dockyard_containers.records import Store  # noqa: E402
from dockyard_containers.tasks import TaskManager  # noqa: E402


class Env:
    def __init__(self, tmp_path):
        self.layout = Layout(str(tmp_path / "data"), str(tmp_path / "state"))
        os.makedirs(self.layout.containers_dir)
        self.db = os.path.join(self.layout.containers_dir, "container.db")
        self.shim = FakeShim()
        self.reopen()

    def reopen(self):
        """A fresh service on the same database (a restart of container-service)."""
        self.store = Store(self.db)
        self.hub = EventHub()
        self.tasks = TaskManager(self.store, self.shim, self.hub)
        self.containers = Containers(self.store, self.tasks, self.layout)
        self.events = self.hub.subscribe()

    def drain(self):
        out = []
        while not self.events.empty():
            ev = self.events.get_nowait()
            out.append((ev.type, ev.id[:4], ev.exit_code))
        return out


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.store.close()
