"""Containers and exec routes over fake services (no gRPC, no root)."""

import json
import os
import socket
import threading
import time

import pytest

from dockyard_api.shim.v1 import shim_pb2
from dockyard_common import errors, stdcopy

from dockyard_apiserver import hijack
from dockyard_apiserver.attach import DetachScanner, parse_detach_keys
from dockyard_apiserver.backend import container_config as cc
from dockyard_apiserver.backend import container_views as views

import container_fakes
from container_fakes import JSON, Daemon

FAKE_DAEMON = Daemon    # conftest's daemon/app/client fixtures over the container world


def create(client, name=None, **body):
    return container_fakes.create(client, name, version="1.45", **body)


def events(daemon):
    return [(e["Action"], e["Actor"]["ID"]) for e in list(daemon.events._ring)]


# ---------------------------------------------------------------------- create

def test_create_merges_image_config_and_records_everything(client, daemon):
    cid = create(client, name="web", Env=["A=1", "FROM_IMAGE=2"], Labels={"k": "v"})
    rec = daemon.world.records[cid]
    cfg = json.loads(rec.config_json)
    assert rec.name == "web" and rec.image == "busybox" and rec.image_id.startswith("sha256:")
    assert cfg["Cmd"] == ["sh"]                                  # from the image
    assert cfg["Env"] == ["A=1", "FROM_IMAGE=2", "PATH=/usr/bin:/bin"]  # user first, by key
    assert cfg["Hostname"] == cid[:12]
    assert dict(rec.labels) == {"from.image": "yes", "k": "v"}
    assert rec.snapshot_key == cid and cid in daemon.world.snapshots
    spec = json.loads(rec.spec_json)
    assert spec["process"]["args"] == ["sh"] and spec["hostname"] == cid[:12]
    targets = [m["destination"] for m in spec["mounts"]]
    assert "/etc/hosts" in targets and "/etc/resolv.conf" in targets
    net = json.loads(rec.network_json)
    assert "bridge" in net["networks"] and not net["networks"]["bridge"].get("ip_address")
    assert net["netns_path"] == "/run/netns/x" and not net["attached"]  # a sandbox, no endpoint yet
    assert ("create", cid) in events(daemon)


def test_create_explicit_entrypoint_drops_image_cmd(client, daemon):
    cid = create(client, Entrypoint=["echo"])
    cfg = json.loads(daemon.world.records[cid].config_json)
    assert cfg["Entrypoint"] == ["echo"] and not cfg.get("Cmd")


def test_create_cli_default_endpoint_means_bridge(client, daemon):
    create(client, HostConfig={"NetworkMode": "default"},
           NetworkingConfig={"EndpointsConfig": {"default": {"Aliases": None}}})
    rec = next(iter(daemon.world.records.values()))
    assert list(json.loads(rec.network_json)["networks"]) == ["bridge"]


@pytest.mark.parametrize("body,headers,status,fragment", [
    ('{"Image":"busybox"}', {"Content-Type": "text/plain"}, 400, "must be 'application/json'"),
    ("{}", JSON, 400, "Config cannot be empty"),
    ("", JSON, 400, "Config cannot be empty"),
    ("{not json", JSON, 400, "invalid character 'n'"),
    ('{"Image":"Upper/Case"}', JSON, 400, "invalid reference format"),
    ('{"Image":"nothere"}', JSON, 404, "No such image: nothere:latest"),
    ('{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}', JSON, 400,
     "invalid restart policy"),
    ('{"Image":"busybox","HostConfig":{"Memory":1024}}', JSON, 400, "Minimum memory limit"),
    ('{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"x"}]}}}', JSON, 400,
     "invalid port"),
])
def test_create_rejects_bad_input(client, body, headers, status, fragment):
    r = client.post("/containers/create", data=body, headers=headers)
    assert r.status_code == status
    assert fragment in r.get_json()["message"]


@pytest.mark.parametrize("name", ["bad name", "-x", "sl/ash", "ümlaut", "a"])
def test_create_invalid_name(client, name):
    r = client.post("/containers/create", query_string={"name": name},
                    data='{"Image":"busybox"}', headers=JSON)
    assert r.status_code == 400
    assert r.get_json()["message"].startswith("Invalid container name (%s)" % name)


def test_create_name_conflict_is_409_with_dockers_words(client):
    cid = create(client, name="dupe")
    r = client.post("/containers/create?name=dupe", data='{"Image":"busybox"}', headers=JSON)
    assert r.status_code == 409
    assert r.get_json()["message"].startswith('Conflict. The container name "/dupe" is already in use '
                                              'by container "%s"' % cid)


def test_failed_create_undoes_snapshot_and_volumes(client, daemon):
    daemon.world.fail["Attach"] = errors.NotFound("network nope not found")
    r = client.post("/containers/create", data=json.dumps(
        {"Image": "busybox", "Volumes": {"/data": {}}, "HostConfig": {"NetworkMode": "nope"}}),
        headers=JSON)
    assert r.status_code == 404
    assert not daemon.world.snapshots and not daemon.world.records


def test_create_volumes_binds_and_tmpfs(client, daemon, tmp_path):
    host_dir = tmp_path / "made" / "here"
    cid = create(client, Volumes={"/anon": {}}, HostConfig={
        "Binds": ["named:/n", "%s:/b:ro" % host_dir], "Tmpfs": {"/t": "size=1m"}})
    rec = daemon.world.records[cid]
    mounts = {m["Destination"]: m for m in json.loads(rec.mounts_json)}
    assert mounts["/n"]["Name"] == "named" and mounts["/n"]["Type"] == "volume"
    assert mounts["/b"]["RW"] is False and host_dir.is_dir()   # bind source created
    assert mounts["/anon"]["Anonymous"] is True
    spec = {m["destination"]: m for m in json.loads(rec.spec_json)["mounts"]}
    assert spec["/t"]["type"] == "tmpfs" and "size=1m" in spec["/t"]["options"]
    assert "ro" in spec["/b"]["options"]
    # As Docker lists them: --tmpfs is no mount point, --mount type=tmpfs is.
    listed = client.get("/containers/%s/json" % cid).get_json()["Mounts"]
    assert "/t" not in {m["Destination"] for m in listed} and len(listed) == 3


def test_mount_type_tmpfs_is_listed(client, daemon):
    cid = create(client, HostConfig={"Mounts": [{"Type": "tmpfs", "Target": "/u"}]})
    listed = client.get("/containers/%s/json" % cid).get_json()["Mounts"]
    assert [(m["Type"], m["Destination"]) for m in listed] == [("tmpfs", "/u")]


# ---------------------------------------------------------------------- start / wait / stop / rm

def test_start_then_304_and_wait(client, daemon):
    cid = create(client)
    assert client.post("/containers/%s/start" % cid).status_code == 204
    assert ("tasks", "Create", cid) in daemon.world.calls
    assert client.post("/containers/%s/start" % cid).status_code == 304
    done = {}

    def waiter():
        done["r"] = client.post("/containers/%s/wait?condition=next-exit" % cid)
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    daemon.exit(cid, 7)
    t.join(5)
    assert json.loads(done["r"].data) == {"StatusCode": 7, "Error": None}
    # not-running on a stopped container answers at once
    r = client.post("/containers/%s/wait" % cid)
    assert json.loads(r.data)["StatusCode"] == 7


def test_start_runtime_error_is_400_and_autoremove_cleans_up(client, daemon):
    cid = create(client, HostConfig={"AutoRemove": True})
    daemon.world.fail["Create"] = errors.Internal(
        'exec: "/nope": stat /nope: no such file or directory')
    r = client.post("/containers/%s/start" % cid)
    assert r.status_code == 400 and "no such file or directory" in r.get_json()["message"]
    assert cid not in daemon.world.records and cid not in daemon.world.snapshots
    assert ("destroy", cid) in events(daemon)


def test_autoremove_after_exit(client, daemon):
    cid = create(client, HostConfig={"AutoRemove": True}, Volumes={"/anon": {}})
    client.post("/containers/%s/start" % cid)
    waiter = daemon.monitor.register(cid, "removed")
    daemon.exit(cid, 0)
    assert waiter.wait(5) == {"StatusCode": 0, "Error": None}
    assert cid not in daemon.world.records
    assert ("volumes", "Remove", "anon0") in daemon.world.calls
    acts = [a for a, i in events(daemon) if i == cid]
    assert acts[-2:] == ["die", "destroy"]


def test_remove_running_needs_force(client, daemon):
    cid = create(client, name="busy")
    client.post("/containers/%s/start" % cid)
    r = client.delete("/containers/busy")
    assert r.status_code == 409
    assert r.get_json()["message"] == ("You cannot remove a running container %s. Stop the container "
                                       "before attempting removal or force remove" % cid)
    threading.Thread(target=lambda: (time.sleep(0.2), daemon.monitor._handle(
        daemon.clients.tasks.events.get()))).start()
    assert client.delete("/containers/busy?force=1").status_code == 204
    assert cid not in daemon.world.records and ("networks", "Detach", cid) in daemon.world.calls
    assert client.delete("/containers/busy").get_json()["message"] == "No such container: busy"


def test_stop_and_kill(client, daemon):
    cid = create(client)
    assert client.post("/containers/%s/stop" % cid).status_code == 304
    r = client.post("/containers/%s/kill" % cid)
    assert r.status_code == 409 and "is not running" in r.get_json()["message"]
    client.post("/containers/%s/start" % cid)
    threading.Thread(target=lambda: daemon.monitor._handle(daemon.clients.tasks.events.get())).start()
    assert client.post("/containers/%s/stop?t=5" % cid).status_code == 204
    assert ("tasks", "Kill", cid, 15) in daemon.world.calls
    assert [a for a, i in events(daemon) if i == cid][-3:] == ["kill", "die", "stop"]


def test_kill_ends_restart_policies_as_dockerd(client, daemon):
    """docker kill (e.g. docker-compose kill) leaves a restart-policy container stopped."""
    def killed(policy, signal, stop_signal=None):
        body = {"HostConfig": {"RestartPolicy": {"Name": policy}}}
        if stop_signal:
            body["StopSignal"] = stop_signal
        cid = create(client, **body)
        client.post("/containers/%s/start" % cid)
        assert client.post("/containers/%s/kill?signal=%s" % (cid, signal)).status_code == 204
        return daemon.monitor.backend.is_manually_stopped(daemon.monitor.backend.get(cid))
    assert killed("unless-stopped", "SIGUSR1")
    assert killed("always", "SIGUSR1")                   # no StopSignal: any signal ends it
    assert killed("always", "SIGUSR2", stop_signal="SIGUSR2")
    assert not killed("always", "SIGUSR1", stop_signal="SIGUSR2")
    assert killed("unless-stopped", "SIGUSR1", stop_signal="SIGUSR2")


def test_pause_unpause_rename(client, daemon):
    cid = create(client, name="p1")
    assert client.post("/containers/p1/pause").status_code == 409
    client.post("/containers/p1/start")
    assert client.post("/containers/p1/unpause").get_json()["message"] == "Container %s is not paused" % cid
    assert client.post("/containers/p1/pause").status_code == 204
    assert client.post("/containers/p1/pause").status_code == 409
    assert client.post("/containers/p1/unpause").status_code == 204
    assert client.post("/containers/p1/rename?name=p2").status_code == 204
    assert client.get("/containers/p2/json").get_json()["Name"] == "/p2"


# ---------------------------------------------------------------------- inspect / list

def test_inspect_and_list(client, daemon):
    cid = create(client, name="one", Cmd=["sh", "-c", "true"], Labels={"team": "a"})
    create(client, name="two")
    info = client.get("/containers/one/json").get_json()
    assert info["Id"] == cid and info["Path"] == "sh" and info["Args"] == ["-c", "true"]
    assert info["State"]["Status"] == "created" and info["State"]["StartedAt"].startswith("0001")
    assert info["Config"]["Labels"]["team"] == "a" and info["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert info["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""  # until started
    assert client.get("/containers/json").get_json() == []
    items = client.get("/containers/json?all=1").get_json()
    assert {i["Names"][0] for i in items} == {"/one", "/two"}
    assert all(i["Status"] == "Created" for i in items)
    flt = json.dumps({"label": ["team=a"]})
    assert [i["Id"] for i in client.get("/containers/json", query_string={"all": 1, "filters": flt}).get_json()] == [cid]
    flt = json.dumps({"name": {"^/two$": True}})
    assert [i["Names"] for i in client.get("/containers/json", query_string={"all": 1, "filters": flt}).get_json()] == [["/two"]]
    client.post("/containers/one/start")
    running = client.get("/containers/json").get_json()
    assert [i["Id"] for i in running] == [cid] and running[0]["Status"].startswith("Up ")
    assert client.get("/containers/nope/json").status_code == 404


def test_status_text_and_human_duration():
    assert views.human_duration(0.5) == "Less than a second"
    assert views.human_duration(3) == "3 seconds"
    assert views.human_duration(90) == "About a minute"
    assert views.human_duration(7200) == "2 hours"


# ---------------------------------------------------------------------- logs

def test_logs_framing_timestamps_and_tail(client, daemon):
    cid = create(client)
    daemon.log(cid, 1, b"out\n", 1_700_000_000_123456789)
    daemon.log(cid, 2, b"err\n", 1_700_000_001_000000000)
    r = client.get("/containers/%s/logs?stdout=1&stderr=1" % cid)
    assert r.headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
    assert r.data == stdcopy.frame(1, b"out\n") + stdcopy.frame(2, b"err\n")
    r = client.get("/containers/%s/logs?stdout=1&timestamps=1&tail=1" % cid)
    assert r.data == stdcopy.frame(1, b"2023-11-14T22:13:20.123456789Z out\n")
    r = client.get("/containers/%s/logs" % cid)
    assert r.status_code == 400 and r.get_json()["message"] == "You must choose at least one stream"


# ---------------------------------------------------------------------- attach

def _hijacked_request(client, url):
    """Run the request with a socketpair as the hijackable connection; returns our end."""
    ours, theirs = socket.socketpair()
    rfile = theirs.makefile("rb")
    env = {hijack.ENVIRON_KEY: hijack.Slot(theirs, rfile)}
    t = threading.Thread(target=lambda: client.post(url, headers={"Upgrade": "tcp", "Connection": "Upgrade"},
                                                    environ_overrides=env), daemon=True)
    t.start()
    return ours, t


def _read_until(sock, needle, timeout=5):
    sock.settimeout(timeout)
    buf = b""
    while needle not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def test_attach_parks_until_start_then_streams_frames(client, daemon):
    cid = create(client, OpenStdin=True, StdinOnce=True)
    sock, t = _hijacked_request(client, "/v1.45/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1" % cid)
    head = _read_until(sock, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 UPGRADED") and b"multiplexed-stream" in head
    sock.sendall(b"typed early\n")
    sock.shutdown(socket.SHUT_WR)          # the CLI half-closes once its input ends
    assert client.post("/containers/%s/start" % cid).status_code == 204
    daemon.world.outputs[(cid, "")].put(shim_pb2.AttachOutput(stream=2, data=b"hello\n"))
    body = _read_until(sock, b"hello\n")
    assert body == stdcopy.frame(2, b"hello\n")
    daemon.exit(cid, 0)
    assert sock.recv(10) == b""            # closed once the process is done
    t.join(5)
    time.sleep(0.1)
    assert daemon.world.stdin[cid] == [b"typed early\n", "CLOSED"]


def test_detach_keys():
    keys = parse_detach_keys("ctrl-p,ctrl-q")
    assert keys == b"\x10\x11"
    sc = DetachScanner(keys)
    assert sc.feed(b"ab\x10") == (b"ab", False)
    assert sc.feed(b"x") == (b"\x10x", False)
    assert sc.feed(b"\x10\x11rest") == (b"", True)
    with pytest.raises(errors.InvalidArgument):
        parse_detach_keys("ctrl-1x")


# ---------------------------------------------------------------------- exec

def test_exec_create_and_inspect(client, daemon):
    cid = create(client, name="ex", Env=["FROM_RUN=1"], User="app")
    r = client.post("/containers/ex/exec", data=json.dumps({"Cmd": ["sh", "-c", "exit 3"]}), headers=JSON)
    assert r.status_code == 409
    client.post("/containers/ex/start")
    r = client.post("/containers/ex/exec", data="{broken", headers=JSON)
    assert r.status_code == 400 and "invalid character" in r.get_json()["message"]
    r = client.post("/containers/ex/exec", data=json.dumps({"Cmd": ["sh", "-c", "exit 3"], "Env": ["E=2"]}),
                    headers=JSON)
    exec_id = r.get_json()["Id"]
    proc = daemon.world.execs_process
    assert proc["user"] == "app" and "FROM_RUN=1" in proc["env"] and "E=2" in proc["env"]
    info = client.get("/exec/%s/json" % exec_id).get_json()
    assert info["ExitCode"] is None and info["ContainerID"] == cid
    assert info["ProcessConfig"]["entrypoint"] == "sh"
    r = client.post("/exec/%s/start" % exec_id, data=json.dumps({"Detach": True}), headers=JSON)
    assert r.status_code == 200
    assert client.get("/exec/%s/json" % exec_id).get_json()["ExitCode"] == 3
    assert client.get("/containers/ex/json").get_json()["ExecIDs"] == [exec_id]
    assert client.get("/exec/nope/json").status_code == 404


# ---------------------------------------------------------------------- pure helpers

def test_plan_mounts_prefers_binds_over_image_volumes():
    plan = cc.plan_mounts({"Volumes": {"/data": {}}}, {"Binds": ["vol:/data"]})
    assert [(p["kind"], p["name"]) for p in plan] == [("volume", "vol")]
    with pytest.raises(errors.InvalidArgument):
        cc.plan_mounts({}, {"Binds": ["aa:/x", "bb:/x"]})


def test_parse_signal():
    assert cc.parse_signal("SIGUSR1") == 10 and cc.parse_signal("term") == 15
    assert cc.parse_signal("9") == 9 and cc.parse_signal("", 9) == 9
    with pytest.raises(errors.InvalidArgument):
        cc.parse_signal("NOPE")


def test_graph_driver_names_the_real_mount_point(client, daemon):
    """MergedDir is where shim-runner mounts the root filesystem (it exists while running)."""
    cid = create(client, name="gd")
    gd = client.get("/containers/gd/json").get_json()["GraphDriver"]
    assert gd["Name"] == "overlay2" and gd["Data"]["UpperDir"] == "/s/1/fs"
    assert gd["Data"]["MergedDir"] == os.path.join(daemon.layout.task_dir(cid), "rootfs")


def test_list_shows_the_image_id_once_the_reference_names_another_image():
    """moby daemon/list.go: the reference while it still names the container's image."""
    from dockyard_apiserver.backend.containers import listed_image
    iid = "sha256:" + "ab" * 32
    names = {"busybox:latest": iid, "other:1": "sha256:" + "cd" * 32}
    assert listed_image("busybox", iid, names) == "busybox"
    assert listed_image("docker.io/library/busybox:latest", iid, names) == "docker.io/library/busybox:latest"
    assert listed_image("abab", iid, names) == "abab"                 # an id prefix
    assert listed_image("other:1", iid, names) == iid                  # the tag moved
    assert listed_image("gone:1", iid, names) == iid                   # the tag went away
    assert listed_image("", iid, names) == iid


def test_a_failed_restart_names_the_container_as_dockerd(client, daemon):
    create(client, name="rs1")
    daemon.world.fail["Create"] = errors.Internal(
        'exec: "nosuchcmd": executable file not found in $PATH')
    r = client.post("/containers/rs1/restart")
    assert r.status_code == 400
    assert r.get_json()["message"].startswith("Cannot restart container rs1: ")
    assert "executable file not found" in r.get_json()["message"]
