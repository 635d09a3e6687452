import json
import re


def test_volume_create_inspect_list_remove(client, daemon):
    r = client.post("/volumes/create", json={"Name": "v1", "Labels": {"purpose": "t"}})
    assert r.status_code == 201
    v = r.get_json()
    assert v["Name"] == "v1" and v["Driver"] == "local" and v["Labels"] == {"purpose": "t"}
    assert v["Scope"] == "local" and v["Mountpoint"].startswith("/")
    assert client.post("/volumes/create", json={"Name": "v1"}).status_code == 201  # idempotent
    client.post("/volumes/create", json={"Name": "other"})
    ls = client.get("/volumes", query_string={"filters": json.dumps({"name": ["v1"]})}).get_json()
    assert [x["Name"] for x in ls["Volumes"]] == ["v1"] and ls["Warnings"] == []
    ls = client.get("/volumes", query_string={"filters": json.dumps({"label": {"purpose=t": True}})}).get_json()
    assert [x["Name"] for x in ls["Volumes"]] == ["v1"]
    assert client.get("/volumes/v1").get_json()["Name"] == "v1"
    assert client.delete("/volumes/v1").status_code == 204
    r = client.get("/volumes/v1")
    assert r.status_code == 404 and r.get_json()["message"] == "get v1: no such volume"
    assert client.delete("/volumes/v1?force=1").status_code == 204
    assert client.delete("/volumes/v1").status_code == 404
    assert daemon.events.history()[-1]["Action"] == "destroy"


def test_volume_bad_input(client):
    r = client.post("/volumes/create", data="{not json", content_type="application/json")
    assert r.status_code == 400 and "invalid character" in r.get_json()["message"]
    r = client.post("/volumes/create", json={"Name": "bad name"})
    assert r.status_code == 400
    r = client.post("/volumes/create", json={"Driver": "nfs"})
    assert r.status_code == 404 and re.fullmatch(
        r'create [0-9a-f]{64}: error looking up volume plugin nfs: plugin "nfs" not found',
        r.get_json()["message"])
    r = client.post("/volumes/create", json={"Name": "x1", "Driver": "nfs"})
    assert r.get_json()["message"] == 'create x1: error looking up volume plugin nfs: plugin "nfs" not found'


def test_volume_in_use(client, daemon):
    client.post("/volumes/create", json={"Name": "busy"})
    v = daemon.clients.volumes.vols["busy"]
    v.ref_count = 1
    v.users.append("c" * 64)
    r = client.delete("/volumes/busy")
    assert r.status_code == 409 and "volume is in use" in r.get_json()["message"]


def test_volume_prune(client, daemon):
    client.post("/volumes/create", json={"Name": "named", "Labels": {"l": "1"}})
    client.post("/volumes/create", json={"Labels": {"l": "1"}})  # anonymous
    client.post("/volumes/create", json={"Name": "used", "Labels": {"l": "1"}})
    daemon.clients.volumes.vols["used"].ref_count = 1
    only_anon = json.dumps({"label": ["l=1"], "all": ["false"]})
    r = client.post("/volumes/prune", query_string={"filters": only_anon}).get_json()
    assert r["VolumesDeleted"] == ["a" * 64]
    flt = json.dumps({"label": ["l=1"]})   # named too, as dockerd 20.10 (the acceptance suite)
    r = client.post("/volumes/prune", query_string={"filters": flt}).get_json()
    assert r["VolumesDeleted"] == ["named"]
    assert set(daemon.clients.volumes.vols) == {"used"}


def test_network_create_list_inspect_remove(client, daemon):
    r = client.post("/networks/create", json={"Name": "n1", "Labels": {"a": "b"},
                                              "IPAM": {"Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]}})
    assert r.status_code == 201
    nid = r.get_json()["Id"]
    assert r.get_json()["Warning"] == ""
    dup = client.post("/networks/create", json={"Name": "n1"})
    assert dup.status_code == 409 and "already exists" in dup.get_json()["message"]
    doc = client.get("/networks/n1").get_json()
    assert doc["Id"] == nid and doc["Driver"] == "bridge"
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]
    ls = client.get("/networks", query_string={"filters": json.dumps({"name": ["n1"]})}).get_json()
    assert [n["Name"] for n in ls] == ["n1"]
    builtin = client.get("/networks", query_string={"filters": json.dumps({"type": ["builtin"]})}).get_json()
    assert {n["Name"] for n in builtin} == {"bridge", "host", "none"}
    assert client.delete("/networks/n1").status_code == 204
    r = client.get("/networks/n1")
    assert r.status_code == 404 and r.get_json()["message"] == "network n1 not found"


def test_network_errors(client, daemon):
    r = client.post("/networks/create", data="{not json", content_type="application/json")
    assert r.status_code == 400 and "invalid character" in r.get_json()["message"]
    r = client.post("/networks/create", json={"Name": "x", "Driver": "overlay"})
    assert r.status_code == 503 and "not a swarm manager" in r.get_json()["message"]
    assert client.post("/networks/create", json={"Name": "host"}).status_code == 403
    assert client.delete("/networks/bridge").status_code == 403
    r = client.post("/networks/bridge/connect", data="[1,", content_type="application/json")
    assert r.status_code == 400
    n = daemon.clients.networks.Create(type("R", (), {"name": "busy", "driver": "bridge", "labels": {},
                                                      "ipam": []})())
    n.endpoints.add(container_id="c" * 64, ip_address="10.0.0.2", prefix_len=24)
    r = client.delete("/networks/busy")
    assert r.status_code == 403 and "active endpoints" in r.get_json()["message"]


def test_network_prune(client, daemon):
    client.post("/networks/create", json={"Name": "p1", "Labels": {"l": "1"}})
    client.post("/networks/create", json={"Name": "p2", "Labels": {"l": "2"}})
    r = client.post("/networks/prune", query_string={"filters": json.dumps({"label": ["l=1"]})}).get_json()
    assert r == {"NetworksDeleted": ["p1"]}
