import json
import threading
import time

import pytest

from dockyard_common import errors
from helpers import record


def started(env, **kw):
    rec = env.containers.create(record(**kw))
    env.tasks.start(rec.id)
    return rec.id


def test_create_passes_record_to_shim(env):
    rec = env.containers.create(record(tty=True, open_stdin=True, runtime="crun"))
    st = env.tasks.create(rec.id)
    assert st.status == "created" and not st.running
    req = env.shim.last_create
    assert req.terminal and req.stdin and req.runtime == "crun"
    assert req.spec_json == rec.spec_json
    assert req.rootfs[0].source == "/tmp/rootfs"


def test_start_records_running_and_emits_start(env):
    cid = started(env)
    st = env.tasks.get(cid)
    assert st.running and st.status == "running" and st.pid >= 1000
    assert st.started_at.endswith("Z") and len(st.started_at) == len("2024-01-01T00:00:00.123456789Z")
    assert env.drain() == [("start", cid[:4], 0)]
    assert [c[0] for c in env.shim.calls if c[0] in ("Create", "Start")] == ["Create", "Start"]


def test_start_running_is_not_modified(env):
    cid = started(env)
    with pytest.raises(errors.NotModified):
        env.tasks.start(cid)


def test_exit_recorded_die_emitted_task_deleted(env):
    cid = started(env)
    env.shim.exit(cid, 3, emit=False)
    assert env.tasks.handle_exit(cid, 3)
    st = env.tasks.get(cid)
    assert not st.running and st.status == "exited" and st.exit_code == 3 and st.pid == 0
    assert st.finished_at != "0001-01-01T00:00:00Z"
    assert env.drain() == [("start", cid[:4], 0), ("die", cid[:4], 3)]
    assert (cid, "") not in env.shim.tasks
    # a second report of the same exit changes nothing
    assert not env.tasks.handle_exit(cid, 3)
    assert env.drain() == []


def test_restart_after_exit_recreates_task(env):
    cid = started(env)
    env.shim.exit(cid, 0, emit=False)
    env.tasks.handle_exit(cid, 0)
    env.tasks.start(cid)
    assert env.tasks.get(cid).running
    assert [c[0] for c in env.shim.calls if c[0] in ("Create", "Start")] == ["Create", "Start"] * 2


def test_restart_by_policy_counts_restarts(env):
    cid = started(env)
    env.shim.exit(cid, 3, emit=False)
    env.tasks.handle_exit(cid, 3)
    assert env.tasks.create(cid, restart=True).restart_count == 1
    env.tasks.start(cid)
    env.shim.exit(cid, 3, emit=False)
    env.tasks.handle_exit(cid, 3)
    env.tasks.create(cid)          # a start by the user: not counted
    env.tasks.start(cid)
    st = env.tasks.get(cid)
    assert st.running and st.restart_count == 1


def test_start_deletes_stale_stopped_task(env):
    rec = env.containers.create(record())
    env.tasks.create(rec.id)
    env.shim.tasks[(rec.id, "")].status = "stopped"
    env.tasks.start(rec.id)
    names = [c[0] for c in env.shim.calls]
    assert names.index("Delete") < names.index("Start")


def test_stale_exit_of_earlier_run_ignored(env):
    cid = started(env)
    assert not env.tasks.handle_exit(cid, 1, pid=1)
    assert env.tasks.get(cid).running


@pytest.mark.parametrize("msg,code,cls", [
    ('exec: "/nope": stat /nope: no such file or directory', 127, errors.InvalidArgument),
    ('exec: "nope": executable file not found in $PATH', 127, errors.InvalidArgument),
    ('exec: "/etc/passwd": permission denied', 126, errors.InvalidArgument),
    ("something else broke", 128, errors.Internal),
])
def test_failed_create_records_exit_code(env, msg, code, cls):
    rec = env.containers.create(record())
    env.shim.fail_create = "OCI runtime create failed: " + msg
    with pytest.raises(cls) as ei:
        env.tasks.start(rec.id)
    assert msg in str(ei.value)
    st = env.tasks.get(rec.id)
    assert st.status == "created" and not st.running
    assert st.exit_code == code and msg in st.error
    assert env.drain() == []
    # it can be started once the cause is gone; the error is cleared
    env.shim.fail_create = None
    st = env.tasks.start(rec.id)
    assert st.running and st.error == "" and st.exit_code == 0


def test_failed_start_deletes_task(env):
    rec = env.containers.create(record())
    env.shim.fail_start = "runc start: no such file or directory"
    with pytest.raises(errors.InvalidArgument):
        env.tasks.start(rec.id)
    assert (rec.id, "") not in env.shim.tasks
    assert env.tasks.get(rec.id).exit_code == 127


def test_kill(env):
    cid = started(env)
    env.tasks.kill(cid, 15)
    assert env.shim.killed == 15
    env.tasks.kill(cid)
    assert env.shim.killed == 9
    env.shim.exit(cid, 137, emit=False)
    env.tasks.handle_exit(cid, 137)
    with pytest.raises(errors.Conflict) as ei:
        env.tasks.kill(cid, 9)
    assert "is not running" in str(ei.value)


def test_pause_resume(env):
    cid = started(env)
    env.tasks.pause(cid)
    st = env.tasks.get(cid)
    assert st.paused and st.running and st.status == "paused"
    with pytest.raises(errors.Conflict):
        env.tasks.pause(cid)
    with pytest.raises(errors.Conflict):
        env.tasks.start(cid)
    env.tasks.resume(cid)
    st = env.tasks.get(cid)
    assert not st.paused and st.status == "running"
    with pytest.raises(errors.Conflict):
        env.tasks.resume(cid)


def test_kill_paused_resumes(env):
    cid = started(env)
    env.tasks.pause(cid)
    env.tasks.kill(cid, 9)
    assert ("Resume", cid, "") in env.shim.calls


def test_top_and_stats(env):
    rec = env.containers.create(record())
    with pytest.raises(errors.Conflict):
        env.tasks.top(rec.id)
    assert env.tasks.stats(rec.id) == b""
    env.tasks.start(rec.id)
    assert env.tasks.top(rec.id) == [env.tasks.get(rec.id).pid]
    assert json.loads(env.tasks.stats(rec.id)) == {"pids_stats": {"current": 1}}


def test_task_delete(env):
    cid = started(env)
    with pytest.raises(errors.FailedPrecondition):
        env.tasks.delete(cid)
    env.shim.exit(cid, 0, emit=False)
    env.tasks.handle_exit(cid, 0)
    env.tasks.delete(cid)  # already gone: NotFound ignored


def test_wait_blocks_until_exit(env):
    cid = started(env)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("st", env.tasks.wait(cid, poll=0.05)))
    t.start()
    time.sleep(0.2)
    assert "st" not in result
    env.shim.exit(cid, 7, emit=False)
    env.tasks.handle_exit(cid, 7)
    t.join(2)
    assert result["st"].exit_code == 7
    assert env.tasks.wait(cid).exit_code == 7  # not running: at once


def test_wait_cancelled(env):
    cid = started(env)
    with pytest.raises(errors.Unavailable):
        env.tasks.wait(cid, cancelled=lambda: True, poll=0.01)


def test_start_before_die_even_when_exit_races_start(env):
    """The exit arrives while Start is still in progress: "die" still follows "start"."""
    rec = env.containers.create(record())
    real_start = env.shim.Start
    exit_thread = []

    def start_and_exit(req):
        ts = real_start(req)
        env.shim.exit(rec.id, 0, emit=False)
        t = threading.Thread(target=env.tasks.handle_exit, args=(rec.id, 0))
        t.start()
        exit_thread.append(t)
        time.sleep(0.1)  # the exit handler now waits for the container's lock
        return ts

    env.shim.Start = start_and_exit
    env.tasks.start(rec.id)
    exit_thread[0].join(2)
    assert env.drain() == [("start", rec.id[:4], 0), ("die", rec.id[:4], 0)]
    assert env.tasks.get(rec.id).status == "exited"


def test_oom(env):
    cid = started(env)
    env.tasks.handle_oom(cid)
    env.shim.exit(cid, 137, emit=False, oom=True)
    env.tasks.handle_exit(cid, 137)
    assert env.tasks.get(cid).oom_killed
    assert env.drain() == [("start", cid[:4], 0), ("oom", cid[:4], 0), ("die", cid[:4], 137)]
    env.tasks.start(cid)
    assert not env.tasks.get(cid).oom_killed


def test_exec(env):
    rec = env.containers.create(record())
    with pytest.raises(errors.Conflict):
        env.tasks.exec_create(rec.id, "e1", b"{}")
    env.tasks.start(rec.id)
    env.tasks.exec_create(rec.id, "e1", b'{"args": ["ls"]}', terminal=True)
    assert env.tasks.exec_get(rec.id, "e1")["running"] is False
    st = env.tasks.exec_start(rec.id, "e1")
    assert st["running"] and st["pid"] > 0
    assert env.shim.execs[(rec.id, "e1")].terminal
    with pytest.raises(errors.Conflict):
        env.tasks.exec_start(rec.id, "e1")
    ev = env.shim.exit(rec.id, 5, exec_id="e1", emit=False)
    env.tasks.on_shim_event(ev)
    st = env.tasks.exec_get(rec.id, "e1")
    assert st["exited"] and not st["running"] and st["exit_code"] == 5
    assert env.drain()[-1] == ("exec_die", rec.id[:4], 5)
    with pytest.raises(errors.NotFound):
        env.tasks.exec_get(rec.id, "nope")


def test_exec_is_registered_at_create_and_only_started_at_start(env):
    # The apiserver attaches between the two calls, so a short exec's output is never lost.
    cid = started(env)
    env.tasks.exec_create(cid, "e2", b"{}")
    assert ("Exec", cid, "e2") in env.shim.calls
    env.shim.calls.clear()
    env.tasks.exec_start(cid, "e2")
    assert [c for c in env.shim.calls if c[2] == "e2"] == [("Start", cid, "e2")]


def test_update_goes_to_the_shim_only_while_running(env):
    cid = started(env)
    env.tasks.update(cid[:8], b'{"pids": {"limit": 9}}')
    assert env.shim.updates == [(cid, b'{"pids": {"limit": 9}}')]
    env.tasks.handle_exit(cid, 0)
    with pytest.raises(errors.Conflict):
        env.tasks.update(cid, b"{}")
    with pytest.raises(errors.NotFound):
        env.tasks.update("nosuch", b"{}")


def test_exec_get_asks_the_shim_before_the_exit_event_arrives(env):
    # The CLI reads the exit code right after the output ends: no waiting for the event stream.
    cid = started(env)
    env.tasks.exec_create(cid, "e3", b'{"args": ["true"]}')
    env.tasks.exec_start(cid, "e3")
    env.shim.exit(cid, 4, exec_id="e3", emit=False)   # the event is still on its way
    st = env.tasks.exec_get(cid, "e3")
    assert st["exited"] and not st["running"] and st["exit_code"] == 4
    assert env.drain()[-1] == ("exec_die", cid[:4], 4)
    env.tasks.handle_exec_exit(cid, "e3", 4)                # the late event changes nothing
    assert [e for e in env.drain() if e[0] == "exec_die"] == []


def test_kill_one_exec_process(env):
    # A health probe past its timeout: only that exec is signalled, never the container.
    cid = started(env)
    env.tasks.exec_create(cid, "probe", b'{"args": ["sleep", "9"]}')
    env.tasks.exec_start(cid, "probe")
    env.shim.calls.clear()
    env.tasks.kill(cid, 9, exec_id="probe")
    assert env.shim.calls == [("Kill", cid, "probe")] and env.shim.killed == 9


def test_exec_delete_forgets_an_exited_exec_and_refuses_a_running_one(env):
    # Health probes: Docker keeps no record of them, so neither may container-service.
    cid = started(env)
    env.tasks.exec_create(cid, "p1", b'{"args": ["true"]}')
    env.tasks.exec_start(cid, "p1")
    with pytest.raises(errors.FailedPrecondition):
        env.tasks.exec_delete(cid, "p1")
    env.shim.exit(cid, 0, exec_id="p1", emit=False)     # exited; the event is still on its way
    env.tasks.exec_delete(cid, "p1")
    with pytest.raises(errors.NotFound):
        env.tasks.exec_get(cid, "p1")
