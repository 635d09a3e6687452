"""`--pid container:`, `--ipc container:|shareable|private|none|host` through the real stack:
the joiner sees the donor's processes and /dev/shm, dockerd's refusals and inspect values."""

import stackutil
from stackutil import cli, ok, run

IMAGE = "dy-it/nsmodes:latest"
APPLETS = ("sh", "ps", "sleep", "true", "cat", "grep", "hostname")
NON_SHAREABLE = ("can't join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable "
                 "for the donor container)")

pytestmark = stackutil.NEEDS_REAL_STACK
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, APPLETS)   # conftest's `st`


def donor(st, name, *opts, cmd="sleep 300"):
    ok(cli(st, "run", "-d", "--name", name, *opts, IMAGE, "sh", "-c", cmd))
    return ok(cli(st, "inspect", "-f", "{{.Id}}", name)).strip()


def inspect(st, ref, field):
    return ok(cli(st, "inspect", "-f", "{{.HostConfig.%s}}" % field, ref)).strip()


def test_pid_join_sees_the_donors_processes(st):
    did = donor(st, "pid-donor")
    try:
        out = ok(run(st, "--pid", "container:pid-donor", IMAGE, "ps", "-o", "comm"))
        assert out.split() == ["COMMAND", "sleep", "ps"]
        # its own namespace otherwise
        assert ok(run(st, IMAGE, "ps", "-o", "comm")).split() == ["COMMAND", "ps"]
        ok(cli(st, "create", "--name", "pid-joiner", "--pid", "container:pid-donor",
               "--network", "container:pid-donor", IMAGE, "true"))
        assert inspect(st, "pid-joiner", "PidMode") == "container:" + did
        assert inspect(st, "pid-joiner", "NetworkMode") == "container:" + did
        assert inspect(st, "pid-donor", "PidMode") == ""
    finally:
        cli(st, "rm", "-f", "pid-donor", "pid-joiner")


def test_pid_join_of_a_stopped_or_missing_donor(st):
    ok(cli(st, "create", "--name", "pid-stopped", IMAGE, "true"))
    try:
        sid = ok(cli(st, "inspect", "-f", "{{.Id}}", "pid-stopped")).strip()
        r = run(st, "--pid", "container:pid-stopped", IMAGE, "true")
        assert r.returncode == 125 and "container %s is not running" % sid in r.stderr
        r = run(st, "--pid", "container:nope", IMAGE, "true")
        assert r.returncode == 125 and "No such container: nope" in r.stderr
    finally:
        cli(st, "rm", "-f", "pid-stopped")


def test_ipc_default_is_private_and_not_joinable(st):
    did = donor(st, "ipc-private")
    try:
        assert inspect(st, "ipc-private", "IpcMode") == "private"
        r = run(st, "--ipc", "container:ipc-private", IMAGE, "true")
        assert r.returncode == 125 and NON_SHAREABLE % did in r.stderr
        ok(cli(st, "create", "--name", "ipc-late", "--ipc", "container:ipc-private", IMAGE, "true"))
        r = cli(st, "start", "ipc-late")
        assert r.returncode != 0 and NON_SHAREABLE % did in r.stderr
        state = ok(cli(st, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ipc-late"))
        assert state.split() == ["created", "128"]
    finally:
        cli(st, "rm", "-f", "ipc-private", "ipc-late")


def test_ipc_none_is_not_joinable_and_has_no_shm(st):
    did = donor(st, "ipc-none", "--ipc", "none")
    try:
        r = run(st, "--ipc", "container:ipc-none", IMAGE, "true")
        assert r.returncode == 125 and NON_SHAREABLE % did in r.stderr
        out = ok(run(st, "--ipc", "none", IMAGE, "sh", "-c",
                     "grep -c ' /dev/shm ' /proc/mounts || true"))
        assert out.strip() == "0"
    finally:
        cli(st, "rm", "-f", "ipc-none")


def test_ipc_shareable_is_joined_with_its_shm(st):
    did = donor(st, "ipc-share", "--ipc", "shareable", "--shm-size", "8m",
                cmd="echo shared > /dev/shm/x; sleep 300")
    try:
        assert inspect(st, "ipc-share", "IpcMode") == "shareable"
        out = ok(run(st, "--ipc", "container:ipc-share", "--pid", "container:ipc-share", IMAGE,
                     "sh", "-c", "cat /dev/shm/x; grep ' /dev/shm ' /proc/mounts; ps -o comm"))
        lines = out.splitlines()
        assert lines[0] == "shared"
        assert "size=8192k" in lines[1]
        assert "sleep" in lines[2:]
        ok(cli(st, "create", "--name", "ipc-joiner", "--ipc", "container:ipc-share", IMAGE, "true"))
        assert inspect(st, "ipc-joiner", "IpcMode") == "container:" + did
    finally:
        cli(st, "rm", "-f", "ipc-share", "ipc-joiner")


def test_ipc_of_a_missing_or_stopped_donor(st):
    r = run(st, "--ipc", "container:nope", IMAGE, "true")
    assert r.returncode == 125 and "No such container: nope" in r.stderr
    ok(cli(st, "create", "--name", "ipc-stopped", "--ipc", "shareable", IMAGE, "true"))
    try:
        sid = ok(cli(st, "inspect", "-f", "{{.Id}}", "ipc-stopped")).strip()
        r = run(st, "--ipc", "container:ipc-stopped", IMAGE, "true")
        assert r.returncode == 125
        assert ("can't join IPC of container %s: container %s is not running" % (sid, sid)
                in r.stderr)
    finally:
        cli(st, "rm", "-f", "ipc-stopped")
