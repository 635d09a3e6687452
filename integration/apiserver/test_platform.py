"""Image platforms and pull policies through a real stack, against Debian's docker-registry on
127.0.0.1 holding a two-platform manifest list the test PUTs itself (multiplatform.py): an amd64
busybox and a fake linux/arm64/v8 image (the amd64 busybox layer with an arm64 config, so it
still runs here). Each image has /platform naming its platform, so `cat /platform` tells which
one a run used. What is asserted is what dockerd 20.10 answers (the CLI then behaves alike)."""

import json
import os
import subprocess
import sys

import docker
import pytest

from dockyard_common.testing.registry import Registry

import multiplatform

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MISMATCH = ("image with reference %s was found but does not match the specified platform: "
            "wanted %s, actual: %s")
HOST_WARNING = ("The requested image's platform (linux/arm64/v8) does not match the detected host "
                "platform (linux/amd64) and no specific platform was requested")


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_default_images.py"), str(out)],
                   check=True, capture_output=True)
    return str(out / "busybox.tar")


@pytest.fixture(scope="module")
def multi(tmp_path_factory, busybox_tar, stack, dcli):
    """The registry's repository (host/test/multi) and the ids of what the test put there."""
    with Registry(str(tmp_path_factory.mktemp("registry"))) as reg:
        info = multiplatform.push_two_platforms(reg.host, "test/multi", busybox_tar)
        info["repo"] = reg.host + "/test/multi"
        dcli("load", "-i", busybox_tar)
        yield info


@pytest.fixture(scope="module")
def api(stack):
    client = docker.APIClient(base_url=stack.docker_host, version="1.41", timeout=120)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def clean(dcli, multi):
    """Each test starts without the registry's images and leaves no container."""
    yield
    ids = dcli("ps", "-aq").out.split()
    if ids:
        dcli("rm", "-f", *ids)
    for tag in ("multi", "amd64only", "arm64only"):
        dcli("rmi", "%s:%s" % (multi["repo"], tag), check=False)


def _inspect(dcli, ref):
    return json.loads(dcli("image", "inspect", ref).out)[0]


def _create(api, image, platform, version="1.41"):
    return api._post_json(api._url("/containers/create").replace("/v1.41/", "/v%s/" % version),
                          data={"Image": image, "Cmd": ["true"]}, params={"platform": platform})


def test_pull_of_the_index_picks_the_platform(dcli, multi):
    ref = multi["repo"] + ":multi"
    out = dcli("pull", ref).out
    assert "Digest: " + multi["index"] in out
    img = _inspect(dcli, ref)
    assert (img["Id"], img["Os"], img["Architecture"]) == (multi["amd64"], "linux", "amd64")
    assert "Variant" not in img
    assert dcli("run", "--rm", ref, "cat", "/platform").out == "linux/amd64\n"

    dcli("pull", "--platform", "linux/arm64", ref)
    img = _inspect(dcli, ref)
    assert (img["Id"], img["Architecture"], img["Variant"]) == (multi["arm64"], "arm64", "v8")
    # the tag moved, the index's digest reference stays with the amd64 image (as dockerd)
    by_digest = "%s@%s" % (multi["repo"], multi["index"])
    assert img["RepoDigests"] == [] and _inspect(dcli, multi["amd64"])["RepoDigests"] == [by_digest]
    r = dcli("pull", "--platform", "linux/arm64", by_digest, check=False)
    assert r.returncode == 1 and "Cannot overwrite digest " + multi["index"] in r.err
    assert "%s: Pulling from test/multi" % by_digest in r.out
    dcli("rmi", by_digest)
    # no platform asked for, an image of another one: dockerd's warning, and it runs
    r = dcli("run", "--rm", ref, "cat", "/platform")
    assert r.out == "linux/arm64/v8\n" and "WARNING: " + HOST_WARNING in r.err


def test_run_with_platform_pulls_that_platform(dcli, multi):
    ref = multi["repo"] + ":multi"
    dcli("pull", ref)                                  # the amd64 one is local
    r = dcli("run", "--rm", "--platform", "linux/arm64", ref, "cat", "/platform")
    assert r.out == "linux/arm64/v8\n"
    assert "Unable to find image '%s' locally" % ref in r.err and "Pulling from" in r.err
    assert _inspect(dcli, ref)["Id"] == multi["arm64"]
    r = dcli("create", "--platform", "linux/amd64", ref, "cat", "/platform")
    assert "Unable to find image" in r.err and _inspect(dcli, ref)["Id"] == multi["amd64"]
    assert dcli("start", "-a", r.out.strip()).out == "linux/amd64\n"


def test_single_platform_image_of_another_platform_is_an_error(dcli, multi):
    ref = multi["repo"] + ":amd64only"
    want = MISMATCH % (ref, "linux/arm64", "linux/amd64")
    r = dcli("run", "--rm", "--platform", "linux/arm64", ref, "cat", "/platform", check=False)
    assert r.returncode == 125
    assert "Unable to find image" in r.err and "Error response from daemon: " + want in r.err
    r = dcli("create", "--platform", "linux/arm64", ref, check=False)
    assert r.returncode == 1 and "Error response from daemon: " + want in r.err
    assert "Image is up to date for " + ref in r.err


def test_index_without_the_platform(dcli, multi):
    ref = multi["repo"] + ":multi"
    r = dcli("pull", "--platform", "linux/s390x", ref, check=False)
    assert r.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in r.err
    assert "Pulling from test/multi" in r.out
    r = dcli("run", "--rm", "--platform", "linux/arm/v7", ref, check=False)
    assert r.returncode == 125
    assert "docker: no matching manifest for linux/arm/v7 in the manifest list entries" in r.err


def test_api_platform_parameter(api, dcli, multi):
    r = _create(api, "busybox", "linux/arm64")
    assert r.status_code == 404
    assert r.json() == {"message": MISMATCH % ("busybox", "linux/arm64", "linux/amd64")}
    assert _create(api, "busybox", "linux/arm64/v8").json()["message"].endswith(
        "wanted linux/arm64/v8, actual: linux/amd64")
    for platform in ("Linux/AMD64", "linux/amd64/v2", "amd64", "linux"):
        r = _create(api, "busybox", platform)
        assert r.status_code == 201 and r.json()["Warnings"] == [], platform
    assert _create(api, "busybox", "linux/arm64", version="1.40").status_code == 201
    for platform, message in (
            ("foo", '"foo": unknown operating system or architecture: invalid argument'),
            ("a/b/c/d", '"a/b/c/d": cannot parse platform specifier: invalid argument'),
            ("linux/a b", '"a b" is an invalid component of "linux/a b": platform specifier '
                          'component must match "^[A-Za-z0-9_-]+$": invalid argument')):
        r = _create(api, "busybox", platform)
        assert (r.status_code, r.json()) == (400, {"message": message})
        r = api._post(api._url("/images/create"),
                      params={"fromImage": multi["repo"], "tag": "multi", "platform": platform})
        assert (r.status_code, r.json()) == (400, {"message": message})
    r = _create(api, "nosuch", "linux/arm64")
    assert (r.status_code, r.json()) == (404, {"message": "No such image: nosuch:latest"})
    # an index without the platform: an error line after "Pulling from", as dockerd
    r = api._post(api._url("/images/create"),
                  params={"fromImage": multi["repo"], "tag": "multi", "platform": "linux/s390x"})
    msg = "no matching manifest for linux/s390x in the manifest list entries"
    assert r.status_code == 200
    assert [json.loads(line) for line in r.text.splitlines()] == [
        {"status": "Pulling from test/multi", "id": "multi"},
        {"errorDetail": {"message": msg}, "error": msg}]


def test_pull_policies(dcli, multi):
    ref = multi["repo"] + ":multi"
    missing = multi["repo"] + ":nosuch"
    r = dcli("run", "--rm", "--pull", "never", ref, "true", check=False)
    assert r.returncode == 125
    assert "docker: Error response from daemon: No such image: %s" % ref in r.err
    r = dcli("create", "--pull", "never", ref, check=False)
    assert r.returncode == 1 and "Error response from daemon: No such image: %s" % ref in r.err
    r = dcli("run", "--rm", "--pull", "always", missing, "true", check=False)
    assert r.returncode == 125
    assert "manifest for %s not found: manifest unknown: manifest unknown" % missing in r.err

    assert dcli("run", "--rm", "--pull", "missing", ref, "cat", "/platform").out == "linux/amd64\n"
    # always: pulls (the platform asked for) even though an image is local
    r = dcli("run", "--rm", "--pull", "always", "--platform", "linux/arm64", ref, "cat", "/platform")
    assert r.out == "linux/arm64/v8\n" and "Unable to find image" not in r.err
    # never: the local arm64 image is not the amd64 one asked for
    r = dcli("run", "--rm", "--pull", "never", "--platform", "linux/amd64", ref, "true", check=False)
    assert r.returncode == 125
    assert MISMATCH % (ref, "linux/amd64", "linux/arm64/v8") in r.err
    r = dcli("create", "--pull", "never", "--platform", "linux/arm64", ref)
    assert "Unable to find image" not in r.err and "WARNING" not in r.err


def test_build_platform(dcli, multi):
    ref = multi["repo"] + ":multi"
    df = "FROM %s\nRUN cat /platform\n" % ref
    r = dcli("build", "--platform", "linux/arm64", "-t", "platbuild", "-", input=df.encode())
    assert "Pulling from test/multi" in r.out and "linux/arm64/v8\n" in r.out
    assert " ---> [Warning] " + HOST_WARNING in r.out
    img = _inspect(dcli, "platbuild")
    assert (img["Architecture"], img["Variant"]) == ("arm64", "v8")
    assert img["Parent"] == multi["arm64"]
    dcli("rmi", "platbuild")
    # FROM --platform= wins over --platform
    df = "FROM --platform=linux/amd64 %s:amd64only\nRUN cat /platform\n" % multi["repo"]
    r = dcli("build", "--platform", "linux/arm64", "-", input=df.encode())
    assert "linux/amd64\n" in r.out and "WARNING: Pulled image" not in r.out
    # a single-platform image of another platform: dockerd's warning, and the build goes on
    df = "FROM %s:amd64only\nRUN cat /platform\n" % multi["repo"]
    dcli("rmi", multi["repo"] + ":amd64only")
    r = dcli("build", "--no-cache", "--platform", "linux/arm64", "-", input=df.encode())
    assert ("WARNING: Pulled image with specified platform (linux/arm64), but the resulting "
            "image's configured platform (linux/amd64) does not match.") in r.out
    assert "linux/amd64\n" in r.out
    r = dcli("build", "--platform", "foo", "-", input=b"FROM busybox\n", check=False)
    assert r.returncode == 1
    assert ('Error response from daemon: "foo": unknown operating system or architecture: '
            'invalid argument') in r.err
    r = dcli("build", "-", input=b"FROM --platform=foo busybox\n", check=False)
    assert r.returncode == 1
    assert 'failed to parse platform foo: "foo": unknown operating system or architecture' in r.err
    for image_id in dcli("images", "-q", "--filter", "dangling=true").out.split():
        dcli("rmi", image_id, check=False)
