"""`docker ps --filter publish=/expose=` through the real stack, as Docker 20.10 answers: the
ports of the PORTS column (running containers only), public port for publish, private port for
expose; bad values carry Docker's messages (as 400s)."""

import os
import shutil

import pytest

from dockyard_common.testing import free_port

from stackutil import IMAGE, cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]


def ps(st, *filters):
    args = ["ps", "-a", "--format", "{{.Names}}"]
    for f in filters:
        args += ["--filter", f]
    return sorted(ok(cli(st, *args)).split())


def test_publish_and_expose_filters(st):
    p1, p2 = free_port(), free_port()
    ok(cli(st, "run", "-d", "--name", "pf-a", "-p", "127.0.0.1:%d:8080" % p1, IMAGE, "sleep", "300"))
    ok(cli(st, "run", "-d", "--name", "pf-u", "-p", "127.0.0.1:%d:53/udp" % p2, "--expose", "9000",
           IMAGE, "sleep", "300"))
    ok(cli(st, "create", "--name", "pf-c", "--expose", "7000", IMAGE, "sleep", "300"))
    try:
        assert ps(st, "publish=%d" % p1) == ["pf-a"]
        assert ps(st, "publish=%d/tcp" % p1) == ["pf-a"]
        assert ps(st, "publish=8080") == []                     # the container port is not it
        assert ps(st, "publish=%d" % p2) == []                  # tcp by default
        assert ps(st, "publish=%d/udp" % p2) == ["pf-u"]
        lo, hi = min(p1, p2), max(p1, p2)
        assert ps(st, "publish=%d-%d" % (lo, hi)) == ["pf-a"]
        assert ps(st, "expose=80") == ["pf-a", "pf-u"]          # the image's EXPOSE 80
        assert ps(st, "expose=8080") == ["pf-a"]
        assert ps(st, "expose=8999-9001/tcp") == ["pf-u"]
        assert ps(st, "expose=53/udp") == ["pf-u"]
        assert ps(st, "expose=7000") == []                      # not running: no ports
        assert ps(st, "publish=8080", "expose=9000") == ["pf-u"]  # either one matches
        r = cli(st, "ps", "--filter", "publish=80:80")
        assert r.returncode != 0 and "filter for 'publish' should not contain ':': 80:80" in r.stderr
        r = cli(st, "ps", "--filter", "expose=90-80")
        assert r.returncode != 0 and "Invalid range specified for the Port: 90-80" in r.stderr
        ok(cli(st, "stop", "-t", "0", "pf-a"))
        assert ps(st, "publish=%d" % p1) == [] and ps(st, "expose=8080") == []
    finally:
        ok(cli(st, "rm", "-f", "pf-a", "pf-u", "pf-c"))
