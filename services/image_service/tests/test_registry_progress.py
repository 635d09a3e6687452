"""The progress stream behind Pull/Push, Docker's progress bar, and the servicer's messages."""

import threading

import pytest

from dockyard_common import errors
from dockyard_images import progress
from dockyard_images.images import ImageStore
from dockyard_images.registry import RegistrySettings, parse_auth, parse_challenge
from dockyard_images.server import ImagesServicer
from dockyard_api.images.v1 import images_pb2
from fake_registry import FakeRegistry
from helpers import chunks, docker_archive, entry, make_tar


def test_human_size_and_bar():
    assert progress.human_size(0) == "0B"
    assert progress.human_size(1234) == "1.234kB"
    assert progress.human_size(2_500_000) == "2.5MB"
    assert progress.bar(50, 100) == "[=========================>                         ] " \
                                    "     50B/100B"
    assert progress.bar(100, 100).startswith("[" + "=" * 50 + ">]")
    assert progress.bar(7, 0) == "      7B"


def test_stream_relays_events_then_raises():
    def work(emit):
        emit(status="a")
        emit(status="b")
        raise errors.NotFound("gone")
    stream = progress.ProgressStream(work)
    seen = []
    with pytest.raises(errors.NotFound, match="gone"):
        for event in stream:
            seen.append(event["status"])
    assert seen == ["a", "b"]


def test_stream_cancel_stops_the_worker():
    stopped = threading.Event()

    def work(emit):
        try:
            while True:
                emit(status="tick")
        finally:
            stopped.set()
    it = iter(progress.ProgressStream(work, maxsize=2))
    assert next(it)["status"] == "tick"
    it.close()     # the gRPC client went away
    assert stopped.wait(5)


def test_parse_auth_and_challenge():
    assert parse_auth("") == {} and parse_auth("{}") == {}
    assert parse_auth('{"username":"u","password":"p","serveraddress":"x"}') == {
        "username": "u", "password": "p", "serveraddress": "x"}
    with pytest.raises(errors.InvalidArgument):
        parse_auth("not json")
    assert parse_challenge('Bearer realm="https://auth/token",service="reg",scope="a:b:pull"') == (
        "bearer", {"realm": "https://auth/token", "service": "reg", "scope": "a:b:pull"})
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})
    assert parse_challenge("Negotiate") is None


class FakeContext:
    def __init__(self):
        self.callbacks = []

    def add_callback(self, fn):
        self.callbacks.append(fn)
        return True


def test_servicer_push_and_pull_messages(tmp_path):
    layer = make_tar([entry("etc", "dir"), entry("etc/x", data=b"x\n")])
    store = ImageStore(str(tmp_path / "image"))
    store.load(chunks(docker_archive([([layer], ["local/x:1"], None)])))
    servicer = ImagesServicer(store, RegistrySettings())
    with FakeRegistry() as reg:
        ref = reg.host + "/t/x:1"
        store.tag("local/x:1", ref)
        pushed = list(servicer.Push(images_pb2.PushImageRequest(ref=ref), FakeContext()))
        assert all(isinstance(m, images_pb2.PushProgress) for m in pushed)
        done = [m for m in pushed if m.done]
        assert len(done) == 1 and done[0].id == "1" and done[0].size > 0
        store.delete(ref)
        pulled = list(servicer.Pull(images_pb2.PullImageRequest(ref=ref), FakeContext()))
        assert pulled[-1].done and pulled[-1].id == store.get("local/x:1").id
        assert pulled[-1].digest == done[0].digest
        assert pulled[-2].status == "Status: Downloaded newer image for " + ref
        with pytest.raises(errors.NotFound):
            list(servicer.Pull(images_pb2.PullImageRequest(ref=reg.host + "/t/x:2"), FakeContext()))
