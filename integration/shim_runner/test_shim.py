"""shim-runner against real conmon + runc: lifecycle, I/O, logs, signals, restart, errors."""

import os
import subprocess
import time

import pytest

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_api.types.v1.types_pb2 import Empty
from dockyard_common import errors

OUT, ERR = 1, 2


def test_echo_hi_attached_before_start(shim):
    st, out = shim.run(["echo", "hi"])
    assert out == [(OUT, b"hi\n")]
    assert st.status == "stopped" and st.exit_status == 0 and st.exited_at


def test_exit_code(shim):
    st, _ = shim.run(["sh", "-c", "exit 3"])
    assert st.exit_status == 3


def test_stderr_is_separate(shim):
    _, out = shim.run(["sh", "-c", "echo out; echo err >&2"])
    assert (OUT, b"out\n") in out and (ERR, b"err\n") in out


def test_large_output_arrives_completely(shim):
    _, out = shim.run(["sh", "-c", "seq 1 20000"])
    data = b"".join(d for s, d in out if s == OUT)
    assert data == b"".join(b"%d\n" % i for i in range(1, 20001))


def test_state_created_then_running(shim):
    cid, st = shim.create(["sleep", "30"])
    assert st.status == "created" and st.pid > 0
    st = shim.c.Start(shim.ref(cid))
    assert st.status == "running" and st.started_at
    with pytest.raises(errors.NotModified):
        shim.c.Start(shim.ref(cid))
    with pytest.raises(errors.FailedPrecondition):
        shim.c.Delete(shim.ref(cid))
    assert any(t.id == cid and t.status == "running" for t in shim.c.List(Empty()).tasks)
    pids = shim.c.Pids(shim.ref(cid)).pids
    assert st.pid in pids
    shim.c.Kill(shim_pb2.KillRequest(id=cid, signal=9))
    st = shim.c.Wait(shim.ref(cid), timeout=10)
    assert st.exit_status == 137
    with pytest.raises(errors.FailedPrecondition):
        shim.c.Kill(shim_pb2.KillRequest(id=cid, signal=9))
    shim.c.Delete(shim.ref(cid))
    with pytest.raises(errors.NotFound):
        shim.c.State(shim.ref(cid))


def test_stdin_and_close_stdin(shim):
    cid, _ = shim.create(["cat"], stdin=True)
    att = shim.attach(cid, stdin=True)
    shim.c.Start(shim.ref(cid))
    att.send(b"hello\n")
    att.send(b"world\n")
    att.close_stdin()
    att.collect()
    assert att.text(OUT) == b"hello\nworld\n"
    assert shim.c.Wait(shim.ref(cid), timeout=10).exit_status == 0


def test_close_stdin_rpc_without_attach(shim):
    cid, _ = shim.create(["sh", "-c", "cat; echo eof"], stdin=True)
    att = shim.attach(cid)
    shim.c.Start(shim.ref(cid))
    time.sleep(0.3)
    shim.c.CloseStdin(shim.ref(cid))
    att.collect()
    assert att.text(OUT) == b"eof\n"


def test_several_attaches(shim):
    cid, _ = shim.create(["sh", "-c", "sleep 0.3; echo one; echo two >&2"])
    a1 = shim.attach(cid)
    a2 = shim.attach(cid, stderr=False)
    shim.c.Start(shim.ref(cid))
    a1.collect(), a2.collect()
    assert a1.text(OUT) == b"one\n" and a1.text(ERR) == b"two\n"
    assert a2.out == [(OUT, b"one\n")]


def test_tty_and_resize(shim):
    cid, _ = shim.create(["sh", "-c", "stty size; sleep 0.5; stty size"], terminal=True)
    att = shim.attach(cid)
    shim.c.ResizePty(shim_pb2.ResizePtyRequest(id=cid, width=100, height=40))
    shim.c.Start(shim.ref(cid))
    shim.c.ResizePty(shim_pb2.ResizePtyRequest(id=cid, width=120, height=50))
    att.collect()
    assert att.text() == b"40 100\r\n50 120\r\n"
    assert all(s == OUT for s, _ in att.out)


def test_logs_after_exit_tail_and_filters(shim):
    cid, _ = shim.create(["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; printf part"])
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=10)
    shim.c.Delete(shim.ref(cid))   # logs stay after the task is gone

    def logs(**kw):
        kw.setdefault("tail", -1)
        return [(e.stream, e.data) for e in shim.c.Logs(shim_pb2.LogsRequest(id=cid, **kw))]
    everything = logs(stdout=True, stderr=True)
    assert [d for _, d in everything] == [b"line1\n", b"line2\n", b"line3\n", b"line4\n", b"line5\n",
                                          b"oops\n", b"part"]
    assert logs(stdout=True, stderr=True, tail=2) == [(ERR, b"oops\n"), (OUT, b"part")]
    assert logs(stderr=True) == [(ERR, b"oops\n")]
    entries = list(shim.c.Logs(shim_pb2.LogsRequest(id=cid, stdout=True, tail=-1)))
    mid = entries[2].time_ns
    assert all(e.time_ns >= mid for e in shim.c.Logs(shim_pb2.LogsRequest(id=cid, stdout=True, tail=-1, since_ns=mid)))


def test_logs_follow(shim):
    cid, _ = shim.create(["sh", "-c", "echo a; sleep 1; echo b"])
    shim.c.Start(shim.ref(cid))
    got = [e.data for e in shim.c.Logs(shim_pb2.LogsRequest(id=cid, follow=True, stdout=True, tail=-1),
                                        timeout=15)]
    assert got == [b"a\n", b"b\n"]


def test_kill_sigterm_and_sigkill(shim):
    cid, _ = shim.create(["sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"])
    shim.c.Start(shim.ref(cid))
    time.sleep(0.3)
    shim.c.Kill(shim_pb2.KillRequest(id=cid, signal=15))
    assert shim.c.Wait(shim.ref(cid), timeout=10).exit_status == 42
    cid2, _ = shim.create(["sleep", "100"])
    shim.c.Start(shim.ref(cid2))
    shim.c.Kill(shim_pb2.KillRequest(id=cid2, signal=9, all=True))
    assert shim.c.Wait(shim.ref(cid2), timeout=10).exit_status == 137


def test_pause_resume(shim):
    cid, _ = shim.create(["sleep", "100"])
    shim.c.Start(shim.ref(cid))
    shim.c.Pause(shim.ref(cid))
    assert shim.c.State(shim.ref(cid)).status == "paused"
    shim.c.Resume(shim.ref(cid))
    assert shim.c.State(shim.ref(cid)).status == "running"
    stats = shim.c.Stats(shim.ref(cid)).stats_json
    assert b"memory_stats" in stats


def test_missing_executable(shim, stack):
    with pytest.raises(errors.InvalidArgument) as exc:
        shim.create(["nosuch"], cid="missing-exe")
    assert "executable file not found" in str(exc.value)
    assert not os.path.exists(stack.layout.task_dir("missing-exe"))


def test_user_annotation(shim):
    _, out = shim.run(["sh", "-c", "id -u; id -g; echo $HOME"], user="app")
    assert b"".join(d for _, d in out) == b"1000\n1000\n/home/app\n"
    _, out = shim.run(["sh", "-c", "id -u; id -g"], user="65534:50")
    assert b"".join(d for _, d in out) == b"65534\n50\n"


def test_exec(shim):
    cid, _ = shim.create(["sleep", "100"])
    shim.c.Start(shim.ref(cid))
    import json
    shim.c.Exec(shim_pb2.ExecProcessRequest(id=cid, exec_id="e1", process_json=json.dumps(
        {"args": ["sh", "-c", "echo fromexec; echo x >&2; exit 5"]}).encode()))
    att = shim.attach(cid, "e1")
    st = shim.c.Start(shim.ref(cid, "e1"))
    assert st.status == "running" and st.pid > 0
    att.collect()
    assert att.text(OUT) == b"fromexec\n" and att.text(ERR) == b"x\n"
    assert shim.c.Wait(shim.ref(cid, "e1"), timeout=10).exit_status == 5
    shim.c.Delete(shim.ref(cid, "e1"))
    shim.c.Exec(shim_pb2.ExecProcessRequest(id=cid, exec_id="e2", process_json=json.dumps(
        {"args": ["nosuch"]}).encode()))
    with pytest.raises(errors.DockyardError) as exc:
        shim.c.Start(shim.ref(cid, "e2"))
    assert "executable file not found" in str(exc.value)


def test_restart_shim_keeps_containers(shim, stack):
    cid, _ = shim.create(["sh", "-c", "trap 'exit 7' TERM; echo started; while true; do sleep 0.1; done"])
    st = shim.c.Start(shim.ref(cid))
    stack.stop_service("shim")
    time.sleep(0.3)
    stack.start_service("shim")
    st2 = shim.c.State(shim.ref(cid))
    assert st2.status == "running" and st2.pid == st.pid
    assert any(t.id == cid for t in shim.c.List(Empty()).tasks)
    assert [e.data for e in shim.c.Logs(shim_pb2.LogsRequest(id=cid, stdout=True, tail=-1))] == [b"started\n"]
    shim.c.Kill(shim_pb2.KillRequest(id=cid, signal=15))
    assert shim.c.Wait(shim.ref(cid), timeout=10).exit_status == 7


def test_exit_while_shim_down(shim, stack):
    cid, _ = shim.create(["sh", "-c", "sleep 0.5; exit 9"])
    shim.c.Start(shim.ref(cid))
    stack.stop_service("shim")
    time.sleep(1.2)
    stack.start_service("shim")
    st = shim.c.Wait(shim.ref(cid), timeout=10)
    assert st.status == "stopped" and st.exit_status == 9


def test_attach_after_restart(shim, stack):
    cid, _ = shim.create(["sh", "-c", "read x; echo got $x"], stdin=True)
    shim.c.Start(shim.ref(cid))
    stack.stop_service("shim")
    stack.start_service("shim")
    att = shim.attach(cid, stdin=True)
    att.send(b"ping\n")
    att.collect()
    assert att.text(OUT) == b"got ping\n"


def test_events(shim):
    import threading
    events = []
    call = shim.c.Events(Empty())

    def read():
        try:
            for e in call:
                events.append(e)
        except errors.DockyardError:
            pass   # cancelled below
    t = threading.Thread(target=read, daemon=True)
    t.start()
    time.sleep(0.2)
    cid, _ = shim.create(["sh", "-c", "exit 4"])
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=10)
    time.sleep(0.2)
    call.cancel()
    mine = [(e.type, e.exit_status) for e in events if e.id == cid]
    assert mine == [("start", 0), ("exit", 4)]


def test_delete_created_task(shim, stack):
    cid, _ = shim.create(["sleep", "100"])
    st = shim.c.Delete(shim.ref(cid))
    assert st.status == "stopped"
    assert not os.path.exists(stack.layout.task_dir(cid))


def test_exec_with_tty_and_stdin(shim):
    import json
    cid, _ = shim.create(["sleep", "100"])
    shim.c.Start(shim.ref(cid))
    shim.c.Exec(shim_pb2.ExecProcessRequest(id=cid, exec_id="t1", terminal=True, stdin=True,
                                            process_json=json.dumps({"args": ["sh"]}).encode()))
    att = shim.attach(cid, "t1", stdin=True)
    shim.c.ResizePty(shim_pb2.ResizePtyRequest(id=cid, exec_id="t1", width=90, height=30))
    shim.c.Start(shim.ref(cid, "t1"))
    att.send(b"stty size; exit 6\n")
    att.collect()
    assert b"30 90\r\n" in att.text()
    assert shim.c.Wait(shim.ref(cid, "t1"), timeout=10).exit_status == 6


def test_nothing_left_behind(shim, stack):
    cid = "leftover-check"
    shim.create(["true"], cid=cid)
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=10)
    shim.c.Delete(shim.ref(cid))
    assert not [l for l in open("/proc/self/mounts") if stack.layout.task_dir(cid) in l]
    assert not os.path.exists(stack.layout.task_dir(cid))
    assert not os.path.exists("/sys/fs/cgroup/memory/dyt-" + cid)
    assert not os.path.exists(os.path.join(stack.layout.runtime_root, cid))
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [l for l in ps.splitlines() if "conmon" in l and stack.layout.task_dir(cid) in l]


def _overlay(shim, stack, name, long_paths=False):
    base = os.path.join(stack.root, "ov-" + name)
    lowers = []
    for i in range(40 if long_paths else 1):
        d = os.path.join(base, ("layer-%02d-" % i) + "x" * (80 if long_paths else 0))
        os.makedirs(d)
        lowers.append(d)
    lowers.append(shim.rootfs)
    for d in ("upper", "work"):
        os.makedirs(os.path.join(base, d))
    return base, types_pb2.Mount(type="overlay", source="overlay", options=[
        "lowerdir=" + ":".join(lowers), "upperdir=" + os.path.join(base, "upper"),
        "workdir=" + os.path.join(base, "work")])


@pytest.mark.parametrize("long_paths", [False, True])
def test_overlay_rootfs(shim, stack, long_paths):
    from conftest import make_spec
    base, mount = _overlay(shim, stack, str(long_paths), long_paths)
    cid = "overlay-%s" % ("long" if long_paths else "short")
    shim.created.append(cid)
    shim.c.Create(shim_pb2.CreateTaskRequest(id=cid, spec_json=make_spec(cid, ["sh", "-c", "echo data > /made; cat /made"]),
                                             rootfs=[mount]))
    att = shim.attach(cid)
    shim.c.Start(shim.ref(cid))
    att.collect()
    assert att.text() == b"data\n"
    assert shim.c.Wait(shim.ref(cid), timeout=10).exit_status == 0
    shim.c.Delete(shim.ref(cid))
    assert open(os.path.join(base, "upper", "made")).read() == "data\n"   # writes went to upper
    assert not os.path.exists(os.path.join(shim.rootfs, "made"))
    assert not [l for l in open("/proc/self/mounts") if cid in l]
