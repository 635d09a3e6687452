"""Published ports, mount planning, volume copy-up and network connect/disconnect over fakes."""

import io
import json
import os
import tarfile

import pytest

from dockyard_api.networks.v1 import networks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

from dockyard_apiserver.backend import container_config as cc
from dockyard_apiserver.backend import container_ports as ports
from dockyard_apiserver.backend import volume_copy

from container_fakes import JSON, Daemon, create

FAKE_DAEMON = Daemon    # conftest's daemon/app/client fixtures over the container world


# ---------------------------------------------------------------------- ports (pure)

def test_bindings_fixed_ip_ephemeral_and_ranges():
    hc = {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                           "53/udp": [{"HostIp": "", "HostPort": ""}],
                           "90-91/tcp": [{"HostPort": "9090-9091"}],
                           "7/tcp": [{"HostIp": "::", "HostPort": "7"}]}}
    got = sorted((b["container_port"], b["protocol"], b["host_ip"], b["host_port"])
                 for b in ports.bindings({}, hc))
    assert got == [(7, "tcp", "::", 7), (53, "udp", "", 0), (80, "tcp", "127.0.0.1", 8080),
                   (90, "tcp", "", 9090), (91, "tcp", "", 9091)]


def test_publish_all_adds_ephemeral_ports_for_unbound_exposed_ones():
    config = {"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}}
    hc = {"PublishAllPorts": True, "PortBindings": {"80/tcp": [{"HostPort": "8000"}]}}
    got = sorted((b["container_port"], b["host_port"]) for b in ports.bindings(config, hc))
    assert got == [(80, 8000), (443, 0)]


@pytest.mark.parametrize("hc", [
    {"PortBindings": {"80/tcp": [{"HostPort": "not-a-port"}]}},
    {"PortBindings": {"99999/tcp": []}},
    {"PortBindings": {"80/icmp": []}},
    {"PortBindings": {"80-82/tcp": [{"HostPort": "90-91"}]}},
])
def test_bad_port_specs_are_400(hc):
    with pytest.raises(errors.InvalidArgument):
        ports.validate(hc)


def test_port_views():
    eps = [networks_pb2.PortBinding(host_ip="0.0.0.0", host_port=49153, container_port=80, protocol="tcp")]
    published = ports.ports_from_endpoint(eps)
    assert published == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}]}
    view = ports.ports_view({"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}, published)
    assert view == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}], "53/udp": None}
    assert ports.summary_ports(view) == [
        {"PrivatePort": 53, "Type": "udp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 49153, "Type": "tcp"}]


# ---------------------------------------------------------------------- mounts (pure)

@pytest.mark.parametrize("hc,fragment", [
    ({"Binds": ["/x:/"]}, "destination can't be '/'"),
    ({"Binds": ["vol:rel:rw"]}, "mount path must be absolute"),
    ({"Binds": ["rel/path:/y"]}, 'includes invalid characters for a local volume name'),
    ({"Binds": ["vol:/y:bogus"]}, "invalid mode: bogus"),
    ({"Binds": ["aa:/x", "/tmp:/x/"]}, "Duplicate mount point: /x"),
    ({"Mounts": [{"Type": "bind", "Source": "rel", "Target": "/y"}]}, "mount path must be absolute"),
    ({"Mounts": [{"Type": "bind", "Source": "/nonexistent-dy", "Target": "/y"}]},
     'invalid mount config for type "bind": bind source path does not exist: /nonexistent-dy'),
    ({"Mounts": [{"Type": "volume", "Target": "/"}]}, "destination can't be '/'"),
    ({"Mounts": [{"Type": "nfs", "Target": "/y"}]}, "mount type unknown"),
])
def test_mount_errors(hc, fragment):
    with pytest.raises(errors.InvalidArgument) as ei:
        cc.plan_mounts({}, hc)
    assert fragment in str(ei.value)


def test_nocopy_from_mode_and_mount_options():
    plan = {p["destination"]: p for p in cc.plan_mounts({}, {
        "Binds": ["vol:/a:nocopy", "/anon2:ro"],
        "Mounts": [{"Type": "volume", "Source": "v2", "Target": "/b", "VolumeOptions": {"NoCopy": True}}]})}
    assert plan["/a"]["nocopy"] and plan["/b"]["nocopy"] and not plan["/anon2"]["nocopy"]
    assert plan["/anon2"]["anonymous"] and not plan["/anon2"]["rw"]


def test_volumes_from_entries_yield_to_the_users_own_mounts():
    theirs = [{"Type": "volume", "Name": "abc", "Destination": "/data", "RW": True, "Anonymous": True},
              {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": True},
              {"Type": "tmpfs", "Destination": "/t", "RW": True}]
    inherited = cc.inherited_entries(theirs, "ro")
    plan = {p["destination"]: p for p in cc.plan_mounts({}, {"Binds": ["/host:/srv"]}, inherited)}
    assert set(plan) == {"/data", "/srv"}
    assert plan["/data"]["name"] == "abc" and plan["/data"]["rw"] is False and plan["/data"]["inherited"]
    assert plan["/srv"]["source"] == "/host"
    assert cc.parse_volumes_from("c1:rw") == ("c1", "rw")
    with pytest.raises(errors.InvalidArgument):
        cc.parse_volumes_from("c1:bogus")


# ---------------------------------------------------------------------- copy-up

class _Snapshots:
    def __init__(self, members):
        self.members = members

    def ArchiveGet(self, req):
        if not self.members:
            raise errors.NotFound("Could not find the file %s" % req.path)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for ti, data in self.members:
                tar.addfile(ti, io.BytesIO(data) if data is not None else None)
        return iter([types_pb2.DataChunk(data=buf.getvalue())])


def _ti(name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.size, ti.linkname = kind, mode, uid, gid, size, link
    return ti


def test_populate_copies_content_owner_mode_and_symlinks(tmp_path):
    snap = _Snapshots([(_ti("etc", tarfile.DIRTYPE, 0o750, 7, 8), None),
                       (_ti("etc/passwd", size=5), b"root\n"),
                       (_ti("etc/sub", tarfile.DIRTYPE), None),
                       (_ti("etc/link", tarfile.SYMTYPE, link="passwd"), None)])
    vol = tmp_path / "vol"
    vol.mkdir()
    assert volume_copy.populate(snap, "cid", "/etc", str(vol))
    assert sorted(os.listdir(vol)) == ["link", "passwd", "sub"]
    assert (vol / "passwd").read_text() == "root\n" and os.readlink(vol / "link") == "passwd"
    st = os.stat(vol)
    assert st.st_mode & 0o7777 == 0o750
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (7, 8)


def test_populate_leaves_non_empty_volumes_and_missing_paths_alone(tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    assert not volume_copy.populate(_Snapshots([]), "cid", "/nothing", str(vol))
    assert os.listdir(vol) == []
    (vol / "mine").write_text("x")
    snap = _Snapshots([(_ti("etc", tarfile.DIRTYPE), None), (_ti("etc/f", size=1), b"y")])
    assert not volume_copy.populate(snap, "cid", "/etc", str(vol))
    assert os.listdir(vol) == ["mine"]


# ---------------------------------------------------------------------- lifecycle over fakes

def _net(daemon, cid):
    return json.loads(daemon.world.records[cid].network_json)


def test_endpoints_and_ports_live_from_start_to_stop(client, daemon):
    cid = create(client, ExposedPorts={"80/tcp": {}, "81/tcp": {}},
                 HostConfig={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}})
    assert daemon.world.endpoints.get(cid, []) == []          # a sandbox only
    assert client.get("/containers/%s/json" % cid).get_json()["NetworkSettings"]["Ports"] == {}
    assert client.post("/containers/%s/start" % cid).status_code == 204
    info = client.get("/containers/%s/json" % cid).get_json()
    assert info["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                                "81/tcp": None}
    assert info["NetworkSettings"]["IPAddress"] == "172.17.0.2"
    listed = client.get("/containers/json").get_json()[0]["Ports"]
    assert {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"} in listed
    assert client.post("/containers/%s/stop?t=0" % cid).status_code == 204
    assert daemon.world.endpoints[cid] == []
    info = client.get("/containers/%s/json" % cid).get_json()
    assert info["NetworkSettings"]["Ports"] == {} and info["NetworkSettings"]["IPAddress"] == ""
    assert not _net(daemon, cid)["attached"]


def test_exit_releases_networks_unless_restarting(client, daemon):
    import time
    cid = create(client)
    client.post("/containers/%s/start" % cid)
    assert daemon.world.endpoints[cid] == ["bridge"]
    daemon.exit(cid, 0)
    for _ in range(100):
        if not daemon.world.endpoints[cid]:
            break
        time.sleep(0.02)
    assert daemon.world.endpoints[cid] == []


def test_restart_policy_restart_is_counted(client, daemon):
    import time
    cid = create(client, HostConfig={"RestartPolicy": {"Name": "always"}})
    client.post("/containers/%s/start" % cid)
    seen = []
    daemon.clients.tasks.Create = (lambda orig: lambda req: (seen.append(req.restart), orig(req))[1])(
        daemon.clients.tasks.Create)
    daemon.exit(cid, 1)
    for _ in range(100):
        if seen:
            break
        time.sleep(0.02)
    assert seen == [True]


def test_connect_and_disconnect(client, daemon):
    cid = create(client, name="web")
    r = client.post("/networks/usernet/connect", json={"Container": "web",
                                                       "EndpointConfig": {"Aliases": ["db"]}})
    assert r.status_code == 200
    assert daemon.world.endpoints.get(cid, []) == []            # not running: config only
    client.post("/containers/web/start")
    assert daemon.world.endpoints[cid] == ["bridge", "usernet"]
    nets = client.get("/containers/web/json").get_json()["NetworkSettings"]["Networks"]
    assert nets["usernet"]["Aliases"] == ["db", cid[:12]] and nets["usernet"]["IPAddress"]
    assert nets["bridge"]["Aliases"] is None
    r = client.post("/networks/usernet/connect", json={"Container": "web"})
    assert r.status_code == 403 and "already exists in network usernet" in r.get_json()["message"]
    assert client.post("/networks/usernet/disconnect", json={"Container": "web"}).status_code == 200
    assert daemon.world.endpoints[cid] == ["bridge"]
    assert "usernet" not in client.get("/containers/web/json").get_json()["NetworkSettings"]["Networks"]
    r = client.post("/networks/usernet/disconnect", json={"Container": "web"})
    assert r.status_code == 404 and "is not connected to network usernet" in r.get_json()["message"]
    r = client.post("/networks/usernet/connect", json={"Container": "nope"})
    assert r.status_code == 404 and r.get_json()["message"] == "No such container: nope"
    r = client.post("/networks/host/connect", json={"Container": "web"})
    assert r.status_code == 400
    r = client.post("/networks/bridge/connect", json={"Container": create(client, HostConfig={"NetworkMode": "none"})})
    assert r.status_code == 400


def test_aliases_and_static_ip_refused_on_the_default_bridge(client):
    r = client.post("/v1.41/containers/create", headers=JSON, data=json.dumps({
        "Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": ["x"]}}}}))
    assert r.status_code == 400 and "user defined networks" in r.get_json()["message"]


def test_container_mode_uses_the_other_sandbox(client, daemon):
    other = create(client, name="other")
    client.post("/containers/other/start")
    cid = create(client, HostConfig={"NetworkMode": "container:other"})
    rec = daemon.world.records[cid]
    assert rec.hosts_path == daemon.world.records[other].hosts_path
    spec = json.loads(rec.spec_json)
    netns = [n for n in spec["linux"]["namespaces"] if n["type"] == "network"]
    assert netns == [{"type": "network", "path": "/run/netns/x"}]
    assert json.loads(rec.config_json)["Hostname"] == other[:12]
    client.post("/containers/%s/start" % cid)
    assert cid not in daemon.world.endpoints or daemon.world.endpoints[cid] == []


def test_volumes_from_and_copy_up(client, daemon, tmp_path):
    daemon.world.image_files = {"/etc/passwd": b"root:x:0:0\n"}
    mp = tmp_path / "vols"
    orig = daemon.clients.volumes.Acquire

    def acquire(req):
        vol = orig(req)
        path = mp / vol.name
        path.mkdir(parents=True, exist_ok=True)
        vol.mountpoint = str(path)
        return vol
    daemon.clients.volumes.Acquire = acquire
    src = create(client, name="src", HostConfig={"Binds": ["cfg:/etc", "/anon"]})
    assert (mp / "cfg" / "passwd").read_bytes() == b"root:x:0:0\n"
    cid = create(client, HostConfig={"VolumesFrom": ["src:ro"]})
    mounts = {m["Destination"]: m for m in json.loads(daemon.world.records[cid].mounts_json)}
    assert set(mounts) == {"/etc", "/anon"} and not mounts["/etc"]["RW"]
    assert cid in daemon.world.volumes["cfg"] and src in daemon.world.volumes["cfg"]
    nocopy = create(client, HostConfig={"Binds": ["fresh:/etc:nocopy"]})
    assert nocopy and os.listdir(mp / "fresh") == []
    r = client.post("/v1.41/containers/create", headers=JSON,
                    data=json.dumps({"Image": "busybox", "HostConfig": {"VolumesFrom": ["ghost"]}}))
    assert r.status_code == 404 and r.get_json()["message"] == "No such container: ghost"
