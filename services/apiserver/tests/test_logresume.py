"""logs -f resumes after shim-runner restarts, without repeating or losing entries."""

from dockyard_api.shim.v1 import shim_pb2
from dockyard_common import errors

from dockyard_apiserver.logresume import ResumingLogs


class Stream:
    def __init__(self, items):
        self.items = list(items)
        self.cancelled = False

    def __next__(self):
        if not self.items:
            raise StopIteration
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self):
        self.cancelled = True


def e(ns, data):
    return shim_pb2.LogEntry(stream=1, data=data, time_ns=ns)


class Shim:
    def __init__(self, *streams):
        self.streams = list(streams)
        self.requests = []

    def Logs(self, req):
        self.requests.append(req)
        s = self.streams.pop(0)
        if isinstance(s, Exception):
            raise s
        return s


def test_resumes_from_last_timestamp_and_skips_what_was_sent():
    down = errors.Unavailable("shim gone")
    shim = Shim(Stream([e(1, b"a"), e(2, b"b"), e(2, b"c"), down]),
                down,                                              # still restarting
                Stream([down]),
                Stream([e(2, b"b"), e(2, b"c"), e(2, b"d"), e(3, b"e")]))
    logs = ResumingLogs(shim, shim_pb2.LogsRequest(id="c1", follow=True, tail=5), poll=0.01)
    assert [x.data for x in logs] == [b"a", b"b", b"c", b"d", b"e"]
    again = shim.requests[-1]
    assert again.since_ns == 2 and again.tail == -1 and again.follow


def test_without_follow_the_error_propagates():
    shim = Shim(Stream([e(1, b"a"), errors.Unavailable("gone")]))
    logs = ResumingLogs(shim, shim_pb2.LogsRequest(id="c1", follow=False))
    assert next(logs).data == b"a"
    try:
        next(logs)
    except errors.Unavailable:
        pass
    else:
        raise AssertionError("expected Unavailable")


def test_gives_up_after_the_deadline():
    down = errors.Unavailable("gone")
    shim = Shim(Stream([down]), *([down] * 1000))
    logs = ResumingLogs(shim, shim_pb2.LogsRequest(id="c1", follow=True), reconnect_for=0.05, poll=0.01)
    try:
        next(logs)
    except errors.Unavailable:
        pass
    else:
        raise AssertionError("expected Unavailable")
