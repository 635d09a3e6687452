import time

from helpers import record

from dockyard_containers.restore import ShimWatcher


def wait_for(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def started(env):
    rec = env.containers.create(record())
    env.tasks.start(rec.id)
    return rec.id


def test_resync_records_exit_that_happened_while_down(env):
    running = started(env)
    exited = started(env)
    env.shim.exit(exited, 42, emit=False)
    env.store.close()
    env.reopen()
    env.tasks.resync()
    assert env.tasks.get(exited).exit_code == 42 and env.tasks.get(exited).status == "exited"
    assert env.tasks.get(running).running
    assert env.drain() == [("die", exited[:4], 42)]
    assert (exited, "") not in env.shim.tasks


def test_resync_after_reboot_marks_exited(env):
    cid = started(env)
    env.shim.tasks.clear()  # STATE is empty
    env.tasks.resync()
    st = env.tasks.get(cid)
    assert not st.running and st.status == "exited" and st.exit_code == 255


def test_resync_dead_monitor_is_255(env):
    cid = started(env)
    env.shim.tasks[(cid, "")].status = "unknown"
    env.tasks.resync()
    assert env.tasks.get(cid).exit_code == 255
    assert ("Kill", cid, "") in env.shim.calls


def test_resync_syncs_pause(env):
    cid = started(env)
    env.shim.tasks[(cid, "")].status = "paused"
    env.tasks.resync()
    assert env.tasks.get(cid).status == "paused"


def test_watcher_follows_events_and_reconnects(env):
    watcher = ShimWatcher(env.tasks, env.shim, resync_interval=60, max_backoff=0.05)
    try:
        assert watcher.start(wait_first=2)
        cid = started(env)
        env.shim.exit(cid, 9)
        assert wait_for(lambda: env.tasks.get(cid).status == "exited")
        assert env.tasks.get(cid).exit_code == 9
        # the shim restarts; an exit happens while nobody listens
        other = started(env)
        env.shim.drop_streams()
        env.shim.exit(other, 4, emit=False)
        assert wait_for(lambda: env.tasks.get(other).status == "exited")
        assert env.tasks.get(other).exit_code == 4
        events = env.drain()
        assert events == [("start", cid[:4], 0), ("die", cid[:4], 9),
                          ("start", other[:4], 0), ("die", other[:4], 4)]
    finally:
        watcher.stop()


def test_watcher_keeps_records_while_shim_down(env):
    cid = started(env)
    env.shim.down = True
    watcher = ShimWatcher(env.tasks, env.shim, resync_interval=60, max_backoff=0.05)
    try:
        assert not watcher.start(wait_first=0.3)
        assert env.tasks.get(cid).running  # not marked dead
        env.shim.exit(cid, 1, emit=False)
        env.shim.down = False
        assert wait_for(lambda: watcher.synced)
        assert env.tasks.get(cid).exit_code == 1
    finally:
        watcher.stop()


def test_watcher_waits_for_ready_check(env):
    from dockyard_common import errors
    cid = started(env)
    ready = {"ok": False}

    def check():
        if not ready["ok"]:
            raise errors.Unavailable("restoring")
    env.shim.tasks.clear()  # the shim has not restored its tasks yet
    watcher = ShimWatcher(env.tasks, env.shim, ready_check=check, resync_interval=60, max_backoff=0.05)
    try:
        assert not watcher.start(wait_first=0.3)
        assert env.tasks.get(cid).running
    finally:
        watcher.stop()
