"""gRPC plumbing shared by every service: servers with health, channels, error mapping.

Server side, a DockyardError raised by a servicer becomes a gRPC status with the error's code and
message (an interceptor does it once for all services). Client side, `client()` wraps a stub so
that a failed call raises the matching DockyardError again.
"""

import functools
import logging
import os
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import errors

log = logging.getLogger(__name__)

# Sockets are local and messages carry tarball chunks: allow generous sizes.
MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE)]
# gRPC's default reconnect backoff grows to 120 s: after a restart of a service (live restore)
# every call to it would fail for seconds. Our sockets are local: retry every 100 ms..1 s.
# Services echo the caller's ids in their errors ("No such container: <ref>"), and gRPC carries
# that message as metadata, which a channel refuses above 8 KiB by default: a 10k-character id
# in a URL then failed with "Stream removed" instead of Docker's 404.
METADATA_LIMIT = 16 << 20
_CHANNEL_OPTIONS = _OPTIONS + [("grpc.initial_reconnect_backoff_ms", 100),
                               ("grpc.min_reconnect_backoff_ms", 100),
                               ("grpc.max_reconnect_backoff_ms", 1000),
                               ("grpc.max_metadata_size", METADATA_LIMIT),
                               ("grpc.absolute_max_metadata_size", METADATA_LIMIT)]


# ---------------------------------------------------------------------------
# server side
# ---------------------------------------------------------------------------

def _abort_with(context, exc):
    context.abort(exc.code, exc.message or exc.__class__.__name__)


def _wrap_unary(fn):
    @functools.wraps(fn)
    def wrapper(request, context):
        try:
            return fn(request, context)
        except errors.DockyardError as exc:
            _abort_with(context, exc)
    return wrapper


def _wrap_stream(fn):
    @functools.wraps(fn)
    def wrapper(request, context):
        try:
            yield from fn(request, context)
        except errors.DockyardError as exc:
            _abort_with(context, exc)
    return wrapper


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps DockyardError to gRPC status codes; anything else is logged and becomes INTERNAL."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        if handler.unary_unary:
            return handler._replace(unary_unary=_wrap_unary(handler.unary_unary))
        if handler.stream_unary:
            return handler._replace(stream_unary=_wrap_unary(handler.stream_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=_wrap_stream(handler.unary_stream))
        if handler.stream_stream:
            return handler._replace(stream_stream=_wrap_stream(handler.stream_stream))
        return handler


class Server:
    """A gRPC server on a unix socket, with grpc.health.v1 reporting NOT_SERVING until ready()."""

    def __init__(self, socket_path, max_workers=32):
        self.socket_path = socket_path
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                           thread_name_prefix="grpc"),
                                interceptors=[ErrorInterceptor()], options=_OPTIONS)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        self._names = [""]
        self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)

    def add(self, add_fn, servicer, service_name):
        """Register a servicer: add(dockyard_api...add_XServicer_to_server, impl, "pkg.X")."""
        add_fn(servicer, self.grpc)
        self._names.append(service_name)
        self.health.set(service_name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def start(self):
        os.makedirs(os.path.dirname(self.socket_path), exist_ok=True)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self.grpc.add_insecure_port("unix://" + self.socket_path)
        self.grpc.start()
        os.chmod(self.socket_path, 0o600)

    def ready(self):
        for name in self._names:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"socket": self.socket_path})

    def stop(self, grace=2.0):
        self.health.enter_graceful_shutdown()
        self.grpc.stop(grace).wait()

    def serve_forever(self):
        """Block until SIGTERM/SIGINT, then stop gracefully."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        done.wait()
        self.stop()


# ---------------------------------------------------------------------------
# client side
# ---------------------------------------------------------------------------

def channel(target):
    """A channel to "unix:///path" (or a bare socket path)."""
    if target.startswith("/"):
        target = "unix://" + target
    return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)


class _ErrorMappingIterator:
    def __init__(self, it):
        self._it = it

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._it)
        except grpc.RpcError as exc:
            raise errors.from_grpc(exc) from None

    def cancel(self):
        self._it.cancel()


# A channel that saw its service go away sits in reconnect backoff and fails every call at once,
# even when a restarted service (live restore) is back a moment later: calls made while the
# channel is not connected wait this long for it first.
READY_WAIT = 10.0


class _ReadyGate:
    """Tracks one channel's connectivity; lets a call wait (bounded) until it is connected."""

    def __init__(self, ch):
        self._channel = ch
        self._ready = threading.Event()
        ch.subscribe(self._on_state)

    def _on_state(self, state):
        if state == grpc.ChannelConnectivity.READY:
            self._ready.set()
        else:
            self._ready.clear()

    def wait(self, timeout=None):
        if self._ready.is_set():
            return
        fut = grpc.channel_ready_future(self._channel)
        try:
            fut.result(timeout=READY_WAIT if timeout is None else timeout)
        except grpc.FutureTimeoutError:
            fut.cancel()
            raise errors.Unavailable("service not available (no connection within %.0f s)"
                                     % (READY_WAIT if timeout is None else timeout)) from None


class _Method:
    def __init__(self, fn, gate=None):
        self._fn = fn
        self._gate = gate

    def __call__(self, *args, **kwargs):
        if self._gate is not None:
            self._gate.wait()
        try:
            result = self._fn(*args, **kwargs)
        except grpc.RpcError as exc:
            raise errors.from_grpc(exc) from None
        if hasattr(result, "__next__") and hasattr(result, "cancel"):
            return _ErrorMappingIterator(result)
        return result


class Client:
    """Wraps a generated stub so calls raise DockyardError instead of grpc.RpcError."""

    def __init__(self, stub_cls, target_or_channel):
        ch = target_or_channel if isinstance(target_or_channel, grpc.Channel) else channel(target_or_channel)
        self.channel = ch
        self._stub = stub_cls(ch)
        self._gate = _ReadyGate(ch)

    def __getattr__(self, name):
        return _Method(getattr(self._stub, name), self._gate)


def client(stub_cls, target):
    return Client(stub_cls, target)


def cancel_quietly(call):
    """Cancel a streaming call, if any, at shutdown or when its reader is gone; a call that has
    already ended or failed may raise then, which no longer matters."""
    if call is None:
        return
    try:
        call.cancel()
    except Exception:  # noqa: BLE001 - best effort
        pass


def wait_serving(target, timeout=30.0, service=""):
    """Block until the server at target reports SERVING (raises Unavailable on timeout)."""
    import time
    deadline = time.monotonic() + timeout
    ch = channel(target)
    stub = health_pb2_grpc.HealthStub(ch)
    try:
        while True:
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise errors.Unavailable("%s is not serving after %.0fs" % (target, timeout))
            time.sleep(0.05)
    finally:
        ch.close()
