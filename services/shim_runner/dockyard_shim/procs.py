"""The processes shim-runner supervises: a container's init (Task) and its execs (ExecProc),
their states and the small metadata file each keeps for a restart of shim-runner."""

import json
import os
import re
import threading

from dockyard_common import errors, ids

CREATED, RUNNING, PAUSED, STOPPED = "created", "running", "paused", "stopped"
# Task and exec ids (they name directories and runc containers).
VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def rfc3339(ns):
    return ids.now_rfc3339(ns) if ns else ""


def user_error(prefix, message, other=errors.FailedPrecondition):
    """Docker's wording; the CLI maps "executable file not found"/"no such file" to 127 and
    "permission denied" to 126, and dockerd answers those as invalid configuration (400);
    any other failure is `other`."""
    text = "%s: %s: unknown" % (prefix, message)
    low = message.lower()
    if ("executable file not found" in low or "no such file or directory" in low
            or "permission denied" in low):
        return errors.InvalidArgument(text)
    return other(text)


class Proc:
    """A monitored process: a container's init (exec_id "") or one exec."""

    META = "task.json"

    def __init__(self, cid, exec_id, pdir, terminal=False, stdin=False):
        self.cid, self.exec_id, self.dir = cid, exec_id, pdir
        self.terminal, self.stdin = terminal, stdin
        self.status = CREATED
        self.pid = self.monitor_pid = 0
        self.exit_status = 0
        self.exited_at_ns = self.started_at_ns = 0
        self.oom = False
        self.error = ""
        self.exited = threading.Event()
        self.lock = threading.RLock()
        self.hub = None
        self.pending = None          # PendingExec until an exec is started
        self.prepared = None         # an exec's monitor start: Event set once it is settled
        self.prepare_error = None
        self.start_error = None      # raised as it is by an exec's start (dockerd resolves its user there)
        self.attaching = 0           # attach() calls under way (start waits for them)
        self.attach_cv = threading.Condition()

    def state(self):
        return {"id": self.cid, "exec_id": self.exec_id, "status": self.status, "pid": self.pid,
                "exit_status": self.exit_status, "exited_at": rfc3339(self.exited_at_ns),
                "started_at": rfc3339(self.started_at_ns), "terminal": self.terminal,
                "oom_killed": self.oom, "error": self.error}

    def meta(self):
        return {"id": self.cid, "exec_id": self.exec_id, "terminal": self.terminal,
                "stdin": self.stdin, "pid": self.pid, "started_at_ns": self.started_at_ns}

    def save(self):
        path = os.path.join(self.dir, self.META)
        with open(path + ".tmp", "w") as f:
            json.dump(self.meta(), f)
        os.replace(path + ".tmp", path)


class ExecProc(Proc):
    META = "exec.json"


class Task(Proc):
    def __init__(self, cid, bundle, runtime, terminal=False, stdin=False):
        super().__init__(cid, "", bundle, terminal, stdin)
        self.runtime = runtime
        self.execs = {}

    def meta(self):
        m = super().meta()
        m["runtime"] = self.runtime.binary
        return m
