"""Container create asks for the container's snapshot over an init layer (Docker's "<id>-init"),
so runc's mount points stay out of the writable layer (docker diff, commit)."""

import container_fakes
from container_fakes import Daemon

FAKE_DAEMON = Daemon    # conftest's daemon/app/client fixtures over the container world


def test_create_prepares_the_snapshot_with_an_init_layer(client, daemon, monkeypatch):
    requests = []
    real = container_fakes.FakeSnapshots.Prepare

    def prepare(self, req):
        requests.append(req)
        return real(self, req)
    monkeypatch.setattr(container_fakes.FakeSnapshots, "Prepare", prepare)
    cid = container_fakes.create(client, None, version="1.45")
    assert [(r.key, r.parent, r.init_layer) for r in requests] == [(cid, "sha256:chain", True)]
