"""The apiserver in a real stack (all six services on a private root), driven by the docker CLI
and docker-py: system endpoints, import with --change, inspect/tag/rmi, save/load, events,
volumes, networks."""

import json
import os
import tarfile
import time

import docker
import pytest

from dockyard_common.testing.rootfs import make_rootfs, tar_of


@pytest.fixture(scope="module")
def rootfs_tar(tmp_path_factory):
    """A minimal busybox root filesystem as a tar (bytes)."""
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")),
                       commands=("sh", "cat", "echo", "pwd", "true"),
                       files={"marker": "imported-marker\n"})
    return tar_of(root)


@pytest.fixture(scope="module")
def base(dcli, rootfs_tar):
    r = dcli("import", "--change", 'CMD ["sh"]', "-", "dyapi/busybox:latest", input=rootfs_tar,
             check=False)
    assert r.returncode == 0, r.stderr
    return "dyapi/busybox:latest"


def test_ping_version_info(stack, dcli):
    client = docker.DockerClient(base_url=stack.docker_host, version="auto")
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.45"
        info = client.info()
        assert info["DockerRootDir"] == stack.layout.data_root and info["NCPU"] >= 1
    finally:
        client.close()
    for binary in ("/usr/bin/docker", "/usr/local/bin/docker"):
        if os.path.exists(binary):
            r = dcli("info", binary=binary)
            assert b"Server Version: 25.0.0-dockyard" in r.stdout, r.stdout
            dcli("version", binary=binary)


def test_import_with_changes_and_inspect(dcli, rootfs_tar):
    r = dcli("import", "--change", "ENV GREETING=bonjour", "--change", 'CMD ["cat", "/marker"]',
             "--change", "WORKDIR /tmp", "--message", "imported here", "-", "dyapi/imp:t1",
             input=rootfs_tar)
    image_id = r.stdout.decode().strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    img = json.loads(dcli("image", "inspect", "dyapi/imp:t1").stdout)[0]
    assert img["Id"] == image_id
    assert img["Config"]["Cmd"] == ["cat", "/marker"]
    assert "GREETING=bonjour" in img["Config"]["Env"]
    assert img["Config"]["WorkingDir"] == "/tmp"
    assert img["Comment"] == "imported here"
    assert img["RootFS"]["Type"] == "layers" and len(img["RootFS"]["Layers"]) == 1
    assert img["Size"] > 1000000
    short = dcli("image", "inspect", "--format", "{{.Id}}", image_id[7:19]).stdout.decode().strip()
    assert short == image_id
    dcli("rmi", "dyapi/imp:t1")


def test_tag_list_rmi(dcli, base):
    dcli("tag", base, "dyapi/tagged:v2")
    a = json.loads(dcli("image", "inspect", base).stdout)[0]
    b = json.loads(dcli("image", "inspect", "dyapi/tagged:v2").stdout)[0]
    assert a["Id"] == b["Id"] and "dyapi/tagged:v2" in b["RepoTags"]
    listed = dcli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "dyapi/tagged").stdout.decode().split("\n")
    assert listed[0] == "dyapi/tagged:v2 %s" % a["Id"][7:19]
    r = dcli("rmi", "dyapi/tagged:v2")
    assert b"Untagged: dyapi/tagged:v2" in r.stdout and b"Deleted" not in r.stdout
    r = dcli("tag", "dyapi/none:x", "dyapi/y:z", check=False)
    assert r.returncode != 0 and b"no such image" in r.stderr.lower()
    r = dcli("rmi", "dyapi/none:x", check=False)
    assert r.returncode == 1 and b"no such image" in r.stderr.lower()


def test_save_load_round_trip(dcli, base, tmp_path):
    dcli("tag", base, "dyapi/saved:1")
    image_id = json.loads(dcli("image", "inspect", "dyapi/saved:1").stdout)[0]["Id"]
    out = tmp_path / "img.tar"
    dcli("save", "-o", out, "dyapi/saved:1")
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["dyapi/saved:1"]
    dcli("rmi", "dyapi/saved:1")
    r = dcli("load", "-i", out)
    assert b"Loaded image: dyapi/saved:1" in r.stdout
    assert json.loads(dcli("image", "inspect", "dyapi/saved:1").stdout)[0]["Id"] == image_id
    dcli("rmi", "dyapi/saved:1")


def test_sdk_import_save_load(stack, rootfs_tar):
    client = docker.DockerClient(base_url=stack.docker_host, version="auto")
    try:
        client.api.import_image_from_data(rootfs_tar, repository="dyapi/sdk", tag="v1",
                                          changes=['CMD ["cat", "/marker"]'])
        img = client.images.get("dyapi/sdk:v1")
        assert img.attrs["Config"]["Cmd"] == ["cat", "/marker"]
        data = b"".join(img.save(named="dyapi/sdk:v1"))
        client.images.remove("dyapi/sdk:v1")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("dyapi/sdk:v1")
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [img.id]
        client.images.remove("dyapi/sdk:v1")
    finally:
        client.close()


def test_image_events(stack, dcli, base):
    since = time.time() - 1
    dcli("tag", base, "dyapi/ev:1")
    dcli("rmi", "dyapi/ev:1")
    out = dcli("events", "--since", "%.3f" % since, "--until", "%.3f" % (time.time() + 0.5),
               "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.decode()
    lines = out.splitlines()
    assert "tag dyapi/ev:1" in lines and any(l.startswith("untag") for l in lines), lines


def test_volumes_and_networks(dcli):
    assert dcli("volume", "create", "--label", "p=x", "dyapi-vol").stdout.decode().strip() == "dyapi-vol"
    assert json.loads(dcli("volume", "inspect", "dyapi-vol").stdout)[0]["Labels"] == {"p": "x"}
    assert dcli("volume", "rm", "dyapi-vol").stdout.decode().strip() == "dyapi-vol"
    assert dcli("volume", "inspect", "dyapi-vol", check=False).returncode == 1
    dcli("network", "create", "--label", "p=x", "dyapi-net")
    net = json.loads(dcli("network", "inspect", "dyapi-net").stdout)[0]
    assert net["Driver"] == "bridge" and net["Labels"] == {"p": "x"}
    dup = dcli("network", "create", "dyapi-net", check=False)
    assert dup.returncode != 0 and b"already exists" in dup.stderr
    dcli("network", "rm", "dyapi-net")
    assert dcli("network", "inspect", "dyapi-net", check=False).returncode == 1


def test_run_imported_image(dcli, base):
    r = dcli("run", "--rm", base, "sh", "-c", "cat /marker", check=False)
    assert r.returncode == 0 and r.stdout == b"imported-marker\n", r


def test_sigterm_stops_cleanly_and_restart_serves(stack, dcli):
    proc = stack.procs["apiserver"]
    proc.send_signal(15)
    assert proc.wait(timeout=15) == 0
    assert not os.path.exists(stack.layout.docker_socket)
    stack.procs.pop("apiserver")
    stack.start_service("apiserver")
    assert dcli("version", "--format", "{{.Server.Version}}").stdout.strip() == b"25.0.0-dockyard"
    assert "dyapi/busybox:latest" in dcli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode()
