"""container-service with a real shim-runner, conmon and runc running busybox."""

import os
import time

import pytest

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_common import errors


def test_run_and_wait_exit_code(h, events):
    rec = h.create(["sh", "-c", "echo hello; exit 3"], name="exit3")
    st = h.tasks.Start(h.ref(rec.id))
    assert st.running and st.pid > 0 and st.status == "running"
    final = h.tasks.Wait(h.ref(rec.id), timeout=20)
    assert final.exit_code == 3 and not final.running and final.status == "exited"
    assert final.finished_at > final.started_at
    ev1, ev2 = events.next_for(rec.id), events.next_for(rec.id)
    assert (ev1.type, ev2.type, ev2.exit_code) == ("start", "die", 3)
    log = h.stack.layout.container_log(rec.id)
    assert os.path.exists(log) and "hello" in open(log).read()


def test_true_start_before_die(h, events):
    for _ in range(3):
        rec = h.create(["true"])
        h.tasks.Start(h.ref(rec.id))
        assert [events.next_for(rec.id).type, events.next_for(rec.id).type] == ["start", "die"]
        assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 0


def test_env_and_user(h):
    rec = h.create(["sh", "-c", "echo $FOO $HOSTNAME; id"], user="app")
    h.tasks.Start(h.ref(rec.id))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 0
    out = open(h.stack.layout.container_log(rec.id)).read()
    assert "bar %s" % rec.id[:12] in out
    assert "uid=1000" in out


def test_missing_executable_is_127(h):
    rec = h.create(["/no/such/binary"])
    with pytest.raises(errors.DockyardError) as ei:
        h.tasks.Start(h.ref(rec.id))
    assert "no such file or directory" in str(ei.value).lower() or "not found" in str(ei.value)
    st = h.tasks.Get(h.ref(rec.id))
    assert st.exit_code == 127 and not st.running and st.status == "created"
    assert st.error


def test_start_running_is_not_modified_then_kill(h, events):
    rec = h.create(["sleep", "300"])
    h.tasks.Start(h.ref(rec.id))
    with pytest.raises(errors.NotModified):
        h.tasks.Start(h.ref(rec.id))
    pids = h.tasks.Top(h.ref(rec.id)).pids
    assert len(pids) >= 1
    h.tasks.Pause(h.ref(rec.id))
    assert h.tasks.Get(h.ref(rec.id)).status == "paused"
    h.tasks.Resume(h.ref(rec.id))
    assert h.tasks.Get(h.ref(rec.id)).status == "running"
    with pytest.raises(errors.FailedPrecondition):
        h.containers.Delete(containers_pb2.GetContainerRequest(ref=rec.id))
    h.tasks.Kill(tasks_pb2.KillTaskRequest(id=rec.id, signal=9))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 137


def test_restart_after_exit(h):
    rec = h.create(["sh", "-c", "exit 5"])
    h.tasks.Start(h.ref(rec.id))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 5
    h.tasks.Start(h.ref(rec.id))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 5


def test_delete_removes_record_and_directory(h):
    rec = h.create(["true"], name="to-delete")
    h.tasks.Start(h.ref(rec.id))
    h.tasks.Wait(h.ref(rec.id), timeout=20)
    directory = h.stack.layout.container_dir(rec.id)
    assert os.path.isdir(directory)
    h.tasks.Delete(h.ref(rec.id))
    h.containers.Delete(containers_pb2.GetContainerRequest(ref="to-delete"))
    assert not os.path.exists(directory)
    with pytest.raises(errors.NotFound):
        h.get(rec.id)
    assert not os.path.exists(h.stack.layout.task_dir(rec.id))


def test_state_survives_container_service_restart(h):
    running = h.create(["sleep", "300"])
    h.tasks.Start(h.ref(running.id))
    exits_while_down = h.create(["sh", "-c", "sleep 1; exit 7"])
    h.tasks.Start(h.ref(exits_while_down.id))
    pid = h.tasks.Get(h.ref(running.id)).pid

    h.stack.stop_service("container")
    time.sleep(2)
    h.stack.start_service("container")
    h.connect()

    st = h.tasks.Get(h.ref(running.id))
    assert st.running and st.pid == pid
    gone = h.wait_state(exits_while_down.id, lambda s: not s.running)
    assert gone.exit_code == 7 and gone.status == "exited"

    # a later exit is recorded by the restarted service
    h.tasks.Kill(tasks_pb2.KillTaskRequest(id=running.id, signal=9))
    assert h.tasks.Wait(h.ref(running.id), timeout=20).exit_code == 137


def test_exec_exit_code(h, events):
    import json
    rec = h.create(["sleep", "300"])
    h.tasks.Start(h.ref(rec.id))
    assert events.next_for(rec.id).type == "start"
    process = {"args": ["sh", "-c", "exit 4"], "cwd": "/", "user": {"uid": 0, "gid": 0},
               "env": ["PATH=/bin"], "terminal": False}
    h.tasks.ExecCreate(tasks_pb2.ExecCreateRequest(id=rec.id, exec_id="ex1",
                                                   process_json=json.dumps(process).encode()))
    try:
        st = h.tasks.ExecStart(tasks_pb2.ExecRef(id=rec.id, exec_id="ex1"))
    except errors.NotImplementedYet:
        pytest.fail("shim-runner does not implement exec")
    assert st.pid > 0 or st.exited
    ev = events.next_for(rec.id)
    assert (ev.type, ev.exec_id, ev.exit_code) == ("exec_die", "ex1", 4)
    got = h.tasks.ExecGet(tasks_pb2.ExecRef(id=rec.id, exec_id="ex1"))
    assert got.exited and not got.running and got.exit_code == 4
    h.tasks.Kill(tasks_pb2.KillTaskRequest(id=rec.id, signal=9))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 137


def test_spec_options_take_effect(h):
    """oci.build_spec's resources, rlimits, caps, read-only root and tmpfs as runc applies them."""
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids/pids.max; "
              "ulimit -n; ulimit -Hn; grep CapEff /proc/self/status; "
              "touch /x 2>/dev/null && echo root-rw || echo root-ro; "
              "touch /scratch/f && echo tmpfs-ok; grep ' /scratch ' /proc/mounts")
    hc = {"Memory": 64 << 20, "PidsLimit": 20, "NanoCpus": 500000000, "ReadonlyRootfs": True,
          "CapDrop": ["ALL"], "Ulimits": [{"Name": "nofile", "Soft": 256, "Hard": 512}],
          "Tmpfs": {"/scratch": "rw,size=1m"}, "SecurityOpt": ["no-new-privileges"]}
    rec = h.create(["sh", "-c", script], host_config=hc)
    h.tasks.Start(h.ref(rec.id))
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 0
    # conmon's log lines: "<time> <stream> <F|P> <text>"
    lines = [l.split(" ", 3)[3] for l in open(h.stack.layout.container_log(rec.id)).read().splitlines()]
    assert lines[:4] == [str(64 << 20), "20", "256", "512"]
    assert lines[4].split()[1] == "0000000000000000"
    assert lines[5] == "root-ro" and lines[6] == "tmpfs-ok"
    assert "size=1024k" in lines[7]


def test_shim_restart_reconnects_events(h):
    rec = h.create(["sleep", "300"])
    h.tasks.Start(h.ref(rec.id))
    exits_while_shim_down = h.create(["sh", "-c", "sleep 1; exit 9"])
    h.tasks.Start(h.ref(exits_while_shim_down.id))
    h.stack.stop_service("shim")
    time.sleep(2)
    assert h.tasks.Get(h.ref(rec.id)).running  # not marked dead while the shim is away
    h.stack.start_service("shim")
    gone = h.wait_state(exits_while_shim_down.id, lambda s: not s.running, timeout=20)
    assert gone.exit_code == 9
    assert h.tasks.Get(h.ref(rec.id)).running
    deadline = time.monotonic() + 15
    while True:  # Kill needs the reconnected shim
        try:
            h.tasks.Kill(tasks_pb2.KillTaskRequest(id=rec.id, signal=9))
            break
        except errors.Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert h.tasks.Wait(h.ref(rec.id), timeout=20).exit_code == 137
