"""Start dockyard services as real processes on a private temporary root (integration tests).

Each test stack gets its own DATA and STATE roots (short paths under /tmp, since unix socket
paths are limited to 108 bytes), its own netns directory, bridge name and subnet, so it never
clashes with a stack that is already running.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

from .. import grpcutil, mounts
from ..paths import Layout

# Entry point module of each service (python -m <module> runs it).
SERVICE_MODULES = {
    "image": "dockyard_images",
    "volume": "dockyard_volumes",
    "network": "dockyard_networks",
    "shim": "dockyard_shim",
    "container": "dockyard_containers",
    "apiserver": "dockyard_apiserver",
}
# Start order: leaves first (as supervisord does).
ORDER = ("image", "volume", "network", "shim", "container", "apiserver")


class TestStack:
    """A set of running services on a temporary root. Use as a context manager."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, services=ORDER, extra_env=None):
        self.root = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
        tag = os.path.basename(self.root)[3:9].lower()
        self.tag = "".join(c for c in tag if c.isalnum()) or "t"
        self.layout = Layout(os.path.join(self.root, "d"), os.path.join(self.root, "s"))
        self.env = dict(os.environ)
        self.env.update({
            "DOCKYARD_DATA_ROOT": self.layout.data_root,
            "DOCKYARD_STATE_ROOT": self.layout.state_root,
            "DOCKYARD_NETNS_DIR": os.path.join(self.root, "netns"),
            "DOCKYARD_BRIDGE_NAME": "dyt" + self.tag[:6],
            "DOCKYARD_BRIDGE_SUBNET": "10.%d.%d.0/24" % (200 + (hash(self.tag) % 40),
                                                           hash(self.tag[::-1]) % 250),
            "DOCKYARD_NETWORK_POOL": "10.%d.0.0/16" % (240 + hash(self.tag) % 10),
            "DOCKYARD_IPTABLES_CHAIN_PREFIX": "DYT" + self.tag[:6].upper(),
            "DOCKYARD_LOG_LEVEL": "debug",
            # As services/supervisord.conf: fewer glibc malloc arenas (less memory per thread).
            "MALLOC_ARENA_MAX": "2",
        })
        self.env.update(extra_env or {})
        self.services = list(services)
        self.procs = {}

    @property
    def docker_host(self):
        return "unix://" + self.layout.docker_socket

    def start_service(self, name):
        log = open(os.path.join(self.root, name + ".log"), "ab")
        proc = subprocess.Popen([sys.executable, "-m", SERVICE_MODULES[name]], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        if name == "apiserver":
            _wait_for_socket(self.layout.docker_socket, proc, self.log_text(name))
        else:
            try:
                grpcutil.wait_serving(self.layout.grpc_target(name), timeout=30)
            except Exception:
                raise RuntimeError("%s did not become ready:\n%s" % (name, self.log_text(name)()))
        return proc

    def stop_service(self, name, sig=signal.SIGTERM):
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_text(self, name):
        path = os.path.join(self.root, name + ".log")
        return lambda: open(path, errors="replace").read()[-5000:] if os.path.exists(path) else ""

    def __enter__(self):
        try:
            for name in self.services:
                self.start_service(name)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for name in reversed(list(self.procs)):
            self.stop_service(name)
        cleanup_root(self.root, self.env)


def teardown_network(env):
    """Remove the netns files, veths, bridges and iptables chains this stack's network-service made
    (it never tears them down itself: containers outlive a restart of the service)."""
    subprocess.run([sys.executable, "-m", "dockyard_networks.teardown"], env=env,
                   capture_output=True, timeout=60)


def _wait_for_socket(path, proc, log_text, timeout=30.0):
    import socket
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("service exited early:\n%s" % log_text())
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise RuntimeError("%s never accepted connections:\n%s" % (path, log_text()))


def cleanup_root(root, env=None):
    """Remove everything a test stack left under its root: monitors, runc state, mounts, files."""
    # Monitors and containers started from this root.
    for line in subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()[1:]:
        pid, _, args = line.strip().partition(" ")
        if root in args and ("conmon" in args or "runc" in args):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    if env is not None:
        teardown_network(env)
    runc_root = os.path.join(root, "s", "runc")
    if os.path.isdir(runc_root):
        for cid in os.listdir(runc_root):
            subprocess.run(["runc", "--root", runc_root, "delete", "--force", cid],
                           capture_output=True)
    for mp in mounts.mounts_below(root):      # deepest first
        try:
            mounts.unmount(mp, detach=True)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)
