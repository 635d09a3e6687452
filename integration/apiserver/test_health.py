"""Health checks through the real stack: probes are real execs in the container; State.Health,
`docker ps` status and filters, events, timeouts, stop/start, and restarts of the apiserver and
container-service. Short intervals, generous waits: every wait polls for a state."""

import os
import shutil
import time

import docker
import pytest

from dockyard_common.testing.rootfs import make_rootfs

import stackutil
from stackutil import cli

IMAGE = "dy-it/health:latest"
MS = 1_000_000

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]


@pytest.fixture(scope="module")
def hs(tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), ("tmp", "proc", "sys", "dev"),
                       commands=("sh", "echo", "sleep", "true", "false", "test", "cat", "id", "pwd", "rm"))
    stack = stackutil.start(tmp_path_factory, IMAGE, root, changes=['CMD ["sleep", "300"]'])
    yield stack
    stackutil.stop(stack)


def run(hs, name, test, interval=200 * MS, **hc):
    healthcheck = dict(test=test, interval=interval, **hc)
    return hs.client.containers.run(IMAGE, name=name, detach=True, healthcheck=healthcheck)


def health(hs, name):
    return hs.client.api.inspect_container(name)["State"].get("Health")


def wait_for(fn, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in %ss" % timeout)
        time.sleep(step)


def reachable_health(hs, name):
    """State.Health once the apiserver's channel to a restarted service is back (503 before)."""
    try:
        return health(hs, name)
    except docker.errors.APIError as exc:
        if exc.status_code != 503:
            raise
        return None


def wait_status(hs, name, status, timeout=30):
    return wait_for(lambda: (h := health(hs, name)) and h["Status"] == status and h, timeout)


def ps_status(hs, name):
    return hs.client.api.containers(all=True, filters={"name": "^/%s$" % name})[0]["Status"]


def test_healthy_probe_is_a_real_exec(hs):
    run(hs, "hc-ok", ["CMD-SHELL", "echo ok; id -u; pwd"])
    h = wait_status(hs, "hc-ok", "healthy")
    entry = h["Log"][-1]
    assert entry["ExitCode"] == 0 and entry["Output"] == "ok\n0\n/\n"
    assert set(entry) == {"Start", "End", "ExitCode", "Output"} and h["FailingStreak"] == 0
    assert ps_status(hs, "hc-ok").endswith("(healthy)")
    # Probes leave no exec behind (as Docker) and emit Docker's events.
    assert not hs.client.api.inspect_container("hc-ok")["ExecIDs"]
    events = hs.client.api.events(since=int(time.time()) - 60, until=int(time.time()) + 1,
                                  filters={"container": "hc-ok"}, decode=True)
    actions = [e["Action"] for e in events]
    assert "health_status: healthy" in actions
    assert actions.count("health_status: healthy") == 1          # only on changes
    assert "exec_create: /bin/sh -c echo ok; id -u; pwd" in actions
    assert "exec_start: /bin/sh -c echo ok; id -u; pwd" in actions and "exec_die" in actions


def test_starting_then_unhealthy_with_streak_and_log_of_five(hs):
    run(hs, "hc-bad", ["CMD", "sh", "-c", "echo nope >&2; exit 3"], retries=2)
    assert health(hs, "hc-bad")["Status"] == "starting"   # right after start, before any probe
    assert ps_status(hs, "hc-bad").endswith("(health: starting)")
    h = wait_status(hs, "hc-bad", "unhealthy")
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 3
    assert h["Log"][-1]["Output"] == "nope\n"
    h = wait_for(lambda: len(health(hs, "hc-bad")["Log"]) == 5 and
                 health(hs, "hc-bad")["FailingStreak"] >= 6 and health(hs, "hc-bad"))
    assert len(h["Log"]) == 5
    assert ps_status(hs, "hc-bad").endswith("(unhealthy)")


def test_start_period_hides_failures(hs):
    run(hs, "hc-sp", ["CMD", "false"], start_period=60_000 * MS, retries=1)
    wait_for(lambda: len(health(hs, "hc-sp")["Log"]) >= 3)
    h = health(hs, "hc-sp")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0


def test_timeout_kills_the_probe(hs):
    run(hs, "hc-slow", ["CMD", "sleep", "77"], timeout=300 * MS, retries=1)
    h = wait_status(hs, "hc-slow", "unhealthy")
    entry = h["Log"][0]
    assert entry["ExitCode"] == -1 and entry["Output"] == "Health check exceeded timeout (300ms)"
    hs.client.api.stop("hc-slow", timeout=0)       # the probe loop ends with the container
    # Every probe was killed at its timeout: no `sleep 77` was left running in the container.
    hs.client.api.start("hc-slow")
    time.sleep(1.0)
    procs = hs.client.api.top("hc-slow")["Processes"]
    assert sum("77" in " ".join(p) for p in procs) <= 1  # at most the probe running right now


def test_ps_health_filter(hs):
    hs.client.containers.run(IMAGE, name="hc-none", detach=True)
    run(hs, "hc-f-ok", ["CMD", "true"])
    run(hs, "hc-f-bad", ["CMD", "false"], retries=1)
    wait_status(hs, "hc-f-ok", "healthy")
    wait_status(hs, "hc-f-bad", "unhealthy")

    def names(value):
        return {c["Names"][0][1:] for c in hs.client.api.containers(filters={"health": value})}
    assert "hc-f-ok" in names("healthy") and "hc-f-ok" not in names("unhealthy")
    assert "hc-f-bad" in names("unhealthy") and "hc-f-bad" not in names("healthy")
    assert "hc-none" in names("none") and "hc-f-ok" not in names("none")
    with pytest.raises(docker.errors.APIError) as exc:
        hs.client.api.containers(filters={"health": "bogus"})
    assert exc.value.status_code == 400
    assert "Unrecognised filter value for health: bogus" in str(exc.value)


def test_stop_makes_unhealthy_and_start_resets_to_starting(hs):
    run(hs, "hc-cycle", ["CMD", "true"], interval=300 * MS)
    wait_status(hs, "hc-cycle", "healthy")
    hs.client.api.stop("hc-cycle", timeout=0)
    h = health(hs, "hc-cycle")
    assert h["Status"] == "unhealthy" and h["FailingStreak"] == 0 and h["Log"]
    hs.client.api.start("hc-cycle")
    h = health(hs, "hc-cycle")
    assert h["Status"] == "starting" and h["Log"]    # the log of the last run is kept
    wait_status(hs, "hc-cycle", "healthy")


def test_cli_flags_none_and_validation(hs):
    r = cli(hs, "run", "-d", "--name", "hc-cli", "--health-cmd", "test -e /tmp", "--health-interval",
            "200ms", IMAGE)
    assert r.returncode == 0, r.stderr
    wait_status(hs, "hc-cli", "healthy")
    assert cli(hs, "run", "-d", "--name", "hc-off", "--no-healthcheck", IMAGE).returncode == 0
    assert health(hs, "hc-off") is None
    with pytest.raises(docker.errors.APIError) as exc:
        hs.client.api.create_container(IMAGE, healthcheck={"test": ["CMD", "true"], "interval": 500})
    assert exc.value.status_code == 400
    assert "Interval in Healthcheck cannot be less than 1ms" in str(exc.value)
    with pytest.raises(docker.errors.APIError) as exc:
        hs.client.api.create_container(IMAGE, healthcheck={"test": ["CMD", "true"], "retries": -1})
    assert "Retries in Healthcheck cannot be negative" in str(exc.value)


def test_state_survives_restarts_and_probes_resume(hs):
    run(hs, "hc-restart", ["CMD", "test", "!", "-e", "/tmp/broken"], retries=1)
    before = wait_status(hs, "hc-restart", "healthy")

    hs.stop_service("apiserver")
    hs.start_service("apiserver")
    after = health(hs, "hc-restart")
    assert after["Status"] == "healthy"
    assert after["Log"][0]["Start"] >= before["Log"][0]["Start"]
    # The prober resumed: a change inside the container is seen by the next probes.
    cli(hs, "exec", "hc-restart", "sh", "-c", "echo > /tmp/broken")
    wait_status(hs, "hc-restart", "unhealthy")

    hs.stop_service("container")
    hs.start_service("container")
    assert wait_for(lambda: reachable_health(hs, "hc-restart"))["Status"] == "unhealthy"
    # ... and it keeps probing through a restart of container-service.
    cli(hs, "exec", "hc-restart", "rm", "/tmp/broken")
    wait_status(hs, "hc-restart", "healthy")
