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
        return ex, st

    def exec_inspect(self, exec_id):
        ex, st = self.exec_state(exec_id)
        out = {"CanRemove": False, "ContainerID": ex["ContainerID"], "DetachKeys": ex["DetachKeys"],
               "ExitCode": int(st.exit_code) if st.exited else None, "ID": exec_id,
               "OpenStderr": ex["OpenStderr"], "OpenStdin": ex["OpenStdin"],
               "OpenStdout": ex["OpenStdout"], "ProcessConfig": ex["ProcessConfig"],
               "Running": bool(st.running), "Pid": int(st.pid) if st.running else 0}
        return out

    def exec_check_startable(self, exec_id):
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
        self.emit(rec, "exec_start: " + " ".join([ex["ProcessConfig"]["entrypoint"]] + ex["ProcessConfig"]["arguments"]),
                  execID=ex["ID"])
        return self.c.tasks.ExecStart(tasks_pb2.ExecRef(id=rec.id, exec_id=ex["ID"]))

    def exec_resize(self, exec_id, height, width):
        ex = self.execs.get(exec_id)
        self.c.shim.ResizePty(shim_pb2.ResizePtyRequest(id=ex["ContainerID"], exec_id=exec_id,
                                                        height=height, width=width))


class ExecStore:
    """Exec configs live in memory only, as in dockerd (its execStore is not persisted)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_id = {}

    def add(self, exec_id, container_id, config):
        with self._lock:
            self._by_id[exec_id] = dict(config, ID=exec_id, ContainerID=container_id)

    def get(self, exec_id):
        with self._lock:
            item = self._by_id.get(exec_id)
        if item is None:
            raise errors.NotFound("No such exec instance: %s" % exec_id)
        return item

    def ids_of(self, container_id):
        with self._lock:
            return [k for k, v in self._by_id.items() if v["ContainerID"] == container_id]

    def forget(self, exec_id):
        with self._lock:
            self._by_id.pop(exec_id, None)

    def forget_container(self, container_id):
        with self._lock:
            for k in [k for k, v in self._by_id.items() if v["ContainerID"] == container_id]:
                del self._by_id[k]
