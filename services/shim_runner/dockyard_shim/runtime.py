"""The OCI runtime behind one small interface: `Runc`, `Crun` (same CLI) and an in-memory `Fake`.

The monitor (conmon) runs `create`/`exec` itself; shim-runner only runs the short commands here.
"""

import json
import os
import re
import shutil
import subprocess

from dockyard_common import errors

DEFAULT_RUNTIME = "runc"


class RuntimeError_(Exception):
    """A runtime command failed; `message` is the runtime's own error text."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


_LOGFMT_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


_LOGFMT_LEVEL = re.compile(r'(?:^|\s)level=(\w+)')


def error_message(stderr):
    """Extract the human message from runc/crun stderr (logfmt, JSON or plain text).

    As go-runc's getLastRuntimeError, the last error-level entry is the message: runc's
    warnings ("unable to get oom kill count") must not leak into it."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    msgs, errs = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
                msgs.append(entry.get("msg") or line)
                if entry.get("level") == "error":
                    errs.append(msgs[-1])
                continue
            except (ValueError, AttributeError):
                pass
        m = _LOGFMT_MSG.search(line)
        if m:
            msgs.append(m.group(1).encode().decode("unicode_escape"))
            level = _LOGFMT_LEVEL.search(line)
            if level and level.group(1) == "error":
                errs.append(msgs[-1])
        else:
            msgs.append(line)
    if errs:
        return errs[-1]
    return "; ".join(msgs) or text.strip()


class OCIRuntime:
    """Short-lived runtime commands for a container id; `root` is the runtime's state dir."""

    name = "oci"

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root

    def global_args(self):
        """Arguments placed before the subcommand (also handed to the monitor)."""
        return ["--root=" + self.root]

    def _run(self, *args, timeout=30, input=None):
        try:
            res = subprocess.run([self.binary, *self.global_args(), *args], capture_output=True,
                                 timeout=timeout, input=input)
        except FileNotFoundError:
            raise RuntimeError_("runtime %s not found" % self.binary) from None
        except subprocess.TimeoutExpired:
            raise RuntimeError_("%s %s timed out" % (self.name, args[0])) from None
        if res.returncode != 0:
            raise RuntimeError_(error_message(res.stderr) or "%s %s failed" % (self.name, args[0]))
        return res.stdout

    def start(self, cid):
        self._run("start", cid)

    def kill(self, cid, sig, all_=False):
        self._run("kill", *(["--all"] if all_ else []), cid, str(sig))

    def pause(self, cid):
        self._run("pause", cid)

    def resume(self, cid):
        self._run("resume", cid)

    def delete(self, cid, force=True):
        try:
            self._run("delete", *(["--force"] if force else []), cid)
        except RuntimeError_ as exc:
            if "does not exist" not in exc.message and "not found" not in exc.message:
                raise

    def update(self, cid, resources):
        """New cgroup limits: `update --resources -` reads OCI LinuxResources JSON on stdin."""
        self._run("update", "--resources", "-", cid, input=json.dumps(resources).encode())

    def ps(self, cid):
        out = self._run("ps", "--format", "json", cid)
        return [int(p) for p in json.loads(out or b"[]") or []]

    def state(self, cid):
        """The runtime's state dict, or None when it does not know the container."""
        try:
            return json.loads(self._run("state", cid))
        except (RuntimeError_, ValueError):
            return None


class Runc(OCIRuntime):
    name = "runc"


class Crun(OCIRuntime):
    name = "crun"


class Fake(OCIRuntime):
    """In-memory runtime for unit tests: records calls, keeps a status per container."""

    name = "fake"

    def __init__(self, binary="/bin/true", root="/nonexistent"):
        super().__init__(binary, root)
        self.calls = []
        self.status = {}
        self.fail = {}      # command -> message to raise

    def _do(self, cmd, cid, *extra):
        self.calls.append((cmd, cid) + extra)
        if cmd in self.fail:
            raise RuntimeError_(self.fail[cmd])

    def start(self, cid):
        self._do("start", cid)
        self.status[cid] = "running"

    def kill(self, cid, sig, all_=False):
        self._do("kill", cid, sig, all_)

    def pause(self, cid):
        self._do("pause", cid)
        self.status[cid] = "paused"

    def resume(self, cid):
        self._do("resume", cid)
        self.status[cid] = "running"

    def delete(self, cid, force=True):
        self._do("delete", cid)
        self.status.pop(cid, None)

    def update(self, cid, resources):
        self._do("update", cid, resources)

    def ps(self, cid):
        self._do("ps", cid)
        return [1]

    def state(self, cid):
        status = self.status.get(cid)
        return {"id": cid, "status": status} if status else None


_CLASSES = {"runc": Runc, "crun": Crun}


def resolve(name, root, default=None):
    """The runtime for a request's `runtime` field ("" = DOCKYARD_RUNTIME, default runc)."""
    name = name or default or os.environ.get("DOCKYARD_RUNTIME") or DEFAULT_RUNTIME
    base = os.path.basename(name)
    cls = _CLASSES.get(base)
    if cls is None:
        raise errors.InvalidArgument("unknown or invalid runtime name: %s" % name)
    binary = name if os.path.isabs(name) else shutil.which(name, path=os.environ.get("PATH", "") +
                                                           ":/usr/sbin:/usr/bin:/sbin:/bin")
    if not binary or not os.access(binary, os.X_OK):
        raise errors.InvalidArgument("unknown or invalid runtime name: %s" % name)
    return cls(binary, root)

