"""The network and volume events around a container's life, as dockerd 20.10 reports them:
their attributes (backend/event_attrs.py) and their order over the fake world."""

import time

from dockyard_apiserver.backend import event_attrs
from dockyard_apiserver.events import EventBus

from container_fakes import Daemon, create

FAKE_DAEMON = Daemon    # conftest's daemon fixture over the container world
BRIDGE, USERNET = "b" * 64, "u" * 64


def seen(daemon, types=("network", "volume", "container")):
    """(Type, Action, Actor.ID, Attributes) of the events so far, of the given types."""
    return [(e["Type"], e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"])
            for e in daemon.events.history() if e["Type"] in types]


def wait_for(cond, timeout=3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# ---------------------------------------------------------------------- builders (pure)

def test_network_attributes_carry_name_type_and_container():
    assert event_attrs.network("evnet", "bridge", "c1") == {"name": "evnet", "type": "bridge",
                                                            "container": "c1"}
    assert event_attrs.network("evnet", "bridge") == {"name": "evnet", "type": "bridge"}
    # the predefined networks' drivers when only the name is known
    assert event_attrs.network("none")["type"] == "null"
    assert event_attrs.network("host")["type"] == "host"
    assert event_attrs.network("bridge")["type"] == "bridge"


def test_volume_mount_and_unmount_attributes():
    m = {"Type": "volume", "Name": "v", "Destination": "/d", "RW": False, "Propagation": "",
         "Driver": "local"}
    assert event_attrs.volume_mount(m, "c1") == {"driver": "local", "container": "c1",
                                                 "destination": "/d", "read/write": "false",
                                                 "propagation": ""}
    assert event_attrs.volume_unmount(m, "c1") == {"driver": "local", "container": "c1"}
    assert event_attrs.volume() == {"driver": "local"}
    mounts = [m, {"Type": "bind", "Source": "/h", "Destination": "/h"},
              {"Type": "tmpfs", "Destination": "/t"}]
    assert event_attrs.volume_mounts(mounts) == [m]      # binds and tmpfs have no events


def test_container_attributes_labels_then_image_and_name():
    class Rec:
        image, name, labels = "busybox", "/web", {"name": "label-loses", "exitCode": "label-wins"}
    attrs = event_attrs.container(Rec, exitCode=3)
    assert attrs == {"image": "busybox", "name": "web", "exitCode": "label-wins"}


def test_run_events_order_bridge_first_then_mounts():
    bus = EventBus()
    mounts = [{"Type": "volume", "Name": "a", "Destination": "/a", "RW": True},
              {"Type": "bind", "Source": "/x", "Destination": "/x", "RW": True}]
    event_attrs.emit_run_started(bus, "c1", [(USERNET, "usernet"), (BRIDGE, "bridge")], mounts)
    event_attrs.emit_run_ended(bus, "c1", [(USERNET, "usernet"), (BRIDGE, "bridge")], mounts)
    got = [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in bus.history()]
    assert got == [("network", "connect", BRIDGE), ("network", "connect", USERNET),
                   ("volume", "mount", "a"),
                   ("network", "disconnect", USERNET), ("network", "disconnect", BRIDGE),
                   ("volume", "unmount", "a")]
    assert all(e["scope"] == "local" for e in bus.history())


def test_prune_event_has_an_empty_actor():
    bus = EventBus()
    event_attrs.emit_prune(bus, "volume", 42)
    ev = bus.history()[0]
    assert (ev["Type"], ev["Action"], ev["Actor"]) == ("volume", "prune",
                                                       {"ID": "", "Attributes": {"reclaimed": "42"}})


# ---------------------------------------------------------------------- over the fake world

def test_run_with_volumes_reports_docker_sequence(client, daemon):
    cid = create(client, name="web", Volumes={"/anon": {}},
                 HostConfig={"Binds": ["named:/d:ro", "/tmp:/h"]})
    anon = next(m["Name"] for m in client.get("/containers/web/json").get_json()["Mounts"]
                if m["Destination"] == "/anon")
    assert client.post("/containers/web/start").status_code == 204
    daemon.exit(cid, 0)
    assert wait_for(lambda: any(a == "unmount" for _, a, _, _ in seen(daemon)))
    assert client.delete("/containers/web?v=1").status_code == 204
    got = [(t, a, i) for t, a, i, _ in seen(daemon)]
    creates = got[:2]
    assert sorted(creates) == sorted([("volume", "create", "named"), ("volume", "create", anon)])
    assert got[2:] == [
        ("container", "create", cid),
        ("network", "connect", BRIDGE),
        ("volume", "mount", got[4][2]), ("volume", "mount", got[5][2]),
        ("container", "die", cid),
        ("network", "disconnect", BRIDGE),
        ("volume", "unmount", got[4][2]), ("volume", "unmount", got[5][2]),
        ("volume", "destroy", anon),                  # before the container's destroy
        ("container", "destroy", cid)]
    attrs = {(a, i): at for t, a, i, at in seen(daemon, ("volume", "network"))}
    assert attrs[("mount", "named")] == {"driver": "local", "container": cid, "destination": "/d",
                                         "read/write": "false", "propagation": ""}
    assert attrs[("unmount", "named")] == {"driver": "local", "container": cid}
    assert attrs[("connect", BRIDGE)] == {"name": "bridge", "type": "bridge", "container": cid}
    assert attrs[("create", "named")] == {"driver": "local"}


def test_end_of_run_is_reported_once(client, daemon):
    cid = create(client, name="web", HostConfig={"Binds": ["named:/d"]})
    client.post("/containers/web/start")
    daemon.exit(cid, 0)
    from dockyard_apiserver.backend.containers import for_daemon
    be = for_daemon(daemon)
    be.release_networks(cid)
    be.release_networks(cid)            # the exit thread and `docker stop` both clean up
    assert wait_for(lambda: [a for _, a, _, _ in seen(daemon, ("network",))] == ["connect", "disconnect"])
    time.sleep(0.1)
    assert [a for _, a, _, _ in seen(daemon, ("network", "volume"))] == \
        ["create", "connect", "mount", "disconnect", "unmount"]


def test_network_connect_and_disconnect_events(client, daemon):
    cid = create(client, name="web")
    client.post("/networks/usernet/connect", json={"Container": "web"})
    assert seen(daemon, ("network",)) == []        # stopped: joins (and reports) at start
    client.post("/containers/web/start")
    assert [(a, i) for _, a, i, _ in seen(daemon, ("network",))] == [("connect", BRIDGE),
                                                                     ("connect", USERNET)]
    client.post("/networks/usernet/disconnect", json={"Container": "web"})
    disc = [at for _, a, i, at in seen(daemon, ("network",)) if a == "disconnect"]
    assert len(disc) == 2          # dockerd 20.10 reports a live endpoint's leave twice
    assert disc[0]["container"] == cid
    client.post("/networks/usernet/connect", json={"Container": "web"})
    assert seen(daemon, ("network",))[-1][1:3] == ("connect", USERNET)    # running: at once
    daemon.exit(cid, 0)
    assert wait_for(lambda: seen(daemon, ("network",))[-1][1] == "disconnect")
    client.post("/networks/usernet/disconnect", json={"Container": "web"})
    tail = [(a, i) for _, a, i, _ in seen(daemon, ("network",))][-3:]
    assert tail[-1] == ("disconnect", USERNET)      # stopped: once
    assert tail[:2] in ([("disconnect", BRIDGE), ("disconnect", USERNET)],
                        [("disconnect", USERNET), ("disconnect", BRIDGE)])


def test_container_mode_has_no_network_events(client, daemon):
    other = create(client, name="other")
    client.post("/containers/other/start")
    before = len(seen(daemon, ("network",)))
    cid = create(client, name="joiner", HostConfig={"NetworkMode": "container:other"})
    client.post("/containers/joiner/start")
    daemon.exit(cid, 0)
    time.sleep(0.1)
    assert len(seen(daemon, ("network",))) == before
    assert other


def test_event_filters_select_the_new_events(client, daemon):
    cid = create(client, name="web", HostConfig={"Binds": ["named:/d"]})
    client.post("/containers/web/start")
    now = time.time_ns()

    def actions(**filters):
        sub = daemon.events.subscribe(since_ns=0, until_ns=now,
                                      filters={k: [v] for k, v in filters.items()})
        return [(e["Type"], e["Action"]) for e in sub]

    assert actions(type="volume") == [("volume", "create"), ("volume", "mount")]
    assert actions(volume="named", event="mount") == [("volume", "mount")]
    assert actions(network="bridge") == [("network", "connect")]
    assert actions(network=BRIDGE[:12]) == [("network", "connect")]
    assert actions(container=cid) == [("container", "create")]
