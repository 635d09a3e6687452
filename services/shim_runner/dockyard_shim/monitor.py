"""The per-process monitor behind a small interface: conmon in production, a fake in unit tests.

A monitor runs the runtime's create (or exec), holds the process's stdio or pty, writes the
k8s-file log and the exit file, serves the attach socket and the ctl/winsz fifos, all in the
process directory (the bundle for a container's init, <bundle>/execs/<exec_id> for an exec).
conmon double-forks and calls setsid, so it outlives shim-runner; we find it again through
`monitor.pid` and watch it with a pidfd.
"""

import json
import logging
import os
import select
import signal
import subprocess
import threading
from dataclasses import dataclass

from .runtime import OCIRuntime, RuntimeError_

log = logging.getLogger(__name__)

CONMON = "/usr/bin/conmon"
MONITOR_PID = "monitor.pid"
INIT_PID = "init.pid"
EXIT_FILE = "exit"
OOM_FILE = "oom"


@dataclass
class ProcessSpec:
    cid: str                 # the container id (runtime name)
    key: str                 # the monitor's uuid: cid for init, exec_id for an exec
    dir: str                 # where the monitor keeps its files
    runtime: OCIRuntime
    terminal: bool = False
    stdin: bool = False
    log_path: str = ""       # k8s-file path; "" = no log (execs, --log-driver none)
    log_size_max: int = -1   # conmon drops the full log past this size (Docker's max-file=1)
    exec_spec: str = ""      # process.json path for an exec


# -- files every monitor leaves in its directory ------------------------------------------

def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def read_exit(pdir):
    """(exit status, exited_at unix ns) from the monitor's exit file, or None before exit."""
    path = os.path.join(pdir, EXIT_FILE)
    try:
        st = os.stat(path)
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        status = int(text)
    except ValueError:
        status = 255
    return (255 if status < 0 else status), st.st_mtime_ns


def oom_killed(pdir):
    return os.path.exists(os.path.join(pdir, OOM_FILE))


def connect_attach(pdir):
    """Connect to the monitor's attach socket (SOCK_SEQPACKET) whatever the path length."""
    import socket
    dfd = os.open(pdir, os.O_PATH | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        # /proc/self/fd/N/attach keeps the address short whatever the bundle path is.
        sock.connect("/proc/self/fd/%d/attach" % dfd)
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dfd)
    return sock


def write_resize(pdir, height, width):
    """conmon's ctl fifo: "1 <height> <width>" is a window resize (works before start too)."""
    path = os.path.join(pdir, "ctl")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise RuntimeError_("cannot resize: %s" % exc.strerror) from None
    try:
        os.write(fd, b"1 %d %d\n" % (height, width))
    finally:
        os.close(fd)


def request_log_reopen(pdir):
    """conmon's ctl fifo: "2" makes it reopen the log path (log rotation). OSError ENXIO when
    no monitor reads the fifo any more."""
    fd = os.open(os.path.join(pdir, "ctl"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, b"2 0 0\n")
    finally:
        os.close(fd)


# -- watching monitors exit ------------------------------------------------------------------

class PidfdWatcher:
    """One thread waits on the pidfds of every monitor (epoll) and runs a callback per exit."""

    def __init__(self):
        self._ep = select.epoll()
        self._cbs = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="exit-watcher", daemon=True)
        self._thread.start()

    def watch(self, pid, callback):
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            threading.Thread(target=self._call, args=(callback,), daemon=True).start()
            return
        with self._lock:
            self._cbs[fd] = callback
        self._ep.register(fd, select.EPOLLIN)

    def _run(self):
        while True:
            try:
                events = self._ep.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                with self._lock:
                    cb = self._cbs.pop(fd, None)
                try:
                    self._ep.unregister(fd)
                except OSError:
                    pass
                os.close(fd)
                if cb:
                    self._call(cb)

    @staticmethod
    def _call(cb):
        try:
            cb()
        except Exception:
            log.exception("exit callback failed")


# -- the monitor interface ---------------------------------------------------------------------

class Monitor:
    """What shim-runner needs from a monitor implementation."""

    def create(self, spec):
        """Run the runtime's create under a new monitor: (monitor pid, container pid).
        Raises RuntimeError_ with the runtime's message when create fails."""
        raise NotImplementedError

    def prepare_exec(self, spec):
        """Start a monitor for an exec that waits (attach socket ready) until .start() is called."""
        raise NotImplementedError

    def watch(self, monitor_pid, callback):
        raise NotImplementedError

    def alive(self, monitor_pid):
        raise NotImplementedError

    def kill(self, monitor_pid):
        raise NotImplementedError


def _read_json_line(fd, timeout):
    """Read one JSON message from a conmon sync/attach pipe; None on EOF."""
    buf = b""
    while b"\n" not in buf:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise RuntimeError_("timed out waiting for the monitor")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    line = buf.split(b"\n", 1)[0].strip()
    if not line:
        return None
    try:
        return json.loads(line)
    except ValueError:
        raise RuntimeError_("bad message from the monitor: %r" % line[:200]) from None


def _sync_result(msg, pdir):
    if msg is None:
        err = ""
        try:
            with open(os.path.join(pdir, "monitor.err"), errors="replace") as f:
                err = f.read().strip()[-500:]
        except OSError:
            pass
        raise RuntimeError_("the monitor exited before reporting: %s" % (err or "no message"))
    pid = msg.get("data", msg.get("pid", -1))
    if pid is None or pid <= 0:
        from .runtime import error_message
        raise RuntimeError_(error_message(msg.get("message", "")) or "runtime failed")
    return pid


def _reap(proc, timeout=30):
    """Reap the first conmon (it exits right after forking the monitor daemon)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PendingExec:
    """A conmon in exec mode, stopped before `runtime exec` until start()."""

    def __init__(self, monitor_pid, start_w, sync_r, pdir):
        self.monitor_pid = monitor_pid
        self._start_w = start_w
        self._sync_r = sync_r
        self._dir = pdir

    def start(self, timeout=60):
        try:
            os.write(self._start_w, b"0")
            os.close(self._start_w)
            self._start_w = -1
            return _sync_result(_read_json_line(self._sync_r, timeout), self._dir)
        finally:
            self.close()

    def close(self):
        for fd in (self._start_w, self._sync_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._start_w = self._sync_r = -1


class ConmonMonitor(Monitor):
    def __init__(self, binary=CONMON, watcher=None, log_level="error"):
        self.binary = binary
        self.log_level = log_level
        self.watcher = watcher or PidfdWatcher()

    def _args(self, spec):
        d = spec.dir
        args = [self.binary, "--api-version", "1", "-c", spec.cid, "-u", spec.key,
                "-r", spec.runtime.binary, "-b", d, "-p", os.path.join(d, INIT_PID),
                "-n", spec.cid, "--exit-dir", os.path.join(d, "exits"), "--persist-dir", d,
                "--full-attach", "--log-level", self.log_level,
                "--conmon-pidfile", os.path.join(d, MONITOR_PID)]
        args += ["-l", ("k8s-file:" + spec.log_path) if spec.log_path else "none:"]
        if spec.log_path and spec.log_size_max > 0:
            args += ["--log-size-max", str(spec.log_size_max)]
        for ra in spec.runtime.global_args():
            args += ["--runtime-arg", ra]
        if spec.terminal:
            args.append("-t")
        if spec.stdin:
            args.append("-i")
        if spec.exec_spec:
            args += ["-e", "--exec-process-spec", spec.exec_spec, "--exec-attach"]
        return args

    def _spawn(self, spec, env_fds):
        os.makedirs(os.path.join(spec.dir, "exits"), exist_ok=True)
        env = dict(os.environ)
        env.update({name: str(fd) for name, fd in env_fds.items()})
        with open(os.path.join(spec.dir, "monitor.err"), "wb") as err:
            proc = subprocess.Popen(self._args(spec), env=env, pass_fds=tuple(env_fds.values()),
                                    start_new_session=True, cwd=spec.dir,
                                    stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        return proc

    def create(self, spec, timeout=120):
        sync_r, sync_w = os.pipe()
        try:
            proc = self._spawn(spec, {"_OCI_SYNCPIPE": sync_w})
            os.close(sync_w)
            sync_w = -1
            # Block on the pipe, not on Popen.wait(timeout), which polls with growing sleeps.
            # The first conmon exits once it has forked the daemon, so the pipe reports after
            # (or the pipe reaches EOF when it failed early); then the reap does not block.
            try:
                pid = _sync_result(_read_json_line(sync_r, timeout), spec.dir)
            finally:
                _reap(proc)
        finally:
            os.close(sync_r)
            if sync_w >= 0:
                os.close(sync_w)
        return read_int(os.path.join(spec.dir, MONITOR_PID)), pid

    def prepare_exec(self, spec, timeout=30):
        sync_r, sync_w = os.pipe()
        start_r, start_w = os.pipe()
        attach_r, attach_w = os.pipe()
        ok = False
        try:
            proc = self._spawn(spec, {"_OCI_SYNCPIPE": sync_w, "_OCI_STARTPIPE": start_r,
                                      "_OCI_ATTACHPIPE": attach_w})
            for fd in (sync_w, start_r, attach_w):
                os.close(fd)
            os.write(start_w, b"0")     # first message: fork and set up the attach socket
            try:
                msg = _read_json_line(attach_r, timeout)
                if msg is None:
                    _sync_result(_read_json_line(sync_r, 1), spec.dir)
            finally:
                _reap(proc)
            ok = True
            return PendingExec(read_int(os.path.join(spec.dir, MONITOR_PID)), start_w, sync_r, spec.dir)
        finally:
            os.close(attach_r)
            if not ok:
                os.close(start_w)
                os.close(sync_r)

    def watch(self, monitor_pid, callback):
        self.watcher.watch(monitor_pid, callback)

    def alive(self, monitor_pid):
        if monitor_pid <= 0:
            return False
        try:
            with open("/proc/%d/comm" % monitor_pid) as f:
                comm = f.read().strip()
            with open("/proc/%d/stat" % monitor_pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return comm == "conmon" and state != "Z"

    def kill(self, monitor_pid):
        if self.alive(monitor_pid):
            try:
                os.kill(monitor_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class FakeMonitor(Monitor):
    """Unit-test monitor: no processes; tests call exit() to simulate the process ending."""

    def __init__(self):
        self.next_pid = 1000
        self.fail_create = None
        self.callbacks = {}
        self.dirs = {}
        self.running = set()

    def _new(self, spec):
        os.makedirs(spec.dir, exist_ok=True)
        self.next_pid += 2
        mpid = self.next_pid
        with open(os.path.join(spec.dir, MONITOR_PID), "w") as f:
            f.write(str(mpid))
        self.dirs[spec.key] = (mpid, spec.dir)
        self.running.add(mpid)
        return mpid

    def create(self, spec):
        if self.fail_create:
            raise RuntimeError_(self.fail_create)
        mpid = self._new(spec)
        return mpid, mpid + 1

    def prepare_exec(self, spec):
        mpid = self._new(spec)
        fake = self

        class _Pending:
            monitor_pid = mpid

            def start(self):
                return mpid + 1

            def close(self):
                fake.exit(spec.key, 137)
        return _Pending()

    def watch(self, monitor_pid, callback):
        if monitor_pid not in self.running:
            callback()
        else:
            self.callbacks[monitor_pid] = callback

    def alive(self, monitor_pid):
        return monitor_pid in self.running

    def kill(self, monitor_pid):
        for key, (mpid, _) in self.dirs.items():
            if mpid == monitor_pid and mpid in self.running:
                self.exit(key, 137)

    def exit(self, key, status, oom=False):
        mpid, pdir = self.dirs[key]
        if oom:
            open(os.path.join(pdir, OOM_FILE), "w").close()
        with open(os.path.join(pdir, EXIT_FILE), "w") as f:
            f.write(str(status))
        self.running.discard(mpid)
        cb = self.callbacks.pop(mpid, None)
        if cb:
            cb()
