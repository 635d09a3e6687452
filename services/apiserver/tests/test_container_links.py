"""Link parsing, the <ALIAS>_* variables (checked against Docker 20.10's output) and the
create-time checks of container_links."""

import types

import pytest

from dockyard_common import errors
from dockyard_apiserver.backend import container_links as cl

IP = "172.17.0.5"
# `docker run --link lnk-range:my-al busybox env | sort` on Docker 20.10, the target having
# `--expose 7000-7003 --expose 7003/udp` (moby's range quirks included).
DOCKER_RANGE = """MY_AL_NAME=/bold_bardeen/my-al
MY_AL_PORT=tcp://172.17.0.5:7000
MY_AL_PORT_7000_TCP=tcp://172.17.0.5:7000
MY_AL_PORT_7000_TCP_ADDR=172.17.0.5
MY_AL_PORT_7000_TCP_PORT=7000
MY_AL_PORT_7000_TCP_PORT_START=7000
MY_AL_PORT_7000_TCP_PROTO=tcp
MY_AL_PORT_7000_TCP_START=tcp://172.17.0.5:7000
MY_AL_PORT_7000_UDP_END=udp://172.17.0.5:7003
MY_AL_PORT_7000_UDP_PORT_END=7003
MY_AL_PORT_7001_TCP=tcp://172.17.0.5:7001
MY_AL_PORT_7001_TCP_ADDR=172.17.0.5
MY_AL_PORT_7001_TCP_PORT=7001
MY_AL_PORT_7001_TCP_PROTO=tcp
MY_AL_PORT_7002_TCP=tcp://172.17.0.5:7002
MY_AL_PORT_7002_TCP_ADDR=172.17.0.5
MY_AL_PORT_7002_TCP_PORT=7002
MY_AL_PORT_7002_TCP_PROTO=tcp
MY_AL_PORT_7003_TCP=tcp://172.17.0.5:7003
MY_AL_PORT_7003_TCP_ADDR=172.17.0.5
MY_AL_PORT_7003_TCP_PORT=7003
MY_AL_PORT_7003_TCP_PROTO=tcp
MY_AL_PORT_7003_UDP=udp://172.17.0.5:7003
MY_AL_PORT_7003_UDP_ADDR=172.17.0.5
MY_AL_PORT_7003_UDP_PORT=7003
MY_AL_PORT_7003_UDP_PROTO=udp""".splitlines()


def test_parse_link():
    assert cl.parse_link("lk:alias") == ("lk", "alias")
    assert cl.parse_link("lk") == ("lk", "lk")
    assert cl.parse_link("/lk:/web/alias") == ("lk", "alias")
    with pytest.raises(errors.InvalidArgument, match="bad format for links: a:b:c"):
        cl.parse_link("a:b:c")


def test_env_matches_docker_for_port_ranges():
    ports = {"7000/tcp": {}, "7001/tcp": {}, "7002/tcp": {}, "7003/tcp": {}, "7003/udp": {}}
    env = cl.link_env("bold_bardeen", "my-al", {"ExposedPorts": ports}, IP)
    assert sorted(env) == DOCKER_RANGE


def test_env_lowest_port_names_and_target_env():
    config = {"ExposedPorts": {"80/tcp": {}, "53/udp": {}},
              "Env": ["PATH=/bin", "HOME=/x", "SECRET=1"]}
    env = cl.link_env("web", "al", config, IP)
    assert env[0] == "AL_PORT=udp://172.17.0.5:53"
    assert "AL_NAME=/web/al" in env and "AL_ENV_SECRET=1" in env
    assert not [e for e in env if e.startswith(("AL_ENV_PATH", "AL_ENV_HOME"))]


def test_process_env_puts_links_before_the_containers_own():
    env = cl.process_env(["PATH=/p", "HOSTNAME=h", "A=1"], {"Env": ["AL_NAME=mine", "A=1"]},
                         True, ["AL_NAME=/web/al", "AL_ENV_X=1"])
    assert env[1:5] == ["HOSTNAME=h", "TERM=xterm", "AL_NAME=mine", "AL_ENV_X=1"]
    assert env[-1] == "A=1"


class Backend:
    def __init__(self, recs):
        self.recs = recs

    def get(self, ref):
        for rec in self.recs:
            if ref in (rec.id, rec.name):
                return rec
        raise errors.NotFound("No such container: %s" % ref)

    @staticmethod
    def host_config_of(rec):
        return rec.hc


def rec(cid, name, mode="default"):
    return types.SimpleNamespace(id=cid, name=name, hc={"NetworkMode": mode})


def test_prepare_default_bridge_resolves_targets_through_shared_netns():
    backend = Backend([rec("t" * 64, "lk"), rec("s" * 64, "side", "container:" + "t" * 64)])
    hc = {"Links": ["side:al", "lk"]}
    assert cl.prepare(backend, "web", hc, {}) == ["t" * 64 + ":al", "t" * 64 + ":lk"]
    assert hc["Links"] == ["/lk:/web/al", "/lk:/web/lk"]


def test_prepare_errors():
    backend = Backend([rec("h" * 64, "hosty", "host")])
    with pytest.raises(errors.InvalidArgument,
                       match="could not get container for nosuch: No such container: nosuch"):
        cl.prepare(backend, "web", {"Links": ["nosuch:x"]}, {})
    with pytest.raises(errors.InvalidArgument, match="host type networking"):
        cl.prepare(backend, "web", {"Links": ["hosty"]}, {})
    with pytest.raises(errors.InvalidArgument, match="container type network"):
        cl.prepare(backend, "web", {"Links": ["x"], "NetworkMode": "container:y"}, {})


def test_prepare_user_network_moves_links_to_the_endpoint_unchecked():
    hc, networking = {"Links": ["nosuch:db"], "NetworkMode": "app"}, {}
    assert cl.prepare(Backend([]), "web", hc, networking) == []
    assert hc["Links"] is None
    assert networking == {"EndpointsConfig": {"app": {"Links": ["nosuch:db"]}}}
    given = {"EndpointsConfig": {"app": {"Links": ["x:y"]}}}
    cl.prepare(Backend([]), "web", {"Links": ["nosuch:db"], "NetworkMode": "app"}, given)
    assert given["EndpointsConfig"]["app"]["Links"] == ["x:y"]
