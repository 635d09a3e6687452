import json
import os
import threading

import pytest

from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors
from dockyard_common.paths import Layout
from dockyard_shim.monitor import FakeMonitor
from dockyard_shim.mounts import FakeMounter
from dockyard_shim.runtime import Fake, RuntimeError_
from dockyard_shim.tasks import TaskService

SPEC = json.dumps({"process": {"args": ["true"], "env": ["PATH=/bin"]}, "root": {"path": "x"}}).encode()
MOUNTS = [types_pb2.Mount(type="bind", source="/nowhere", options=["rbind"])]


@pytest.fixture
def env(tmp_path):
    layout = Layout(str(tmp_path / "d"), str(tmp_path / "s"))
    rt, mon, mnt = Fake(), FakeMonitor(), FakeMounter()
    svc = TaskService(layout, mon, mnt, lambda name: rt)
    return svc, rt, mon, mnt, layout


def test_create_start_exit_delete(env):
    svc, rt, mon, mnt, layout = env
    events = svc.subscribe()
    st = svc.create("c1", SPEC, MOUNTS)
    assert st["status"] == "created" and st["pid"] > 0
    bundle = layout.task_dir("c1")
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["root"]["path"] == "rootfs" and cfg["process"]["terminal"] is False
    assert os.path.join(bundle, "rootfs") in mnt.mounted
    assert svc.start("c1")["status"] == "running"
    with pytest.raises(errors.NotModified):
        svc.start("c1")
    with pytest.raises(errors.FailedPrecondition):
        svc.delete("c1")
    waited = {}
    t = threading.Thread(target=lambda: waited.update(svc.wait("c1")))
    t.start()
    mon.exit("c1", 3)
    t.join(2)
    assert waited["status"] == "stopped" and waited["exit_status"] == 3 and waited["exited_at"]
    with pytest.raises(errors.FailedPrecondition):
        svc.kill("c1", sig=9)
    with pytest.raises(errors.FailedPrecondition):
        svc.start("c1")
    final = svc.delete("c1")
    assert final["exit_status"] == 3
    assert ("delete", "c1") in rt.calls
    assert not os.path.exists(bundle) and not mnt.mounted
    with pytest.raises(errors.NotFound):
        svc.state("c1")
    assert [events.get_nowait()["type"] for _ in range(2)] == ["start", "exit"]


def test_duplicate_and_invalid(env):
    svc = env[0]
    svc.create("c1", SPEC, MOUNTS)
    with pytest.raises(errors.Conflict):
        svc.create("c1", SPEC, MOUNTS)
    with pytest.raises(errors.InvalidArgument):
        svc.create("../x", SPEC, MOUNTS)
    with pytest.raises(errors.InvalidArgument):
        svc.create("c2", b"{not json", MOUNTS)


def test_create_failure_reports_runtime_message_and_cleans_up(env):
    svc, rt, mon, mnt, layout = env
    mon.fail_create = ('runc create failed: unable to start container process: exec: "nosuch": '
                       'executable file not found in $PATH')
    with pytest.raises(errors.InvalidArgument) as exc:
        svc.create("c1", SPEC, MOUNTS)
    assert str(exc.value) == ('failed to create task for container: OCI runtime create failed: runc create '
                              'failed: unable to start container process: exec: "nosuch": executable file '
                              'not found in $PATH: unknown')
    assert not os.path.exists(layout.task_dir("c1")) and not mnt.mounted
    assert svc.list() == []
    mon.fail_create = "something else broke"
    with pytest.raises(errors.FailedPrecondition):
        svc.create("c1", SPEC, MOUNTS)


def test_start_failure(env):
    svc, rt, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    rt.fail["start"] = "permission denied"
    with pytest.raises(errors.InvalidArgument, match="permission denied"):
        svc.start("c1")


def test_kill_pause_resume(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    svc.pause("c1")
    assert svc.state("c1")["status"] == "paused"
    with pytest.raises(errors.FailedPrecondition):
        svc.pause("c1")
    svc.kill("c1", sig=9, all_=True)
    assert ("kill", "c1", 9, True) in rt.calls and ("resume", "c1") in rt.calls
    assert svc.state("c1")["status"] == "paused"   # until the exit is seen
    mon.exit("c1", 137)
    assert svc.state("c1")["status"] == "stopped"


def test_oom_event(env):
    svc, rt, mon, *_ = env
    q = svc.subscribe()
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    mon.exit("c1", 137, oom=True)
    types = [q.get_nowait()["type"] for _ in range(3)]
    assert types == ["start", "oom", "exit"]
    assert svc.state("c1")["oom_killed"] is True


def test_user_annotation(env, tmp_path):
    svc, rt, mon, mnt, layout = env
    # FakeMounter mounts nothing: the rootfs dir is the bundle's, so put passwd there first.
    rootfs = os.path.join(layout.task_dir("c1"), "rootfs")
    spec = json.loads(SPEC)
    spec["annotations"] = {"org.dockyard.user": "app"}
    orig = mnt.mount_all

    def mount_all(mounts, target):
        os.makedirs(os.path.join(target, "etc"))
        with open(os.path.join(target, "etc", "passwd"), "w") as f:
            f.write("app:x:7:8::/home/app:/bin/sh\n")
        orig(mounts, target)
    mnt.mount_all = mount_all
    svc.create("c1", json.dumps(spec).encode(), MOUNTS)
    with open(os.path.join(layout.task_dir("c1"), "config.json")) as f:
        proc = json.load(f)["process"]
    assert proc["user"] == {"uid": 7, "gid": 8, "additionalGids": [8]}
    assert "HOME=/home/app" in proc["env"]
    assert os.path.isdir(rootfs)


def test_exec_lifecycle(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    with pytest.raises(errors.FailedPrecondition):
        svc.exec("c1", "e1", b'{"args": ["ls"]}')
    svc.start("c1")
    svc.exec("c1", "e1", b'{"args": ["ls"]}')
    with pytest.raises(errors.Conflict):
        svc.exec("c1", "e1", b'{"args": ["ls"]}')
    assert svc.state("c1", "e1")["status"] == "created"
    assert svc.start("c1", "e1")["status"] == "running"
    mon.exit("e1", 5)
    assert svc.wait("c1", "e1")["exit_status"] == 5
    svc.delete("c1", "e1")
    with pytest.raises(errors.NotFound):
        svc.state("c1", "e1")


def test_restore(env):
    svc, rt, mon, mnt, layout = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    svc.create("c2", SPEC, MOUNTS)
    svc.start("c2")
    mon.exit("c2", 9)
    # A new service process: same files, same monitors.
    rt.status["c1"] = "running"
    fresh = TaskService(layout, mon, mnt, lambda name: rt)
    fresh.restore()
    states = {s["id"]: s for s in fresh.list()}
    assert states["c1"]["status"] == "running" and states["c1"]["started_at"]
    assert states["c2"]["status"] == "stopped" and states["c2"]["exit_status"] == 9
    mon.exit("c1", 0)
    assert fresh.wait("c1")["exit_status"] == 0


def test_restore_monitor_died_without_exit_file(env):
    svc, rt, mon, mnt, layout = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    mon.running.clear()          # the monitor vanished and wrote nothing
    fresh = TaskService(layout, mon, mnt, lambda name: rt)
    fresh.restore()
    st = fresh.state("c1")
    assert st["status"] == "stopped" and st["exit_status"] == 255
    assert ("kill", "c1", 9, True) in rt.calls


def test_restore_drops_half_created(env):
    svc, rt, mon, mnt, layout = env
    os.makedirs(os.path.join(layout.task_dir("junk"), "rootfs"))
    fresh = TaskService(layout, mon, mnt, lambda name: rt)
    fresh.restore()
    assert fresh.list() == [] and not os.path.exists(layout.task_dir("junk"))


def test_logs_without_task(env):
    svc, *_ , layout = env
    with pytest.raises(errors.NotFound):
        svc.logs("nope")
    os.makedirs(layout.container_dir("gone"))
    with open(layout.container_log("gone"), "w") as f:
        f.write("2024-01-01T00:00:00.000000000+00:00 stdout F hi\n")
    assert [e.data for e in svc.logs("gone", follow=True)] == [b"hi\n"]


def test_runtime_error_type():
    assert RuntimeError_("x").message == "x"


def test_update_resources(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    res = {"memory": {"limit": 100 << 20, "swap": 200 << 20}}
    svc.update("c1", json.dumps(res).encode())
    assert ("update", "c1", res) in rt.calls
    with pytest.raises(errors.InvalidArgument):
        svc.update("c1", b"[1]")
    rt.fail["update"] = "cannot set memory limit"
    with pytest.raises(errors.FailedPrecondition, match="cannot set memory limit"):
        svc.update("c1", b"{}")
    del rt.fail["update"]
    mon.exit("c1", 0)
    with pytest.raises(errors.FailedPrecondition):
        svc.update("c1", b"{}")
    with pytest.raises(errors.NotFound):
        svc.update("nosuch", b"{}")


def test_state_sees_an_exit_file_before_the_watcher(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    svc.exec("c1", "e1", json.dumps({"args": ["true"]}).encode())
    svc.start("c1", "e1")
    pdir = svc.state("c1", "e1") and svc._proc("c1", "e1").dir
    with open(os.path.join(pdir, "exit"), "w") as f:   # written, watcher not run yet
        f.write("3")
    st = svc.state("c1", "e1")
    assert st["status"] == "stopped" and st["exit_status"] == 3


def test_exec_user_gets_the_containers_group_add(env):
    svc, rt, mon, mnt, layout = env
    spec = json.loads(SPEC)
    spec["annotations"] = {"org.dockyard.user": "", "org.dockyard.group-add": '["123"]'}
    svc.create("c1", json.dumps(spec).encode(), MOUNTS)
    svc.start("c1")
    with open(os.path.join(layout.task_dir("c1"), "config.json")) as f:
        assert json.load(f)["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 123]}
    # An exec's own user string is resolved again, with the container's --group-add (as dockerd).
    svc.exec("c1", "e1", json.dumps({"args": ["id"], "user": "42:7"}).encode())
    with open(os.path.join(svc._proc("c1", "e1").dir, "process.json")) as f:
        assert json.load(f)["user"] == {"uid": 42, "gid": 7, "additionalGids": [7, 123]}


def test_an_unknown_exec_user_fails_at_start_with_126(env):
    """dockerd resolves an exec's user when it starts: create succeeds, start fails, exit 126."""
    svc, rt, mon, mnt, layout = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    svc.exec("c1", "e1", json.dumps({"args": ["id"], "user": "nosuchuser"}).encode())
    assert svc.attach("c1", "e1") is None          # nothing to attach to
    with pytest.raises(errors.InvalidArgument,
                       match="^unable to find user nosuchuser: no matching entries in passwd file$"):
        svc.start("c1", "e1")
    st = svc.state("c1", "e1")
    assert st["status"] == "stopped" and st["exit_status"] == 126
    svc.delete("c1", "e1")
