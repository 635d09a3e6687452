import json
import time


def test_ping_get_and_head(client):
    r = client.get("/_ping")
    assert r.status_code == 200 and r.data == b"OK"
    assert r.headers["Api-Version"] == "1.45"
    assert r.headers["Ostype"] == "linux"
    assert r.headers["Docker-Experimental"] == "false"
    assert r.headers["Builder-Version"] == "1"
    assert r.headers["Cache-Control"].startswith("no-cache")
    r = client.head("/v1.41/_ping")
    assert r.status_code == 200 and r.data == b""


def test_version(client):
    v = client.get("/v1.41/version").get_json()
    assert v["ApiVersion"] == "1.45" and v["Os"] == "linux"
    assert v["MinAPIVersion"] == "1.24"
    assert any(c["Name"] == "Engine" for c in v["Components"])
    assert v["Platform"] == {"Name": "dockyard"}


def test_version_prefix_too_new(client):
    r = client.get("/v9.99/info")
    assert r.status_code == 400 and "too new" in r.get_json()["message"]


def test_info_counts(client, daemon):
    img = daemon.clients.images.add(["busybox:latest"])
    daemon.clients.containers.add("a" * 64, "one", img.id, running=True)
    daemon.clients.containers.add("b" * 64, "two", img.id, running=False)
    info = client.get("/info").get_json()
    assert info["Containers"] == 2 and info["ContainersRunning"] == 1
    assert info["ContainersStopped"] == 1 and info["ContainersPaused"] == 0
    assert info["Images"] == 1
    assert info["MemTotal"] > 0 and info["NCPU"] >= 1
    assert info["CgroupVersion"] in ("1", "2")
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["RegistryConfig"]["InsecureRegistryCIDRs"] == ["127.0.0.0/8"]
    assert info["DockerRootDir"] == daemon.layout.data_root


def test_system_df(client, daemon):
    daemon.clients.images.add(["busybox:latest"])
    df = client.get("/system/df").get_json()
    assert len(df["Images"]) == 1 and df["LayersSize"] == 1234


def test_unknown_route_404(client):
    r = client.get("/v1.45/definitely/not/a/route")
    assert r.status_code == 404
    assert r.get_json() == {"message": "page not found"}


def test_events_past_only(client, daemon):
    t0 = time.time()
    daemon.events.emit("container", "start", "c" * 64, {"name": "web", "image": "busybox"})
    daemon.events.emit("network", "create", "n" * 64, {"name": "net1"})
    r = client.get("/events?since=%f&until=%f" % (t0 - 1, time.time()))
    lines = [json.loads(l) for l in r.data.decode().splitlines()]
    assert [e["Action"] for e in lines] == ["start", "create"]
    ev = lines[0]
    assert ev["status"] == "start" and ev["id"] == "c" * 64 and ev["from"] == "busybox"
    assert ev["Actor"]["Attributes"]["name"] == "web" and ev["scope"] == "local"
    assert "status" not in lines[1]


def test_events_filters(client, daemon):
    t0 = int(time.time()) - 1
    daemon.events.emit("container", "start", "c" * 64, {"name": "web", "image": "busybox"})
    daemon.events.emit("container", "die", "d" * 64, {"name": "db", "image": "busybox", "exitCode": "3"})
    daemon.events.emit("image", "tag", "sha256:" + "e" * 64, {"name": "busybox:latest"})
    until = int(time.time()) + 0  # past (equal second) -> only replay
    flt = json.dumps({"type": ["container"], "container": ["db"]})
    r = client.get("/events", query_string={"since": str(t0), "until": str(until + 1), "filters": flt})
    lines = [json.loads(l) for l in r.data.decode().splitlines()]
    assert [e["Action"] for e in lines] == ["die"]
    # old map format, as the Go CLI sends
    flt = json.dumps({"event": {"tag": True}})
    r = client.get("/events", query_string={"since": str(t0), "until": str(until + 1), "filters": flt})
    assert [json.loads(l)["Action"] for l in r.data.decode().splitlines()] == ["tag"]


def test_events_bad_filter(client):
    r = client.get("/events", query_string={"filters": "{bad"})
    assert r.status_code == 400
    # dockerd 20.10 does not check the keys of /events filters: an unknown one is accepted
    r = client.get("/events", query_string={"filters": json.dumps({"nope": ["x"]}), "until": "1"})
    assert r.status_code == 200


def test_events_live_until_future(client, daemon):
    import threading
    def later():
        time.sleep(0.3)
        daemon.events.emit("volume", "create", "v1", {"driver": "local"})
    threading.Thread(target=later).start()
    t = time.time()
    r = client.get("/events", query_string={"until": "%.3f" % (t + 1.0)})
    lines = [json.loads(l) for l in r.data.decode().splitlines()]
    assert [e["Action"] for e in lines] == ["create"]
    assert time.time() - t >= 0.9
