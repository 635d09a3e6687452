"""`docker run --link` through the real stack, checked against Docker 20.10: the hosts line and
<ALIAS>_* variables on the default bridge (rewritten when the target comes back with a new
address), the errors, and the per-container DNS alias on a user-defined network."""

import pytest

from stackutil import IMAGE, NEEDS_REAL_STACK, cli, ok

pytestmark = NEEDS_REAL_STACK


@pytest.fixture
def target(st):
    ok(cli(st, "run", "-d", "--name", "lk-t", "-e", "SECRET=1", "--expose", "53/udp", IMAGE,
           "sleep", "300"))
    yield "lk-t"
    cli(st, "rm", "-f", "lk-t", "lk-p", "lk-fill", "lk-u", "lk-q", "lk-o")
    cli(st, "network", "rm", "lknet")


def ip_of(st, name, network="bridge"):
    return ok(cli(st, "inspect", "-f", "{{.NetworkSettings.Networks.%s.IPAddress}}" % network,
                  name)).strip()


def test_default_bridge_hosts_line_and_env(st, target):
    tid = ok(cli(st, "inspect", "-f", "{{.Id}}", target)).strip()
    ip = ip_of(st, target)
    out = ok(cli(st, "run", "--name", "lk-p", "--link", target + ":my-al", IMAGE, "sh", "-c",
                 "cat /etc/hosts; env"))
    assert "%s\tmy-al %s %s\n" % (ip, tid[:12], target) in out
    env = set(out.splitlines())
    # the image exposes 80/tcp, the target adds 53/udp: the lowest port is MY_AL_PORT
    assert {"MY_AL_NAME=/lk-p/my-al", "MY_AL_ENV_SECRET=1", "MY_AL_PORT=udp://%s:53" % ip,
            "MY_AL_PORT_80_TCP=tcp://%s:80" % ip, "MY_AL_PORT_80_TCP_ADDR=%s" % ip,
            "MY_AL_PORT_80_TCP_PORT=80", "MY_AL_PORT_80_TCP_PROTO=tcp"} <= env
    assert not any(e.startswith(("MY_AL_ENV_PATH=", "MY_AL_ENV_HOME=")) for e in env)
    links = ok(cli(st, "inspect", "-f", "{{json .HostConfig.Links}}", "lk-p")).strip()
    assert links == '["/%s:/lk-p/my-al"]' % target
    assert ok(cli(st, "inspect", "-f", "{{json .HostConfig.Links}}", target)).strip() == "null"


def test_target_restarted_with_a_new_address(st, target):
    ok(cli(st, "run", "-d", "--name", "lk-p", "--link", target, IMAGE, "sleep", "300"))
    ok(cli(st, "stop", "-t", "0", target))
    ok(cli(st, "run", "-d", "--name", "lk-fill", IMAGE, "sleep", "300"))  # takes its old address
    ok(cli(st, "start", target))
    hosts = ok(cli(st, "exec", "lk-p", "cat", "/etc/hosts"))
    assert "%s\t%s " % (ip_of(st, target), target) in hosts
    ok(cli(st, "stop", "-t", "0", target))
    r = cli(st, "restart", "-t", "0", "lk-p")
    assert r.returncode != 0
    assert "Cannot link to a non running container: /%s AS /lk-p/%s" % (target, target) in r.stderr


def test_link_errors(st, target):
    r = cli(st, "run", "--rm", "--link", "nosuch:x", IMAGE, "true")
    assert r.returncode == 125
    assert "could not get container for nosuch: No such container: nosuch" in r.stderr
    r = cli(st, "run", "--rm", "--net", "host", "--link", target, IMAGE, "true")
    assert "host type networking can't be used with links" in r.stderr


def test_user_network_link_is_a_dns_alias_of_the_linking_container(st, target):
    ok(cli(st, "network", "create", "lknet"))
    ok(cli(st, "run", "-d", "--name", "lk-u", "--net", "lknet", IMAGE, "sleep", "300"))
    ok(cli(st, "run", "-d", "--name", "lk-q", "--net", "lknet", "--link", "lk-u:al", IMAGE,
           "sleep", "300"))
    ip = ip_of(st, "lk-u", "lknet")
    for name in ("al", "al.lknet"):
        out = ok(cli(st, "exec", "lk-q", "nslookup", name))
        assert "Address: %s" % ip in out
    assert "AL_NAME" not in ok(cli(st, "exec", "lk-q", "sh", "-c", "env"))
    r = cli(st, "run", "--rm", "--name", "lk-o", "--net", "lknet", IMAGE, "nslookup", "al")
    assert r.returncode != 0 and "NXDOMAIN" in r.stdout + r.stderr
    assert ok(cli(st, "inspect", "-f", "{{json .NetworkSettings.Networks.lknet.Links}}",
                  "lk-q")).strip() == '["lk-u:al"]'
    # the default bridge wants its targets there (Docker's message)
    r = cli(st, "run", "--rm", "--link", "lk-u:x", IMAGE, "true")
    assert "Cannot link to /lk-u, as it does not belong to the default network" in r.stderr
