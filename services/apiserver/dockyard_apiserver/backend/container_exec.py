"""`docker exec`: exec configs and their lifecycle (dockerd's daemon/exec.go).

The configs live in the apiserver's memory, as in dockerd; the process itself is a task exec at
container-service and shim-runner, which keep its state and exit code.
"""

import json
import threading

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_common import errors, ids

from . import container_links


class ExecOps:
    """The exec half of ContainerBackend (it supplies get, config_of, emit, c and execs)."""

    def exec_create(self, ref, body, rec=None):
        rec = rec or self.get(ref)
        if not rec.state.running:
            raise errors.Conflict("Container %s is not running" % rec.id)
        if rec.state.paused:
            raise errors.Conflict("Container %s is paused, unpause the container before exec" % rec.id)
        cmd = body.get("Cmd") or []
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise errors.InvalidArgument("No exec command specified")
        from dockyard_common import oci
        config = self.config_of(rec)
        tty = bool(body.get("Tty"))
        env = ["PATH=" + oci.DEFAULT_PATH, "HOSTNAME=" + (config.get("Hostname") or "")]
        if tty:
            env.append("TERM=xterm")
        env += container_links.exec_env(self, rec)
        env = oci.replace_or_append_env(env, config.get("Env") or [])
        env = oci.replace_or_append_env(env, body.get("Env") or [])
        process = {"args": list(cmd), "env": env, "terminal": tty,
                   "cwd": body.get("WorkingDir") or config.get("WorkingDir") or "/",
                   # a Docker User string: shim-runner resolves it in the container's /etc/passwd
                   "user": body.get("User") or config.get("User") or ""}
        if body.get("Privileged"):
            caps = list(oci.ALL_CAPABILITIES)
            process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
        exec_id = ids.new_id()
        stdin = bool(body.get("AttachStdin"))
        self.c.tasks.ExecCreate(tasks_pb2.ExecCreateRequest(
            id=rec.id, exec_id=exec_id, process_json=json.dumps(process).encode(), terminal=tty, stdin=stdin))
        self.execs.add(exec_id, rec.id, {
            "OpenStdin": stdin, "OpenStdout": bool(body.get("AttachStdout")),
            "OpenStderr": bool(body.get("AttachStderr")), "DetachKeys": body.get("DetachKeys") or "",
            "Privileged": bool(body.get("Privileged")), "Tty": tty, "User": body.get("User") or "",
            "ConsoleSize": body.get("ConsoleSize"),
            "ProcessConfig": {"tty": tty, "entrypoint": cmd[0], "arguments": list(cmd[1:]),
                              "privileged": bool(body.get("Privileged")), "user": body.get("User") or ""}})
        self.emit(rec, "exec_create: " + " ".join(cmd), execID=exec_id)
        return {"Id": exec_id}

    def exec_state(self, exec_id):
        ex = self.execs.get(exec_id)
        st = self.c.tasks.ExecGet(tasks_pb2.ExecRef(id=ex["ContainerID"], exec_id=exec_id))
        if st.exited:
            self.execs.exited(exec_id, int(st.exit_code))
        return ex, st

    def exec_inspect(self, exec_id):
        ex = self.execs.get(exec_id)
        code = self.execs.exit_code(exec_id)
        if code is not None:    # an exit is final: no need to ask container-service again
            running, pid = False, 0
        else:
            ex, st = self.exec_state(exec_id)
            running, pid = bool(st.running), int(st.pid) if st.running else 0
            code = int(st.exit_code) if st.exited else None
        return {"CanRemove": False, "ContainerID": ex["ContainerID"], "DetachKeys": ex["DetachKeys"],
                "ExitCode": code, "ID": exec_id,
                "OpenStderr": ex["OpenStderr"], "OpenStdin": ex["OpenStdin"],
                "OpenStdout": ex["OpenStdout"], "ProcessConfig": ex["ProcessConfig"],
                "Running": running, "Pid": pid}

    def exec_check_startable(self, exec_id):
        ex = self.execs.get(exec_id)
        if self.execs.exit_code(exec_id) is not None:
            raise errors.Conflict("Error: Exec command %s has already run" % exec_id)
        # Only a start asked for here can have made it run (execs live in this process's memory):
        # until then container-service's answer is known, and the round trip is saved.
        if self.execs.was_started(exec_id):
            ex, st = self.exec_state(exec_id)
            if st.running:
                raise errors.Conflict("Error: Exec command %s is already running" % exec_id)
            if st.exited:
                raise errors.Conflict("Error: Exec command %s has already run" % exec_id)
        rec = self.get(ex["ContainerID"])
        if not rec.state.running:
            raise errors.Conflict("Container %s is not running" % rec.id)
        if rec.state.paused:
            raise errors.Conflict("Container %s is paused, unpause the container before exec" % rec.id)
        return ex, rec

    def exec_start(self, ex, rec):
        self.execs.mark_started(ex["ID"])
        self.emit(rec, "exec_start: " + " ".join([ex["ProcessConfig"]["entrypoint"]] + ex["ProcessConfig"]["arguments"]),
                  execID=ex["ID"])
        return self.c.tasks.ExecStart(tasks_pb2.ExecRef(id=rec.id, exec_id=ex["ID"]))

    def exec_resize(self, exec_id, height, width):
        ex = self.execs.get(exec_id)
        self.c.shim.ResizePty(shim_pb2.ResizePtyRequest(id=ex["ContainerID"], exec_id=exec_id,
                                                        height=height, width=width))


class ExecStore:
    """Exec configs live in memory only, as in dockerd (its execStore is not persisted).
    It also keeps the exit codes container-service reported (exec_die events, ExecGet answers):
    an exit is final, so inspect and the end of `exec start` need not ask again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._exit_seen = threading.Condition(self._lock)
        self._by_id = {}
        self._exits = {}
        self._started = set()

    def add(self, exec_id, container_id, config):
        with self._lock:
            self._by_id[exec_id] = dict(config, ID=exec_id, ContainerID=container_id)

    def get(self, exec_id):
        with self._lock:
            item = self._by_id.get(exec_id)
        if item is None:
            raise errors.NotFound("No such exec instance: %s" % exec_id)
        return item

    def mark_started(self, exec_id):
        with self._lock:
            if exec_id in self._by_id:
                self._started.add(exec_id)

    def was_started(self, exec_id):
        """True once a start was asked for (it may have failed or still be on its way)."""
        with self._lock:
            return exec_id in self._started

    def exited(self, exec_id, exit_code):
        """Record the exit of a known exec and wake wait_exit()."""
        with self._exit_seen:
            if exec_id in self._by_id and exec_id not in self._exits:
                self._exits[exec_id] = exit_code
                self._exit_seen.notify_all()

    def exit_code(self, exec_id):
        """The recorded exit code, or None while no exit was seen."""
        with self._lock:
            return self._exits.get(exec_id)

    def wait_exit(self, exec_id, timeout):
        """The exit code once recorded (None after `timeout` or when the exec is forgotten)."""
        with self._exit_seen:
            self._exit_seen.wait_for(lambda: exec_id in self._exits or exec_id not in self._by_id,
                                     timeout)
            return self._exits.get(exec_id)

    def ids_of(self, container_id):
        with self._lock:
            return [k for k, v in self._by_id.items() if v["ContainerID"] == container_id]

    def forget(self, exec_id):
        with self._lock:
            self._by_id.pop(exec_id, None)
            self._exits.pop(exec_id, None)
            self._started.discard(exec_id)
            self._exit_seen.notify_all()

    def forget_container(self, container_id):
        with self._lock:
            for k in [k for k, v in self._by_id.items() if v["ContainerID"] == container_id]:
                del self._by_id[k]
                self._exits.pop(k, None)
                self._started.discard(k)
            self._exit_seen.notify_all()
