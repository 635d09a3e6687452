"""Live restore (ARCHITECTURE.md section 6): containers outlive every dockyard service.

One stack for the module. Each test kills one service with SIGKILL and starts it again, as
supervisord would, while a counter logs ten lines a second, a sleeper sleeps, `docker logs -f`
and `docker attach` follow the counter, and one container exits with code 7 while the service is
down. Afterwards every container still runs with the same pid, no log line is lost, ps, inspect,
logs, logs -f, attach and exec work, and the exited container reports 7. The last test stops the
whole stack (SIGTERM) and starts it again.
"""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from dockyard_common.testing.stack import ORDER, TestStack

COUNTER = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done"
EXIT_AFTER = 2.0          # seconds the exiting container lives


@pytest.fixture(scope="module")
def lr(images_dir, tmp_path_factory):
    with TestStack() as s:
        s.cli_env = dict(os.environ, DOCKER_HOST=s.docker_host,
                         DOCKER_CONFIG=str(tmp_path_factory.mktemp("docker-config-lr")))
        h = Harness(s)
        h.ok("load", "-i", str(images_dir / "busybox.tar"), timeout=120)
        h.ok("run", "-d", "--name", "lr-counter", "busybox", "sh", "-c", COUNTER)
        h.ok("run", "-d", "--name", "lr-sleeper", "busybox", "sleep", "3600")
        h.pids = {n: h.inspect(n)["State"]["Pid"] for n in ("lr-counter", "lr-sleeper")}
        yield h
        h.close_followers()
        for name in ("lr-counter", "lr-sleeper"):
            h.docker("rm", "-f", name)


class Follower:
    """A `docker logs -f` or `docker attach` of the counter, read in a thread."""

    def __init__(self, h, *args):
        self.proc = subprocess.Popen(["docker", *args], env=h.stack.cli_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def numbers(self):
        return [int(x) for x in self.lines if x.strip().isdigit()]

    def grows(self, timeout=5.0):
        """Output keeps coming (at least 3 new lines)."""
        start = len(self.lines)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.lines) >= start + 3:
                return True
            time.sleep(0.1)
        return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._t.join(5)


class Harness:
    def __init__(self, stack):
        self.stack = stack
        self.followers = []

    def docker(self, *args, timeout=60):
        return subprocess.run(["docker", *args], env=self.stack.cli_env, capture_output=True,
                              timeout=timeout)

    def ok(self, *args, timeout=60):
        r = self.docker(*args, timeout=timeout)
        assert r.returncode == 0, "docker %s: %s" % (" ".join(args), r.stderr.decode())
        return r.stdout.decode()

    def retry_ok(self, *args, timeout=20.0):
        """The first calls after a restart may race the service's own restore."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.docker(*args)
            if r.returncode == 0 or time.monotonic() > deadline:
                assert r.returncode == 0, "docker %s: %s" % (" ".join(args), r.stderr.decode())
                return r.stdout.decode()
            time.sleep(0.2)

    def inspect(self, name):
        return json.loads(self.retry_ok("inspect", name))[0]

    def follow(self):
        self.followers = [Follower(self, "logs", "-f", "--tail", "0", "lr-counter"),
                          Follower(self, "attach", "--no-stdin", "--sig-proxy=false", "lr-counter")]
        for f in self.followers:
            assert f.grows(), "no output from docker %s" % " ".join(f.proc.args[1:])

    def close_followers(self):
        for f in self.followers:
            f.close()
        self.followers = []

    # -------------------------------------------------------------- one restart
    def restart(self, services, sig):
        """Start an exiting container and follow the counter, stop `services` with `sig`,
        let the container exit while they are down, start them again (leaves first)."""
        self.ok("rm", "-f", "lr-exit7")
        self.ok("run", "-d", "--name", "lr-exit7", "busybox", "sh", "-c", "sleep %s; exit 7" % EXIT_AFTER)
        self.follow()
        started = time.monotonic()
        for name in reversed(services):
            self.stack.stop_service(name, sig)
        time.sleep(max(0.0, EXIT_AFTER + 0.8 - (time.monotonic() - started)))
        for name in services:
            self.stack.start_service(name)

    def check(self, apiserver_restarted):
        # The very first request after the restart works at once: clients wait for a service
        # that is coming back instead of failing (their channels may be in reconnect backoff).
        assert self.ok("exec", "lr-sleeper", "echo", "first") == "first\n"
        for name, pid in self.pids.items():
            state = self.inspect(name)["State"]
            assert state["Running"] and state["Status"] == "running", (name, state)
            assert state["Pid"] == pid, (name, state["Pid"], pid)
            assert os.path.exists("/proc/%d" % pid)
        # The exit that happened while the service was down, with its real code (a restarted
        # container-service learns it from the shim-runner within a moment).
        deadline = time.monotonic() + 10
        while True:
            state = self.inspect("lr-exit7")["State"]
            if state["Status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert state["Status"] == "exited" and state["ExitCode"] == 7, state
        assert self.retry_ok("wait", "lr-exit7").strip() == "7"
        running = self.retry_ok("ps", "--format", "{{.Names}}").split()
        assert {"lr-counter", "lr-sleeper"} <= set(running) and "lr-exit7" not in running
        # exec
        assert self.retry_ok("exec", "lr-sleeper", "echo", "exec-ok") == "exec-ok\n"
        # Followers opened before the restart: still going, unless the apiserver went away.
        if not apiserver_restarted:
            for f in self.followers:
                assert f.proc.poll() is None and f.grows(), "docker %s stopped\n%s" % (
                    " ".join(f.proc.args[1:]), self.logs_of("apiserver", "shim"))
        self.close_followers()
        # New followers work.
        self.follow()
        self.close_followers()
        # No log line lost: the counter's log has no gap and keeps growing.
        first = self._numbers()
        assert first == list(range(len(first))), "gap in the log"
        time.sleep(0.5)
        assert len(self._numbers()) > len(first)

    def logs_of(self, *services):
        """The end of the services' logs, for a failure's message."""
        return "\n".join("--- %s log:\n%s" % (name, self.stack.log_text(name)()[-3000:])
                         for name in services)

    def _numbers(self):
        out = self.retry_ok("logs", "lr-counter")
        return [int(x) for x in out.split()]


@pytest.mark.parametrize("service", ["apiserver", "container", "shim", "image", "network", "volume"])
def test_kill_one_service(lr, service):
    lr.restart([service], signal.SIGKILL)
    lr.check(apiserver_restarted=service == "apiserver")


def test_restart_whole_stack(lr):
    lr.restart(list(ORDER), signal.SIGTERM)
    lr.check(apiserver_restarted=True)
