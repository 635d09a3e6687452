"""?platform= of POST /containers/create and its checks (backend/image_platform.py), as dockerd
20.10: a local image of another platform is a 404 naming the mismatch (the CLI then pulls), a
malformed value a 400, and without a platform a warning when the image is not the host's."""

import json
import types

import pytest

from dockyard_common import errors, platforms

from dockyard_apiserver.backend import image_platform

from container_fakes import JSON, Daemon

FAKE_DAEMON = Daemon    # conftest's daemon/app/client fixtures over the container world
WARNING = ("The requested image's platform (linux/arm64/v8) does not match the detected host "
           "platform (linux/amd64) and no specific platform was requested")


@pytest.fixture(autouse=True)
def amd64_host(monkeypatch):
    monkeypatch.setattr(platforms._host, "machine", lambda: "x86_64")


def _image(**cfg):
    return types.SimpleNamespace(config_json=json.dumps(cfg).encode())


def _set_platform(daemon, **cfg):
    img = daemon.clients.images.image
    doc = json.loads(img.config_json)
    doc.update(cfg)
    img.config_json = json.dumps(doc).encode()


def _create(client, platform, version="1.41"):
    return client.post("/v%s/containers/create?platform=%s" % (version, platform),
                       data=json.dumps({"Image": "busybox"}), headers=JSON)


def test_check_mismatch_is_not_found():
    arm = _image(os="linux", architecture="arm64", variant="v8")
    assert image_platform.check("x", arm, platforms.parse("linux/arm64")) == []
    assert image_platform.check("x", arm, platforms.parse("linux/arm64/v8")) == []
    with pytest.raises(errors.NotFound) as exc:
        image_platform.check("x:1", arm, platforms.parse("linux/amd64"))
    assert exc.value.message == ("image with reference x:1 was found but does not match the "
                                 "specified platform: wanted linux/amd64, actual: linux/arm64/v8")


def test_check_warns_without_platform():
    assert image_platform.check("x", _image(os="linux", architecture="amd64"), None) == []
    assert image_platform.check("x", _image(), None) == []        # no platform: Docker's default
    assert image_platform.check("x", _image(os="linux", architecture="386"), None) == []
    arm = _image(os="linux", architecture="arm64", variant="v8")
    assert image_platform.check("x", arm, None) == [WARNING]


def test_create_with_platform(client, daemon):
    r = _create(client, "linux/arm64")
    assert r.status_code == 404 and r.get_json() == {"message": (
        "image with reference busybox was found but does not match the specified platform: "
        "wanted linux/arm64, actual: linux/amd64")}
    assert _create(client, "linux/amd64").status_code == 201
    assert _create(client, "linux/arm64", version="1.40").status_code == 201   # ignored before 1.41
    r = _create(client, "a/b/c/d")
    assert r.status_code == 400 and r.get_json() == {
        "message": '"a/b/c/d": cannot parse platform specifier: invalid argument'}


def test_create_warns_for_an_image_of_another_platform(client, daemon):
    _set_platform(daemon, architecture="arm64", variant="v8")
    r = _create(client, "")
    assert r.status_code == 201 and r.get_json()["Warnings"] == [WARNING]
    r = _create(client, "linux/arm64")
    assert r.status_code == 201 and r.get_json()["Warnings"] == []
