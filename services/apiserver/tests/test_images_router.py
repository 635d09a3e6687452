import io
import json
import tarfile


def _lines(r):
    return [json.loads(l) for l in r.data.decode().splitlines() if l.strip()]


def test_list_and_filters(client, daemon):
    a = daemon.clients.images.add(["busybox:latest", "conformance/x:one"], config={"Labels": {"k": "v"}})
    b = daemon.clients.images.add([])
    out = client.get("/images/json").get_json()
    assert {i["Id"] for i in out} == {a.id, b.id}
    s = [i for i in out if i["Id"] == a.id][0]
    assert s["SharedSize"] == -1 and s["Containers"] == -1 and s["Labels"] == {"k": "v"}
    assert "VirtualSize" not in s
    old = client.get("/v1.41/images/json").get_json()
    assert [i for i in old if i["Id"] == b.id][0]["RepoTags"] == ["<none>:<none>"]
    assert "VirtualSize" in old[0]
    dang = client.get("/images/json", query_string={"filters": json.dumps({"dangling": ["true"]})}).get_json()
    assert [i["Id"] for i in dang] == [b.id]
    ref = client.get("/images/json", query_string={"filters": json.dumps({"reference": ["conformance/x"]})}).get_json()
    assert len(ref) == 1 and ref[0]["RepoTags"] == ["conformance/x:one"]
    ref = client.get("/images/json", query_string={"filters": json.dumps({"reference": {"conformance/*:*": True}})}).get_json()
    assert ref[0]["RepoTags"] == ["conformance/x:one"]
    lab = client.get("/images/json", query_string={"filters": json.dumps({"label": ["k=v"]})}).get_json()
    assert [i["Id"] for i in lab] == [a.id]
    bad = client.get("/images/json", query_string={"filters": json.dumps({"dangling": ["maybe"]})})
    assert bad.status_code == 400


def _flt(client, path, **flt):
    path, _, all_ = path.partition("?all=")
    return client.get(path, query_string={"filters": json.dumps(flt), "all": all_ or "0"})


def test_dangling_filter_as_dockerd(client, daemon):
    # moby 20.10 Images(): dangling=true = no tags (digests do not count) and no children;
    # dangling=false drops only images with neither tags nor digests; "1" is no boolean here
    parent = daemon.clients.images.add([])
    child = daemon.clients.images.add([], parent=parent.id)
    digested = daemon.clients.images.add([])
    digested.repo_digests.append("conformance/d@sha256:" + "2" * 64)
    tagged = daemon.clients.images.add(["conformance/t:1"])
    ids = lambda r: {i["Id"] for i in r.get_json()}
    dang = _flt(client, "/images/json?all=1", dangling=["true"])
    assert ids(dang) == {child.id, digested.id}
    assert ids(_flt(client, "/images/json", dangling=["maybe", "true"])) == {child.id, digested.id}
    assert ids(_flt(client, "/images/json?all=1", dangling=["false"])) == {digested.id, tagged.id}
    bad = _flt(client, "/images/json", dangling=["1"])
    assert bad.status_code == 400 and bad.get_json()["message"] == "Invalid filter 'dangling=[1]'"
    bad = _flt(client, "/images/json", foo=["bar"])
    assert bad.status_code == 400 and bad.get_json()["message"] == "Invalid filter 'foo'"
    bad = client.post("/images/prune", query_string={"filters": json.dumps({"dangling": ["no"]})})
    assert bad.status_code == 400 and bad.get_json()["message"] == "Invalid filter 'dangling=[no]'"


def test_inspect(client, daemon):
    a = daemon.clients.images.add(["busybox:latest"], config={"Cmd": ["sh"]})
    doc = client.get("/images/busybox/json").get_json()
    assert doc["Id"] == a.id and doc["Config"]["Cmd"] == ["sh"] and doc["Config"]["Env"] is None
    assert doc["RootFS"] == {"Type": "layers", "Layers": ["sha256:" + "1" * 64]}
    assert doc["GraphDriver"]["Name"] == "overlay2" and doc["Os"] == "linux"
    assert doc["Comment"] == "first"
    # Kept at API 1.45 (which dropped them): docker-compose 1.29 reads ContainerConfig.Volumes.
    assert doc["Container"] == "" and doc["ContainerConfig"]["Volumes"] is None
    old = client.get("/v1.41/images/%s/json" % a.id[7:19]).get_json()
    assert old["Id"] == a.id and old["Container"] == "" and "VirtualSize" in old
    r = client.get("/images/nope/json")
    # dockerd 20.10 wraps the lookup error with the name as given
    assert r.status_code == 404 and r.get_json()["message"] == "no such image: nope: No such image: nope:latest"


def test_slashed_names(client, daemon):
    a = daemon.clients.images.add(["example.com:5000/a/b:v1"])
    assert client.get("/images/example.com:5000/a/b:v1/json").get_json()["Id"] == a.id
    assert client.get("/images/example.com:5000/a/b:v1/history").status_code == 200
    r = client.post("/images/example.com:5000/a/b:v1/tag?repo=conformance/c&tag=t")
    assert r.status_code == 201
    assert "conformance/c:t" in daemon.clients.images.images[a.id].repo_tags


def test_tag_errors(client, daemon):
    daemon.clients.images.add(["busybox:latest"])
    r = client.post("/images/busybox/tag?repo=Upper/Case")
    assert r.status_code == 400 and "invalid reference format" in r.get_json()["message"]
    r = client.post("/images/missing/tag?repo=x")
    assert r.status_code == 404 and "No such image" in r.get_json()["message"]


def test_history(client, daemon):
    daemon.clients.images.add(["busybox:latest"])
    h = client.get("/images/busybox:latest/history").get_json()
    assert h[0]["CreatedBy"].startswith("/bin/sh") and h[0]["Comment"] == "first"


def test_delete_untag_then_delete(client, daemon):
    a = daemon.clients.images.add(["x:a", "x:b"])
    r = client.delete("/images/x:a")
    assert r.get_json() == [{"Untagged": "x:a"}]
    r = client.delete("/images/x:b")
    assert r.get_json() == [{"Untagged": "x:b"}, {"Deleted": a.id}]


def test_delete_in_use_by_tag_conflicts(client, daemon):
    a = daemon.clients.images.add(["x:a"])
    daemon.clients.containers.add("f" * 64, "user", a.id)
    r = client.delete("/images/x:a")
    assert r.status_code == 409
    msg = r.get_json()["message"]
    assert msg == ('conflict: unable to remove repository reference "x:a" (must force) - container '
                   'ffffffffffff is using its referenced image %s' % a.id[7:19])


def test_delete_by_id_running_conflicts_even_forced(client, daemon):
    a = daemon.clients.images.add(["x:a"])
    daemon.clients.containers.add("f" * 64, "user", a.id, running=True)
    r = client.delete("/images/%s?force=1" % a.id[7:19])
    assert r.status_code == 409
    assert r.get_json()["message"] == ("conflict: unable to delete %s (cannot be forced) - image is being "
                                       "used by running container ffffffffffff" % a.id[7:19])


def test_delete_by_id_stopped_must_force(client, daemon):
    a = daemon.clients.images.add(["x:a"])
    daemon.clients.containers.add("f" * 64, "user", a.id)
    r = client.delete("/images/%s" % a.id)
    assert r.status_code == 409 and "(must be forced) - image is being used by stopped container" in r.get_json()["message"]
    r = client.delete("/images/%s?force=true" % a.id)
    assert r.status_code == 200 and {"Deleted": a.id} in r.get_json()


def test_delete_by_id_multiple_tags_must_force(client, daemon):
    a = daemon.clients.images.add(["x:a", "y:b"])
    r = client.delete("/images/%s" % a.id[7:])
    assert r.status_code == 409 and "referenced in multiple repositories" in r.get_json()["message"]


def test_delete_missing(client):
    r = client.delete("/images/nothere")
    assert r.status_code == 404 and "No such image" in r.get_json()["message"]


def test_prune_dangling_with_label(client, daemon):
    keep = daemon.clients.images.add([], config={"Labels": {"p": "1"}})
    used = daemon.clients.images.add([], config={"Labels": {"p": "1"}})
    daemon.clients.containers.add("f" * 64, "u", used.id)
    tagged = daemon.clients.images.add(["t:1"], config={"Labels": {"p": "1"}})
    other = daemon.clients.images.add([], config={"Labels": {"p": "2"}})
    daemon.clients.images.layer_sizes[keep.id] = 2
    r = client.post("/images/prune", query_string={"filters": json.dumps({"label": {"p=1": True}})})
    body = r.get_json()
    assert body["ImagesDeleted"] == [{"Deleted": keep.id}, {"Deleted": "sha256:" + "c" * 64}]
    # dockerd counts the diff sizes of the layers that went, not the image's size (1234)
    assert body["SpaceReclaimed"] == 2
    assert set(daemon.clients.images.images) == {used.id, tagged.id, other.id}


def test_import_with_changes(client, daemon):
    data = b"x" * 3000
    r = client.post("/images/create", data=data, query_string=[
        ("fromSrc", "-"), ("repo", "conformance/imp:t1"), ("message", "hello"),
        ("changes", "ENV GREETING=bonjour"), ("changes", 'CMD ["cat", "/marker"]'),
        ("changes", "WORKDIR /tmp"), ("changes", "EXPOSE 80 53/udp"), ("changes", "ENTRYPOINT /bin/true")])
    assert r.status_code == 200, r.data
    (status,) = _lines(r)
    header, got = daemon.clients.images.imported[0]
    assert got == data
    assert header.repo_tag == "conformance/imp:t1" and header.message == "hello"
    cfg = json.loads(header.config_json)
    assert cfg["Env"] == ["GREETING=bonjour"] and cfg["Cmd"] == ["cat", "/marker"]
    assert cfg["WorkingDir"] == "/tmp" and cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/true"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert status["status"] == daemon.clients.images._find("conformance/imp:t1").id
    events = daemon.events.history()
    assert [e["Action"] for e in events] == ["tag", "import"]  # dockerd tags first


def test_import_repo_and_tag_params(client, daemon):
    r = client.post("/images/create?fromSrc=-&repo=conformance/sdk&tag=v1", data=b"abc")
    assert r.status_code == 200
    assert daemon.clients.images.imported[0][0].repo_tag == "conformance/sdk:v1"


def test_import_errors(client):
    r = client.post("/images/create?fromSrc=-&changes=RUN+true", data=b"abc")
    assert r.status_code == 400 and "run is not a valid change command" in r.get_json()["message"]
    r = client.post("/images/create?fromSrc=http://example.com/x.tar", data=b"")
    assert r.status_code == 400
    r = client.post("/images/create?fromSrc=-&repo=Bad/Name", data=b"abc")
    assert r.status_code == 400
    r = client.post("/images/create")
    assert r.status_code == 400


def test_pull_of_a_bad_reference_is_400(client):
    # pulling itself: test_images_registry.py
    r = client.post("/images/create?fromImage=UPPER")
    assert r.status_code == 400


def test_load_and_save(client, daemon):
    r = client.post("/images/load?quiet=1", data=b"tar-bytes" * 1000)
    assert _lines(r) == [{"stream": "Loaded image: loaded:latest\n"}]
    assert daemon.clients.images.loaded == [b"tar-bytes" * 1000]
    r = client.get("/images/get?names=loaded:latest")
    assert r.status_code == 200 and r.mimetype == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.data)) as tar:
        assert json.load(tar.extractfile("manifest.json")) == [{"RepoTags": ["loaded:latest"]}]
    r = client.get("/images/loaded/get")
    assert r.status_code == 200
    r = client.get("/images/missing/get")
    assert r.status_code == 404


def test_load_error_is_a_stream_line(client, daemon, monkeypatch):
    # dockerd answers 200 and writes a load's error as an errorDetail line
    from dockyard_common import errors

    def bad(*_a, **_k):
        raise errors.InvalidArgument("Error processing tar file(exit status 1): unexpected EOF")
    monkeypatch.setattr(daemon.clients.images, "Load", bad)
    r = client.post("/images/load", data=b"x")
    msg = "Error processing tar file(exit status 1): unexpected EOF"
    assert r.status_code == 200 and _lines(r) == [{"errorDetail": {"message": msg}, "error": msg}]


def test_save_names_as_dockerd(client, daemon):
    # a bare repository name saves each of its tags; misses answer as moby's tarexport
    a = daemon.clients.images.add(["conformance/s:2", "conformance/s:1", "other:latest"])
    r = client.get("/images/get?names=conformance/s")
    assert r.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(r.data)) as tar:
        assert json.load(tar.extractfile("manifest.json")) == [{"RepoTags": ["conformance/s:1",
                                                                             "conformance/s:2"]}]
    r = client.get("/images/get?names=conformance/s:3")
    assert r.status_code == 404 and r.get_json()["message"] == "reference does not exist"
    r = client.get("/images/get?names=conformance/none")
    assert r.status_code == 404 and r.get_json()["message"] == "No such image: conformance/none"
    r = client.get("/images/get?names=" + a.id[7:19])
    assert r.status_code == 200


def test_commit_applies_changes_and_merges_container_config(client, daemon):
    base = daemon.clients.images.add(["busybox:latest"])
    c = daemon.clients.containers.add("c" * 64, "src", base.id, running=True)
    c.config_json = json.dumps({"Cmd": ["sh", "-c", "echo x > /x"], "Env": ["PATH=/bin", "A=1"],
                                "Labels": {"l": "1"}, "WorkingDir": "/w"}).encode()
    c.snapshot_key = c.id
    r = client.post("/commit", query_string=[("container", "src"), ("repo", "conformance/c"), ("tag", "t1"),
                                             ("comment", "second layer"), ("author", "me"),
                                             ("changes", 'CMD ["cat", "/x"]'), ("changes", "ENV A=2")])
    assert r.status_code == 201, r.data
    image_id = r.get_json()["Id"]
    req = daemon.clients.images.committed[-1]
    cfg = json.loads(req.config_json)
    assert cfg["Cmd"] == ["cat", "/x"] and cfg["Env"] == ["PATH=/bin", "A=2"]
    assert cfg["Labels"] == {"l": "1"} and cfg["WorkingDir"] == "/w"
    assert req.created_by == "sh -c echo x > /x" and req.comment == "second layer" and req.author == "me"
    assert req.repo_tag == "conformance/c:t1" and req.parent_image == base.id
    assert daemon.clients.tasks.calls == [("pause", c.id), ("resume", c.id)]
    evs = daemon.events.history()
    # dockerd: pause, tag, commit, unpause (the commit is reported while still paused)
    assert [e["Action"] for e in evs[-4:]] == ["pause", "tag", "commit", "unpause"]
    ev = evs[-2]
    assert ev["Actor"]["Attributes"]["imageID"] == image_id
    assert evs[-3]["Actor"]["ID"] == image_id and evs[-3]["Actor"]["Attributes"]["name"] == "conformance/c:t1"
    r = client.post("/commit?container=missing")
    assert r.status_code == 404 and r.get_json()["message"] == "No such container: missing"
