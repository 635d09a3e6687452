"""Fixtures for shim-runner integration tests: a TestStack with only the shim, a busybox rootfs,
and helpers to create tasks and attach to them. Needs root, runc and conmon."""

import json
import os
import queue
import threading

import pytest

from dockyard_api.shim.v1 import shim_pb2, shim_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import grpcutil, ids
from dockyard_common.testing.rootfs import make_container_rootfs
from dockyard_common.testing.stack import TestStack

def make_spec(cid, args, env=None, user=None, terminal=False):
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
            "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
            "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"]
    spec = {
        "ociVersion": "1.0.2",
        "process": {"terminal": terminal, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "cwd": "/",
                    "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": cid[:12],
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "cgroupsPath": "/dyt-" + cid[:32],
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if user:
        spec["annotations"] = {"org.dockyard.user": user}
    return json.dumps(spec).encode()


@pytest.fixture(scope="module")
def stack():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    with TestStack(services=["shim"]) as st:
        yield st


@pytest.fixture(scope="module")
def rootfs(stack):
    path = os.path.join(stack.root, "rootfs")
    make_container_rootfs(path)
    return path


class Shim:
    def __init__(self, stack, rootfs):
        self.stack = stack
        self.rootfs = rootfs
        self.created = []

    @property
    def c(self):
        return grpcutil.Client(shim_pb2_grpc.ShimStub, self.stack.layout.grpc_target("shim"))

    def create(self, args, terminal=False, stdin=False, user=None, cid=None, env=None):
        cid = cid or ids.new_id()
        mount = types_pb2.Mount(type="bind", source=self.rootfs, options=["rbind"])
        self.created.append(cid)
        st = self.c.Create(shim_pb2.CreateTaskRequest(
            id=cid, spec_json=make_spec(cid, args, env, user, terminal), rootfs=[mount],
            terminal=terminal, stdin=stdin))
        return cid, st

    def ref(self, cid, exec_id=""):
        return shim_pb2.TaskRef(id=cid, exec_id=exec_id)

    def attach(self, cid, exec_id="", stdin=False, stdout=True, stderr=True):
        return Attached(self.c, cid, exec_id, stdin, stdout, stderr)

    def run(self, args, **kw):
        """create + attach + start + wait: (exit status, [(stream, data)...])."""
        cid, _ = self.create(args, **kw)
        att = self.attach(cid)
        self.c.Start(self.ref(cid))
        out = att.collect(timeout=20)
        st = self.c.Wait(self.ref(cid), timeout=20)
        self.c.Delete(self.ref(cid))
        return st, out

    def cleanup(self):
        for cid in self.created:
            try:
                self.c.Kill(shim_pb2.KillRequest(id=cid, signal=9, all=True))
            except Exception:
                pass
            try:
                self.c.Wait(self.ref(cid), timeout=10)
                self.c.Delete(self.ref(cid))
            except Exception:
                pass


class Attached:
    """A bidi Attach call; output is collected in a thread."""

    def __init__(self, client, cid, exec_id, stdin, stdout, stderr):
        self.inq = queue.Queue()
        self.inq.put(shim_pb2.AttachInput(open=shim_pb2.AttachOpen(
            id=cid, exec_id=exec_id, stdin=stdin, stdout=stdout, stderr=stderr)))
        self.out = []
        self.done = threading.Event()
        self.call = client.Attach(iter(self.inq.get, None))
        self.error = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for msg in self.call:
                self.out.append((msg.stream, msg.data))
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()

    def send(self, data):
        self.inq.put(shim_pb2.AttachInput(data=data))

    def close_stdin(self):
        self.inq.put(shim_pb2.AttachInput(close_stdin=True))

    def collect(self, timeout=20):
        assert self.done.wait(timeout), "attach stream did not end; got %r" % self.out
        self.inq.put(None)
        return self.out

    def text(self, stream=None):
        return b"".join(d for s, d in self.out if stream is None or s == stream)


@pytest.fixture
def shim(stack, rootfs):
    s = Shim(stack, rootfs)
    yield s
    s.cleanup()
