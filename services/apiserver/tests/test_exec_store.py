"""ExecStore's record of exits and starts, and the round trips ExecOps saves with it."""

import threading
import time
import types

import pytest

from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_apiserver.backend.container_exec import ExecOps, ExecStore
from dockyard_common import errors


def test_exit_is_recorded_for_known_execs_only_and_wakes_waiters():
    store = ExecStore()
    store.add("e1", "c1", {})
    store.exited("nope", 3)
    assert store.exit_code("e1") is None
    assert store.wait_exit("e1", 0.01) is None
    threading.Timer(0.05, store.exited, args=("e1", 7)).start()
    t0 = time.monotonic()
    assert store.wait_exit("e1", 5) == 7
    assert time.monotonic() - t0 < 2
    store.exited("e1", 9)            # an exit is final
    assert store.exit_code("e1") == 7


def test_forget_wakes_waiters_and_drops_the_records():
    store = ExecStore()
    store.add("e1", "c1", {})
    store.mark_started("e1")
    threading.Timer(0.05, store.forget_container, args=("c1",)).start()
    assert store.wait_exit("e1", 5) is None
    assert not store.was_started("e1")
    with pytest.raises(errors.NotFound):
        store.get("e1")


class _Tasks:
    def __init__(self):
        self.gets = 0
        self.state = tasks_pb2.ExecState()

    def ExecGet(self, ref):
        self.gets += 1
        return self.state


class _Backend(ExecOps):
    def __init__(self):
        self.execs = ExecStore()
        self.c = types.SimpleNamespace(tasks=_Tasks())
        state = types.SimpleNamespace(running=True, paused=False)
        self.rec = types.SimpleNamespace(id="c1", state=state)

    def get(self, ref):
        return self.rec


def _add(be):
    be.execs.add("e1", "c1", {"OpenStdin": False, "OpenStdout": True, "OpenStderr": True,
                             "DetachKeys": "", "ProcessConfig": {}})


def test_inspect_answers_a_seen_exit_without_asking_container_service():
    be = _Backend()
    _add(be)
    be.c.tasks.state = tasks_pb2.ExecState(running=True, pid=42)
    out = be.exec_inspect("e1")
    assert (out["Running"], out["Pid"], out["ExitCode"], be.c.tasks.gets) == (True, 42, None, 1)
    be.execs.exited("e1", 3)
    out = be.exec_inspect("e1")
    assert (out["Running"], out["Pid"], out["ExitCode"], be.c.tasks.gets) == (False, 0, 3, 1)


def test_check_startable_asks_container_service_only_after_a_start():
    be = _Backend()
    _add(be)
    be.exec_check_startable("e1")
    assert be.c.tasks.gets == 0
    be.execs.mark_started("e1")
    be.c.tasks.state = tasks_pb2.ExecState(running=True, pid=42)
    with pytest.raises(errors.Conflict, match="already running"):
        be.exec_check_startable("e1")
    be.execs.exited("e1", 0)
    with pytest.raises(errors.Conflict, match="has already run"):
        be.exec_check_startable("e1")
