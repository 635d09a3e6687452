"""HostConfig.IpcMode/PidMode/NetworkMode at create: dockerd's default, donor lookup and the
"container:<full id>" it keeps (the start-time checks are container-service's)."""

import json

import pytest

from dockyard_common import errors

from dockyard_apiserver.backend import container_namespaces as namespaces

from container_fakes import JSON, Daemon, create

FAKE_DAEMON = Daemon    # conftest's daemon/app/client fixtures over the container world


class Rec:
    def __init__(self, id):
        self.id = id


def lookup(ref):
    if ref in ("donor", "d0n"):
        return Rec("d0" * 32)
    raise errors.NotFound("No such container: %s" % ref)


@pytest.mark.parametrize("given, stored", [
    ({}, {"IpcMode": "private"}),
    ({"IpcMode": ""}, {"IpcMode": "private"}),
    ({"IpcMode": "shareable"}, {"IpcMode": "shareable"}),
    ({"IpcMode": "bogus", "PidMode": "bogus"}, {"IpcMode": "bogus", "PidMode": "bogus"}),
    ({"IpcMode": "container:donor", "PidMode": "container:d0n"},
     {"IpcMode": "container:" + "d0" * 32, "PidMode": "container:" + "d0" * 32}),
    ({"IpcMode": "container:", "PidMode": "container:"},      # fails at start, as dockerd
     {"IpcMode": "container:", "PidMode": "container:"}),
])
def test_normalize(given, stored):
    assert namespaces.normalize(dict(given), lookup) == stored


@pytest.mark.parametrize("key", ["IpcMode", "PidMode"])
def test_missing_donor_is_400(key):
    with pytest.raises(errors.InvalidArgument) as exc:
        namespaces.normalize({key: "container:nope"}, lookup)
    assert str(exc.value) == "No such container: nope"


def test_create_stores_dockers_modes(client, daemon):
    donor = create(client, name="donor")
    cid = create(client, HostConfig={"PidMode": "container:donor", "IpcMode": ""})
    hc = client.get("/containers/%s/json" % cid).get_json()["HostConfig"]
    assert (hc["PidMode"], hc["IpcMode"]) == ("container:" + donor, "private")
    plain = client.get("/containers/donor/json").get_json()["HostConfig"]
    assert (plain["PidMode"], plain["IpcMode"], plain["UTSMode"]) == ("", "private", "")


def test_create_with_a_missing_donor_is_400_before_the_image(client):
    r = client.post("/v1.41/containers/create", headers=JSON, data=json.dumps(
        {"Image": "no-such-image", "HostConfig": {"IpcMode": "container:nope"}}))
    assert r.status_code == 400 and r.get_json()["message"] == "No such container: nope"


def test_network_container_mode_is_kept_with_the_full_id(client):
    other = create(client, name="other")
    client.post("/containers/other/start")
    cid = create(client, HostConfig={"NetworkMode": "container:other", "PidMode": "container:other"})
    hc = client.get("/containers/%s/json" % cid).get_json()["HostConfig"]
    assert hc["NetworkMode"] == hc["PidMode"] == "container:" + other
