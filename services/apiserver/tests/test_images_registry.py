"""Registry pull/push/login in the facade: relaying Images.Pull/Push progress as Docker JSON lines,
errors before the first line as HTTP errors, errors after it as an errorDetail line, results,
events, X-Registry-Auth, POST /auth. The image-service is replaced by fake streams."""

import base64
import json

import pytest

from dockyard_api.images.v1 import images_pb2
from dockyard_common import errors

from dockyard_apiserver.backend.images import decode_auth_header, pull_reference

DIGEST = "sha256:" + "d" * 64


def _lines(r):
    return [json.loads(line) for line in r.data.decode().splitlines() if line.strip()]


class FakeCall:
    """A server stream: yields the messages, then raises `error` (as grpcutil's iterator does)."""

    def __init__(self, messages, error=None):
        self.messages = list(messages)
        self.error = error
        self.cancelled = False
        self.consumed = 0

    def __iter__(self):
        return self._gen()

    def _gen(self):
        for m in self.messages:
            self.consumed += 1
            yield m
        if self.error is not None:
            raise self.error

    def cancel(self):
        self.cancelled = True


@pytest.fixture
def calls(daemon):
    """Record the requests; the test sets the next stream in calls.next."""
    rec = type("Rec", (), {})()
    rec.requests = []
    rec.next = None

    def pull(req):
        rec.requests.append(req)
        return rec.next

    def push(req):
        rec.requests.append(req)
        return rec.next

    daemon.clients.images.Pull = pull
    daemon.clients.images.Push = push
    return rec


def P(**kw):
    return images_pb2.PullProgress(**kw)


def _pull_ok(image_id):
    return [
        P(id="v1", status="Pulling from conformance/x"),
        P(id="abc123", status="Pulling fs layer"),
        P(id="abc123", status="Downloading", progress="[==>   ] 1kB/2kB", current=1000, total=2000),
        P(id="abc123", status="Pull complete"),
        P(status="Digest: " + DIGEST),
        P(status="Status: Downloaded newer image for 127.0.0.1:5000/conformance/x:v1"),
        P(id=image_id, digest=DIGEST, done=True),
    ]


def test_pull_relays_progress_and_emits_event(client, daemon, calls):
    img = daemon.clients.images.add(["127.0.0.1:5000/conformance/x:v1"], config={"Labels": {"k": "v"}})
    calls.next = FakeCall(_pull_ok(img.id))
    auth = base64.urlsafe_b64encode(json.dumps({"username": "u", "password": "p"}).encode()).decode()
    r = client.post("/images/create?fromImage=127.0.0.1:5000/conformance/x&tag=v1&platform=linux/amd64",
                    headers={"X-Registry-Auth": auth})
    assert r.status_code == 200 and r.mimetype == "application/json"
    lines = _lines(r)
    assert lines[0] == {"status": "Pulling from conformance/x", "id": "v1"}
    assert lines[1] == {"status": "Pulling fs layer", "id": "abc123"}
    assert lines[2] == {"status": "Downloading", "progressDetail": {"current": 1000, "total": 2000},
                        "progress": "[==>   ] 1kB/2kB", "id": "abc123"}
    assert lines[-2] == {"status": "Digest: " + DIGEST}
    assert lines[-1]["status"].startswith("Status: Downloaded newer image for ")
    assert len(lines) == 6          # the done=true result is not a line
    req = calls.requests[0]
    assert req.ref == "127.0.0.1:5000/conformance/x:v1" and req.platform == "linux/amd64"
    assert json.loads(req.auth_json) == {"username": "u", "password": "p"}
    ev = [e for e in daemon.events._ring if e["Action"] == "pull"]
    assert len(ev) == 1
    assert ev[0]["Actor"]["ID"] == "127.0.0.1:5000/conformance/x:v1"
    assert ev[0]["Actor"]["Attributes"] == {"name": "127.0.0.1:5000/conformance/x", "k": "v"}


def test_pull_tag_may_be_a_digest_and_a_bare_name_pulls_all_tags(client, calls):
    calls.next = FakeCall([P(id="x", done=True)])
    assert client.post("/images/create?fromImage=a/b&tag=" + DIGEST).status_code == 200
    assert calls.requests[-1].ref == "a/b@" + DIGEST and not calls.requests[-1].all_tags
    calls.next = FakeCall([P(id="x", done=True)])
    client.post("/images/create?fromImage=docker.io/library/busybox")
    assert calls.requests[-1].ref == "busybox" and calls.requests[-1].all_tags
    calls.next = FakeCall([P(id="x", done=True)])
    client.post("/images/create?fromImage=busybox:1.36")
    assert calls.requests[-1].ref == "busybox:1.36" and not calls.requests[-1].all_tags
    assert client.post("/images/create?fromImage=Bad/Name").status_code == 400
    assert pull_reference("a/b:old", "new").tag == "new"
    assert str(pull_reference("a/b:", "")) == "a/b"


def test_pull_all_tags_event_names_the_repository(client, daemon, calls):
    calls.next = FakeCall([P(id="a", status="Pulling from x"), P(status="Digest: " + DIGEST),
                           P(status="Status: Downloaded newer image for 127.0.0.1:5000/x"),
                           P(done=True)])
    lines = _lines(client.post("/images/create?fromImage=127.0.0.1:5000/x"))
    assert lines[-1] == {"status": "Status: Downloaded newer image for 127.0.0.1:5000/x"}
    ev = [e for e in daemon.events._ring if e["Action"] == "pull"]
    assert [e["Actor"]["ID"] for e in ev] == ["127.0.0.1:5000/x"]
    assert ev[0]["Actor"]["Attributes"] == {"name": "127.0.0.1:5000/x"}


def test_pull_error_before_the_first_line_is_an_http_error(client, daemon, calls):
    msg = ("manifest for 127.0.0.1:5000/x:nope not found: manifest unknown: manifest unknown")
    call = FakeCall([], errors.NotFound(msg))      # the image-service fails before "Pulling from"
    calls.next = call
    r = client.post("/images/create?fromImage=127.0.0.1:5000/x&tag=nope")
    assert r.status_code == 404 and r.get_json() == {"message": msg}
    assert call.cancelled
    assert not [e for e in daemon.events._ring if e["Action"] == "pull"]
    # an unreachable registry is dockerd's 500, with the dial error
    dial = 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'
    calls.next = FakeCall([], errors.Unavailable(dial))
    r = client.post("/images/create?fromImage=127.0.0.1:1/x&tag=v1")
    assert r.status_code == 500 and r.get_json() == {"message": dial}


def test_pull_error_mid_stream_is_an_error_line(client, daemon, calls):
    calls.next = FakeCall([P(id="v1", status="Pulling from x"), P(id="abc", status="Pulling fs layer")],
                          errors.Unavailable("error pulling sha256:abc: connection reset"))
    r = client.post("/images/create?fromImage=127.0.0.1:5000/x&tag=v1")
    assert r.status_code == 200
    lines = _lines(r)
    assert lines[:2] == [{"status": "Pulling from x", "id": "v1"},
                         {"status": "Pulling fs layer", "id": "abc"}]
    assert lines[-1] == {"errorDetail": {"message": "error pulling sha256:abc: connection reset"},
                         "error": "error pulling sha256:abc: connection reset"}
    assert not [e for e in daemon.events._ring if e["Action"] == "pull"]


def test_pull_error_after_pulling_from_is_a_stream_line(client, daemon, calls):
    """dockerd fails to match the platform in a manifest list after "Pulling from": 200."""
    msg = "no matching manifest for linux/s390x in the manifest list entries"
    calls.next = FakeCall([P(id="v1", status="Pulling from x")], errors.NotFound(msg))
    r = client.post("/images/create?fromImage=127.0.0.1:5000/x&tag=v1&platform=linux/s390x")
    assert r.status_code == 200
    assert _lines(r) == [{"status": "Pulling from x", "id": "v1"},
                         {"errorDetail": {"message": msg}, "error": msg}]
    assert calls.requests[-1].platform == "linux/s390x"


def test_pull_read_ahead_stops_at_the_first_real_line(daemon, calls):
    from dockyard_apiserver.backend.images import ImageBackend
    from dockyard_apiserver.backend import reference
    call = FakeCall(_pull_ok("sha256:" + "1" * 64))
    calls.next = call
    lines = ImageBackend(daemon.clients, daemon.events).pull(reference.parse("x:v1"))
    assert call.consumed == 1       # "Pulling from" (the manifest is there), nothing more yet
    assert len(list(lines)) == 6


def test_push_relays_progress_and_results(client, daemon, calls):
    daemon.clients.images.add(["127.0.0.1:5000/a/b:v1"])
    calls.next = FakeCall([
        images_pb2.PushProgress(status="The push refers to repository [127.0.0.1:5000/a/b]"),
        images_pb2.PushProgress(id="1111", status="Preparing"),
        images_pb2.PushProgress(id="1111", status="Pushing", progress="[=>  ]", current=5, total=10),
        images_pb2.PushProgress(id="1111", status="Pushed"),
        images_pb2.PushProgress(status="v1: digest: %s size: 528" % DIGEST),
        images_pb2.PushProgress(id="v1", digest=DIGEST, size=528, done=True),
    ])
    r = client.post("/images/127.0.0.1:5000/a/b/push?tag=v1", headers={"X-Registry-Auth": "e30="})
    assert r.status_code == 200
    lines = _lines(r)
    assert lines[0] == {"status": "The push refers to repository [127.0.0.1:5000/a/b]"}
    assert lines[2]["progressDetail"] == {"current": 5, "total": 10}
    assert lines[-2] == {"status": "v1: digest: %s size: 528" % DIGEST}
    assert lines[-1] == {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": DIGEST, "Size": 528}}
    assert calls.requests[-1].ref == "127.0.0.1:5000/a/b:v1"
    assert json.loads(calls.requests[-1].auth_json) == {}
    ev = [e for e in daemon.events._ring if e["Action"] == "push"]
    assert [e["Actor"]["ID"] for e in ev] == ["127.0.0.1:5000/a/b:v1"]
    assert ev[0]["Actor"]["Attributes"]["name"] == "127.0.0.1:5000/a/b"


def test_push_missing_image_is_404_before_streaming(client, calls):
    r = client.post("/images/127.0.0.1:5000/a/missing/push?tag=v1")
    assert r.status_code == 404
    assert r.get_json() == {"message": "No such image: 127.0.0.1:5000/a/missing:v1"}
    assert calls.requests == []
    # every tag of a repository with none: the service's NotFound before any line
    calls.next = FakeCall([], errors.NotFound("An image does not exist locally with the tag: x/y"))
    r = client.post("/images/x/y/push")
    assert r.status_code == 404 and "does not exist locally" in r.get_json()["message"]
    assert calls.requests[-1].ref == "x/y"


def test_push_mid_stream_error_and_body_auth(client, daemon, calls):
    daemon.clients.images.add(["h:5000/a:v1"])
    calls.next = FakeCall([images_pb2.PushProgress(status="The push refers to repository [h:5000/a]")],
                          errors.FailedPrecondition("unauthorized: authentication required"))
    r = client.post("/images/h:5000/a/push?tag=v1", data=json.dumps({"username": "u"}))
    lines = _lines(r)
    assert r.status_code == 200 and lines[-1]["error"] == "unauthorized: authentication required"
    assert json.loads(calls.requests[-1].auth_json) == {"username": "u"}
    assert not [e for e in daemon.events._ring if e["Action"] == "push"]
    assert client.post("/images/h:5000/a@%s/push" % DIGEST).status_code == 400


def test_decode_auth_header():
    doc = {"username": "u", "password": "p?>", "serveraddress": "127.0.0.1:5000"}
    enc = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    assert json.loads(decode_auth_header(enc)) == doc
    assert json.loads(decode_auth_header(enc.rstrip("="))) == doc     # unpadded
    assert decode_auth_header("") == ""
    assert decode_auth_header("!!notbase64") == ""
    assert decode_auth_header(base64.b64encode(b"[1]").decode()) == ""


def test_auth_login(client, daemon):
    seen = []

    def login(req):
        seen.append(json.loads(req.auth_json))
        if seen[-1].get("password") != "good":
            raise errors.FailedPrecondition(
                "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized")
        return images_pb2.LoginResponse(status="Login Succeeded")

    daemon.clients.images.Login = login
    body = {"username": "u", "password": "good", "serveraddress": "127.0.0.1:5000"}
    r = client.post("/auth", data=json.dumps(body))
    assert r.status_code == 200
    assert r.get_json() == {"Status": "Login Succeeded", "IdentityToken": ""}
    assert seen[-1] == body
    r = client.post("/v1.41/auth", data=json.dumps(dict(body, password="bad")))
    assert r.status_code == 401
    assert r.get_json()["message"].endswith("failed with status: 401 Unauthorized")
    assert client.post("/auth", data="{nope").status_code == 400

    def unreachable(req):
        raise errors.Unavailable('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: '
                                 'connection refused')
    daemon.clients.images.Login = unreachable
    r = client.post("/auth", data=json.dumps(body))
    assert r.status_code == 500 and "connection refused" in r.get_json()["message"]
