"""Restart policies across a restart of the whole stack (dockerd's restore()): a container with
--restart always that exited while the stack was down is started again; one the user stopped
stays stopped."""

import json
import time

from dockyard_common.testing.stack import ORDER


def state(docker_cli, name):
    out = docker_cli("inspect", name)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)[0]
    return doc["State"]["Status"], doc["RestartCount"]


def test_restart_policies_apply_after_the_stack_restarts(stack, docker_cli):
    assert docker_cli("run", "-d", "--restart", "always", "--name", "rp-exits", "busybox",
                      "sh", "-c", "sleep 2; exit 1").returncode == 0
    assert docker_cli("run", "-d", "--restart", "always", "--name", "rp-stopped", "busybox",
                      "sleep", "300").returncode == 0
    assert docker_cli("stop", "-t", "1", "rp-stopped").returncode == 0
    try:
        for name in reversed(ORDER):
            stack.stop_service(name)
        time.sleep(3)  # rp-exits exits while nothing of the stack runs
        for name in ORDER:
            stack.start_service(name)
        deadline = time.monotonic() + 15
        while state(docker_cli, "rp-exits")[1] < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state(docker_cli, "rp-exits")[1] >= 1  # restarted by its policy
        assert state(docker_cli, "rp-stopped") == ("exited", 0)
    finally:
        docker_cli("rm", "-f", "rp-exits", "rp-stopped")
