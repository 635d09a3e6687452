"""Docker's default seccomp profile on real containers (runc installs the filter), compared with
what the real 20.10 engine does: `unshare -U` is refused by the profile (unshare is gated on
CAP_SYS_ADMIN) although the kernel lets any process make a user namespace."""

import json

import pytest

import stackutil
from stackutil import cli, ok, run

IMAGE = "dy-it/seccomp:latest"
APPLETS = ("sh", "grep", "unshare", "id", "true", "sleep", "mkdir", "cat", "echo")
BLOCKED = "unshare: unshare(0x10000000): Operation not permitted"

pytestmark = stackutil.NEEDS_REAL_STACK
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, APPLETS)   # conftest's `st`


def status(out):
    return dict(line.split(":\t", 1) for line in out.strip().splitlines())


def test_default_profile_filters_the_container(st):
    out = ok(run(st, IMAGE, "grep", "Seccomp", "/proc/self/status"))
    assert status(out) == {"Seccomp": "2", "Seccomp_filters": "1"}


def test_default_profile_blocks_unshare(st):
    r = run(st, IMAGE, "unshare", "-U", "true")
    assert r.returncode == 1
    assert BLOCKED in r.stderr


def test_unconfined_lets_it_through(st):
    out = ok(run(st, "--security-opt", "seccomp=unconfined", IMAGE, "sh", "-c",
                 "grep Seccomp: /proc/self/status && unshare -r id -u"))
    assert out.split() == ["Seccomp:", "0", "0"]


def test_cap_add_sys_admin_reenables_gated_syscalls(st):
    out = ok(run(st, "--cap-add", "SYS_ADMIN", IMAGE, "sh", "-c",
                 "grep Seccomp: /proc/self/status && unshare -r id -u"))
    assert out.split() == ["Seccomp:", "2", "0"]


def test_exec_processes_are_filtered_too(st):
    c = st.client.containers.run(IMAGE, ["sleep", "60"], detach=True)
    try:
        r = cli(st, "exec", c.id, "grep", "Seccomp", "/proc/self/status")
        assert status(ok(r)) == {"Seccomp": "2", "Seccomp_filters": "1"}
        r = cli(st, "exec", c.id, "unshare", "-U", "true")
        assert r.returncode == 1 and BLOCKED in r.stderr
    finally:
        c.remove(force=True)


def test_custom_profile_from_a_file(st, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}))
    r = run(st, "--security-opt", "seccomp=%s" % profile, IMAGE, "sh", "-c",
            "mkdir /x; grep Seccomp: /proc/self/status; unshare -r id -u")
    assert "mkdir: can't create directory '/x': Permission denied" in r.stderr
    assert r.stdout.split() == ["Seccomp:", "2", "0"]      # the default profile is not there


def test_bad_profile_and_bad_option_are_refused(st):
    api = st.client.api
    for opt, message in (
            ("seccomp={bad", "Decoding seccomp profile failed: invalid character 'b' looking "
                             "for beginning of object key string"),
            ("bogus=1", 'invalid --security-opt 2: "bogus=1"')):
        with pytest.raises(Exception) as exc:
            api.create_container(IMAGE, "true", host_config=api.create_host_config(
                security_opt=[opt]))
        assert exc.value.response.status_code == 400     # dockerd: 500; bad input is a 4xx here
        assert message in str(exc.value)
