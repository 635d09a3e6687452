"""The shareable /dev/shm of `--ipc shareable` tasks and of the tasks that join their IPC."""

import json
import os

import pytest

from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, oci
from dockyard_common.paths import Layout
from dockyard_shim.monitor import FakeMonitor
from dockyard_shim.mounts import FakeMounter
from dockyard_shim.runtime import Fake
from dockyard_shim.tasks import TaskService

MOUNTS = [types_pb2.Mount(type="bind", source="/nowhere", options=["rbind"])]


def spec(annotations, shm_mount):
    return json.dumps({"process": {"args": ["true"]}, "root": {"path": "x"},
                       "mounts": [shm_mount], "annotations": annotations}).encode()


@pytest.fixture
def env(tmp_path):
    layout = Layout(str(tmp_path / "d"), str(tmp_path / "s"))
    mnt = FakeMounter()
    return TaskService(layout, FakeMonitor(), mnt, lambda name: Fake()), mnt, layout


def config_of(layout, cid):
    with open(os.path.join(layout.task_dir(cid), "config.json")) as f:
        return json.load(f)


def test_shareable_task_gets_its_tmpfs_and_a_joiner_binds_it(env):
    svc, mnt, layout = env
    svc.create("donor", spec({oci.SHM_SIZE_ANNOTATION: "8388608"}, oci.shareable_shm_mount()),
               MOUNTS)
    shm = os.path.join(layout.task_dir("donor"), "shm")
    assert shm in mnt.mounted and os.path.isdir(shm)
    assert mnt.options[shm] == ["nosuid", "nodev", "noexec", "mode=1777", "size=8388608"]
    # runc takes the relative source in the bundle
    assert config_of(layout, "donor")["mounts"][0]["source"] == "shm"

    svc.create("joiner", spec({oci.SHM_FROM_ANNOTATION: "donor"}, oci.shareable_shm_mount()),
               MOUNTS)
    assert config_of(layout, "joiner")["mounts"][0]["source"] == shm
    assert not os.path.exists(os.path.join(layout.task_dir("joiner"), "shm"))

    svc.delete("donor")
    assert shm not in mnt.mounted and not os.path.exists(layout.task_dir("donor"))


def test_joiner_of_a_donor_without_shm_is_refused_and_leaves_nothing(env):
    svc, mnt, layout = env
    with pytest.raises(errors.FailedPrecondition) as exc:
        svc.create("joiner", spec({oci.SHM_FROM_ANNOTATION: "gone"}, oci.shareable_shm_mount()),
                   MOUNTS)
    assert "non-shareable IPC" in str(exc.value)
    assert not os.path.exists(layout.task_dir("joiner")) and not mnt.mounted


def test_plain_task_mounts_no_shm(env):
    svc, mnt, layout = env
    tmpfs = {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": []}
    svc.create("c1", spec({}, tmpfs), MOUNTS)
    assert mnt.mounted == {os.path.join(layout.task_dir("c1"), "rootfs")}
    assert config_of(layout, "c1")["mounts"] == [tmpfs]
