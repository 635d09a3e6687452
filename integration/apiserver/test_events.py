"""`docker events` through the real stack: the sequence dockerd 20.10 reports for a run with a
named volume on a user network, and for network connect/disconnect (taken from the real engine:
volume create, container create, attach, network connect, volume mount, start, die, network
disconnect, volume unmount, destroy)."""

import os
import shutil
import time

import pytest

from stackutil import IMAGE, cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]


def events_between(st, since, **filters):
    until = time.time() + 0.5
    time.sleep(0.6)
    return list(st.client.api.events(since=since, until=until, decode=True, filters=filters or None))


def brief(evs):
    return [(e["Type"], e["Action"]) for e in evs]


def test_run_rm_with_volume_on_user_network(st):
    ok(cli(st, "network", "create", "evnet"))
    net_id = st.client.api.inspect_network("evnet")["Id"]
    since = time.time()
    ok(cli(st, "run", "--rm", "--name", "evrun", "-v", "evvol:/d", "--network", "evnet", IMAGE, "true"))
    time.sleep(0.5)   # --rm removes after the exit
    ok(cli(st, "volume", "rm", "evvol"))
    evs = events_between(st, since)
    assert brief(evs) == [
        ("volume", "create"), ("container", "create"), ("container", "attach"),
        ("network", "connect"), ("volume", "mount"), ("container", "start"),
        ("container", "die"), ("network", "disconnect"), ("volume", "unmount"),
        ("container", "destroy"), ("volume", "destroy")]
    cid = evs[1]["Actor"]["ID"]
    by = {(e["Type"], e["Action"]): e for e in evs}
    assert by[("volume", "create")]["Actor"] == {"ID": "evvol", "Attributes": {"driver": "local"}}
    assert by[("network", "connect")]["Actor"] == {
        "ID": net_id, "Attributes": {"container": cid, "name": "evnet", "type": "bridge"}}
    assert by[("network", "disconnect")]["Actor"] == by[("network", "connect")]["Actor"]
    assert by[("volume", "mount")]["Actor"] == {"ID": "evvol", "Attributes": {
        "container": cid, "destination": "/d", "driver": "local", "propagation": "",
        "read/write": "true"}}
    assert by[("volume", "unmount")]["Actor"] == {
        "ID": "evvol", "Attributes": {"container": cid, "driver": "local"}}
    die = by[("container", "die")]
    assert die["Actor"]["Attributes"] == {"exitCode": "0", "image": IMAGE, "name": "evrun"}
    assert all(e["scope"] == "local" for e in evs)
    # the filters select the new events
    assert brief(events_between(st, since, type="volume")) == [
        ("volume", "create"), ("volume", "mount"), ("volume", "unmount"), ("volume", "destroy")]
    assert brief(events_between(st, since, network="evnet")) == [
        ("network", "connect"), ("network", "disconnect")]
    assert brief(events_between(st, since, volume="evvol", event="mount")) == [("volume", "mount")]
    ok(cli(st, "network", "rm", "evnet"))


def test_network_connect_disconnect(st):
    ok(cli(st, "network", "create", "evnet2"))
    net_id = st.client.api.inspect_network("evnet2")["Id"]
    ok(cli(st, "run", "-d", "--name", "evconn", IMAGE, "sleep", "100"))
    cid = st.client.api.inspect_container("evconn")["Id"]
    since = time.time()
    ok(cli(st, "network", "connect", "evnet2", "evconn"))
    ok(cli(st, "network", "disconnect", "evnet2", "evconn"))
    ok(cli(st, "rm", "-f", "evconn"))
    ok(cli(st, "network", "rm", "evnet2"))
    evs = events_between(st, since)
    # dockerd 20.10 reports leaving a live endpoint twice
    assert brief(evs) == [
        ("network", "connect"), ("network", "disconnect"), ("network", "disconnect"),
        ("container", "kill"), ("container", "die"), ("network", "disconnect"),
        ("container", "destroy"), ("network", "destroy")]
    attrs = {"container": cid, "name": "evnet2", "type": "bridge"}
    assert [e["Actor"] for e in evs[:3]] == [{"ID": net_id, "Attributes": attrs}] * 3
    assert evs[5]["Actor"]["Attributes"] == dict(attrs, name="bridge")
    assert evs[-1]["Actor"] == {"ID": net_id, "Attributes": {"name": "evnet2", "type": "bridge"}}
