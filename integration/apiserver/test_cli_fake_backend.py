"""The real docker CLIs (20.10 and 28.x) and docker-py against the apiserver's HTTP server with
fake gRPC services behind it: system, images, volumes, networks, events."""

import io
import json
import tarfile
import time

import docker
import pytest

from conftest import DOCKER_CLIS


@pytest.fixture(params=DOCKER_CLIS)
def cli(request, fake_server, cli_runner):
    return cli_runner(fake_server.host, request.param)


def _ok(r):
    assert r.returncode == 0, (r.args, r.stdout, r.stderr)
    return r.stdout.decode()


def test_version_and_info(cli):
    out = json.loads(_ok(cli("version", "--format", "{{json .Server}}")))
    assert out["ApiVersion"] == "1.45" or out["ApiVersion"]
    assert _ok(cli("version", "--format", "{{.Server.Os}}")).strip() == "linux"
    text = _ok(cli("info"))
    assert "Server Version: 25.0.0-dockyard" in text and "Cgroup Driver: cgroupfs" in text
    r = cli("info")
    assert b"ERROR" not in r.stderr and b"error" not in r.stderr.lower(), r.stderr
    assert _ok(cli("info", "--format", "{{.Driver}}")).strip() == "overlay2"


def test_import_inspect_tag_rmi(cli, fake_server):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ti = tarfile.TarInfo("marker")
        ti.size = 3
        tar.addfile(ti, io.BytesIO(b"hi\n"))
    out = _ok(cli("import", "--change", 'CMD ["cat", "/marker"]', "--change", "ENV A=b",
                  "--message", "msg", "-", "conformance/imp:t1", input=buf.getvalue()))
    assert out.strip().startswith("sha256:")
    header, data = fake_server.daemon.clients.images.imported[-1]
    assert data == buf.getvalue() and header.message == "msg"
    img = json.loads(_ok(cli("image", "inspect", "conformance/imp:t1")))[0]
    assert img["Config"]["Cmd"] == ["cat", "/marker"] and "A=b" in img["Config"]["Env"]
    _ok(cli("tag", "conformance/imp:t1", "conformance/imp:t2"))
    listed = _ok(cli("images", "--format", "{{.Repository}}:{{.Tag}}", "conformance/imp")).split()
    assert sorted(listed) == ["conformance/imp:t1", "conformance/imp:t2"]
    r1 = _ok(cli("rmi", "conformance/imp:t1"))
    assert "Untagged: conformance/imp:t1" in r1 and "Deleted" not in r1
    r2 = _ok(cli("rmi", "conformance/imp:t2"))
    assert "Deleted: " + img["Id"] in r2
    r = cli("image", "inspect", "conformance/imp:t1")
    assert r.returncode == 1 and b"no such image" in r.stderr.lower()
    r = cli("rmi", "conformance/none:x")
    assert r.returncode == 1 and b"no such image" in r.stderr.lower()


def test_pull_from_an_unreachable_registry_fails(cli):
    r = cli("pull", "busybox")
    assert r.returncode != 0 and b"no such host" in r.stderr


def test_save_load(cli, fake_server, tmp_path):
    fake_server.daemon.clients.images.add(["saveme:latest"])
    out = tmp_path / "x.tar"
    _ok(cli("save", "-o", out, "saveme"))
    with tarfile.open(out) as tar:
        assert "manifest.json" in tar.getnames()
    assert "Loaded image: loaded:latest" in _ok(cli("load", "-i", out))


def test_volumes(cli):
    assert _ok(cli("volume", "create", "--label", "p=c", "clivol")).strip() == "clivol"
    info = json.loads(_ok(cli("volume", "inspect", "clivol")))[0]
    assert info["Labels"] == {"p": "c"} and info["Scope"] == "local"
    assert _ok(cli("volume", "ls", "--filter", "name=clivol", "--format", "{{.Driver}} {{.Name}}")).split("\n")[0] \
        == "local clivol"
    assert _ok(cli("volume", "rm", "clivol")).strip() == "clivol"
    r = cli("volume", "inspect", "clivol")
    assert r.returncode == 1


def test_networks(cli):
    _ok(cli("network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.1", "--label", "a=b", "clinet"))
    net = json.loads(_ok(cli("network", "inspect", "clinet")))[0]
    assert net["Driver"] == "bridge" and net["IPAM"]["Config"][0]["Subnet"] == "10.77.0.0/24"
    r = cli("network", "create", "clinet")
    assert r.returncode != 0 and b"already exists" in r.stderr
    assert "clinet" in _ok(cli("network", "ls", "--format", "{{.Name}}")).split()
    _ok(cli("network", "rm", "clinet"))
    r = cli("network", "inspect", "clinet")
    assert r.returncode == 1


def test_events_since_until(cli, fake_server):
    since = time.time() - 1
    fake_server.daemon.events.emit("container", "create", "e" * 64, {"name": "evc", "image": "busybox"})
    fake_server.daemon.events.emit("container", "die", "e" * 64, {"name": "evc", "image": "busybox",
                                                                  "exitCode": "3"})
    out = _ok(cli("events", "--since", "%d" % since, "--until", "%d" % (time.time() + 1),
                  "--filter", "container=evc", "--format", "{{.Action}} {{.Actor.Attributes.name}}"))
    assert out.splitlines()[-2:] == ["create evc", "die evc"]


def test_sdk(fake_server):
    client = docker.DockerClient(base_url=fake_server.host, version="auto")
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.45"
        assert client.info()["OSType"] == "linux"
        since = int(time.time()) - 1
        fake_server.daemon.events.emit("container", "start", "f" * 64, {"name": "sdk", "image": "b"})
        evs = list(client.events(since=since, until=int(time.time()) + 1, decode=True,
                                 filters={"type": "container", "container": "f" * 64}))
        assert [e["Action"] for e in evs] == ["start"]
        vol = client.volumes.create(name="sdkvol", labels={"via": "sdk"})
        assert client.volumes.get("sdkvol").attrs["Labels"] == {"via": "sdk"}
        vol.remove()
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("sdkvol")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("nothere:x")
    finally:
        client.close()
