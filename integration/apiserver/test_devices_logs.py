"""--device / --device-cgroup-rule and the logging options through the real stack (runc applies
the device cgroup, conmon writes the log, shim-runner rotates it)."""

import os
import time

import pytest

import stackutil
from stackutil import cli, run

IMAGE = "dy-it/devlog:latest"
APPLETS = ("sh", "echo", "cat", "ls", "head", "od", "mknod", "seq", "sleep", "true")

pytestmark = stackutil.NEEDS_REAL_STACK
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, APPLETS)   # conftest's `st`


# -- devices ----------------------------------------------------------------------------------

def test_device_is_usable_under_another_name(st):
    r = run(st, "--device", "/dev/null:/dev/mynull", "--device", "/dev/zero:/dev/myzero:r", IMAGE,
            "sh", "-c", "ls -l /dev/mynull && echo x > /dev/mynull && head -c 3 /dev/myzero | od -c")
    assert r.returncode == 0, r.stderr
    assert "1,   3" in r.stdout and "\\0  \\0  \\0" in r.stdout


def test_device_cgroup_allows_only_what_was_asked(st):
    # /dev/loop0 (b 7:0) is in neither Docker's nor runc's default allow-list.
    script = "head -c 1 /dev/myloop; echo read=$?; echo x > /dev/myloop; echo write=$?"
    r = run(st, "--device", "/dev/loop0:/dev/myloop:r", IMAGE, "sh", "-c", script)
    assert "read=0" in r.stdout and "write=1" in r.stdout, r.stdout + r.stderr
    assert "Operation not permitted" in r.stderr
    r = run(st, IMAGE, "sh", "-c", "mknod /dev/l b 7 0; head -c 1 /dev/l; echo read=$?")
    assert "read=1" in r.stdout and "Operation not permitted" in r.stderr
    r = run(st, "--device-cgroup-rule", "b 7:0 r", IMAGE, "sh", "-c",
            "mknod /dev/l b 7 0; head -c 1 /dev/l; echo read=$?")
    assert "read=0" in r.stdout, r.stderr


def test_missing_device_is_refused(st):
    r = run(st, "--device", "/dev/nonexist", IMAGE, "true")
    assert r.returncode != 0
    assert ('error gathering device information while adding custom device "/dev/nonexist": '
            "no such file or directory") in r.stderr


def test_bad_cgroup_rule_through_the_api(st):
    api = st.client.api
    with pytest.raises(Exception) as exc:
        api.create_container(IMAGE, "true", host_config=api.create_host_config(
            device_cgroup_rules=["x 1:3 rwm"]))
    assert "invalid device cgroup rule format: 'x 1:3 rwm'" in str(exc.value)


# -- logging ------------------------------------------------------------------------------------

def test_log_driver_none(st):
    r = cli(st, "run", "--name", "it-none", "--log-driver", "none", IMAGE, "echo", "attached")
    assert r.returncode == 0 and r.stdout == "attached\n", r.stderr
    try:
        r = cli(st, "logs", "it-none")
        assert r.returncode != 0
        assert "configured logging driver does not support reading" in r.stderr
        cid = st.client.api.inspect_container("it-none")["Id"]
        assert st.client.api.inspect_container(cid)["LogPath"] == ""
        assert os.listdir(os.path.dirname(st.layout.container_log(cid))) == []
        resp = st.client.api._get(st.client.api._url("/containers/{0}/logs", cid),
                                  params={"stdout": 1})
        assert resp.status_code == 501
    finally:
        cli(st, "rm", "-f", "it-none")


def test_log_driver_checks(st):
    r = cli(st, "create", "--log-driver", "nope", IMAGE)
    assert 'error looking up logging plugin nope: plugin "nope" not found' in r.stderr
    r = cli(st, "create", "--log-opt", "foo=1", IMAGE)
    assert "unknown log opt 'foo' for json-file log driver" in r.stderr
    r = run(st, "--log-opt", "max-size=abc", IMAGE, "true")
    assert "failed to initialize logging driver: invalid size: 'abc'" in r.stderr
    for driver in ("json-file", "local"):
        r = run(st, "--log-driver", driver, IMAGE, "echo", "hi")
        assert r.returncode == 0 and r.stdout == "hi\n", r.stderr


def test_rotation_keeps_the_newest_lines(st):
    r = cli(st, "run", "--name", "it-rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
            IMAGE, "seq", "1", "3000")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3000, r.stderr
    try:
        cid = st.client.api.inspect_container("it-rot")["Id"]
        logdir = os.path.dirname(st.layout.container_log(cid))
        names = sorted(os.listdir(logdir))
        # dockerd's current file is ctr.log.head (lines after the last cut) + ctr.log
        assert set(names) <= {"ctr.log", "ctr.log.head", "ctr.log.1", "ctr.log.2"}, names
        assert all(os.path.getsize(os.path.join(logdir, n)) <= 1024 for n in names)
        got = [int(x) for x in cli(st, "logs", "it-rot").stdout.split()]
        assert 10 < len(got) < 100 and got == list(range(3001 - len(got), 3001))
        tail = cli(st, "logs", "--tail", "5", "it-rot").stdout.split()
        assert tail == [str(i) for i in range(2996, 3001)]
    finally:
        cli(st, "rm", "-f", "it-rot")


def test_follow_across_rotations(st):
    script = "sleep 1; i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line $i; sleep 0.005; done"
    r = cli(st, "run", "-d", "--name", "it-follow", "--log-opt", "max-size=2k",
            "--log-opt", "max-file=2", IMAGE, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    try:
        got = cli(st, "logs", "-f", "it-follow", timeout=120).stdout.splitlines()
        assert got == ["line %d" % i for i in range(1, 401)]
        since = cli(st, "logs", "--since", str(int(time.time()) - 3600), "it-follow").stdout
        assert since.splitlines()[-1] == "line 400"
    finally:
        cli(st, "rm", "-f", "it-follow")
