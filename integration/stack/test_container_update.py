"""`docker update` on a real stack: the record and the running container's cgroup change."""

import json

MiB = 1024 * 1024
MEM_LIMIT = ("cat /sys/fs/cgroup/memory.max 2>/dev/null || "
             "cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
PIDS_MAX = "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"
CPU_QUOTA = ("cat /sys/fs/cgroup/cpu.max 2>/dev/null || "
             "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")


def _ok(r):
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def _inspect(docker_cli, name):
    return json.loads(_ok(docker_cli("inspect", name)))[0]


def test_update_running_container(docker_cli):
    name = "dy-update-running"
    _ok(docker_cli("run", "-d", "--name", name, "--memory", "64m", "--pids-limit", "20",
                   "busybox", "sleep", "300"))
    try:
        assert _ok(docker_cli("exec", name, "sh", "-c", MEM_LIMIT)).strip() == str(64 * MiB)
        _ok(docker_cli("update", "--memory", "96m", "--memory-swap", "128m", "--pids-limit", "50",
                       "--cpus", "0.5", "--restart", "on-failure:3", name))
        hc = _inspect(docker_cli, name)["HostConfig"]
        assert hc["Memory"] == 96 * MiB and hc["MemorySwap"] == 128 * MiB
        assert hc["PidsLimit"] == 50 and hc["NanoCpus"] == 500000000
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert _ok(docker_cli("exec", name, "sh", "-c", MEM_LIMIT)).strip() == str(96 * MiB)
        assert _ok(docker_cli("exec", name, "sh", "-c", PIDS_MAX)).strip() == "50"
        quota, period = _ok(docker_cli("exec", name, "sh", "-c", CPU_QUOTA)).split()
        assert int(quota) * 2 == int(period)
        # -1: unlimited again
        _ok(docker_cli("update", "--pids-limit", "-1", name))
        assert _ok(docker_cli("exec", name, "sh", "-c", PIDS_MAX)).strip() == "max"
        # The new limits survive a restart of the container (they are in its spec too).
        _ok(docker_cli("restart", "-t", "0", name))
        assert _ok(docker_cli("exec", name, "sh", "-c", MEM_LIMIT)).strip() == str(96 * MiB)
    finally:
        docker_cli("rm", "-f", name)


def test_update_stopped_container_applies_at_start(docker_cli):
    name = "dy-update-created"
    _ok(docker_cli("create", "--name", name, "busybox", "sleep", "300"))
    try:
        _ok(docker_cli("update", "--memory", "32m", "--memory-swap", "64m", name))
        _ok(docker_cli("start", name))
        assert _ok(docker_cli("exec", name, "sh", "-c", MEM_LIMIT)).strip() == str(32 * MiB)
    finally:
        docker_cli("rm", "-f", name)


def test_update_errors(docker_cli):
    r = docker_cli("update", "--memory", "64m", "dy-no-such-container")
    assert r.returncode != 0 and b"No such container: dy-no-such-container" in r.stderr
    name = "dy-update-errors"
    _ok(docker_cli("run", "-d", "--name", name, "--memory", "64m", "busybox", "sleep", "300"))
    try:
        r = docker_cli("update", "--memory", "4m", name)
        assert r.returncode != 0 and b"Minimum memory limit allowed is 6MB" in r.stderr
        r = docker_cli("update", "--memory", "96m", "--memory-swap", "64m", name)
        assert r.returncode != 0 and b"Minimum memoryswap limit should be larger than memory limit" in r.stderr
        assert _inspect(docker_cli, name)["HostConfig"]["Memory"] == 64 * MiB
    finally:
        docker_cli("rm", "-f", name)
