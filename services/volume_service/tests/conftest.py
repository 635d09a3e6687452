import pytest

from dockyard_common import errors
from dockyard_volumes.store import VolumeStore


class FakeMounter:
    """In-memory stand-in for HostMounter (unit tests run without root)."""

    def __init__(self):
        self.mounted = {}          # target -> spec
        self.calls = []
        self.fail_mount = False

    def is_mounted(self, path):
        return path in self.mounted

    def has_mounts_below(self, path):
        prefix = path.rstrip("/") + "/"
        return any(m == path or m.startswith(prefix) for m in self.mounted)

    def mount(self, spec, target):
        self.calls.append(("mount", target))
        if self.fail_mount:
            raise errors.Internal("error while mounting volume '%s': failed to mount local volume: "
                                  "no such file or directory" % target)
        self.mounted[target] = spec

    def unmount(self, target):
        self.calls.append(("unmount", target))
        self.mounted.pop(target, None)


@pytest.fixture
def mounter():
    return FakeMounter()


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "volumes")


@pytest.fixture
def store(root, mounter):
    s = VolumeStore(root, mounter=mounter)
    yield s
    s.close()
