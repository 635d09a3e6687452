"""/containers/*: create, start, attach, wait, logs, inspect, list, remove, stop, kill, restart,
pause, rename, top, prune, stats, resize (moby's router/container)."""

import json
import logging
import time
from typing import Protocol

from flask import Blueprint, Response, request

from dockyard_common import errors, grpcutil, ids, stdcopy

from .. import hijack
from ..backend import container_config as cc
from ..backend import image_platform, log_config, log_format, stats_shape
from ..backend.containers import for_daemon
from ..events import parse_time_ns
from ..webutil import (daemon, empty, filters_arg, json_response, parse_json, qbool, qint,
                       tty_size, version_at_least)

log = logging.getLogger(__name__)

bp = Blueprint("containers", __name__)

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class Backend(Protocol):
    """What these routes need (backend/containers.py; faked in tests)."""

    def get(self, ref): ...
    def create(self, name, body): ...
    def start(self, ref): ...
    def stop(self, ref, timeout=None, signal=None): ...
    def kill(self, ref, signal=None): ...
    def remove(self, ref, force=False, volumes=False): ...
    def inspect(self, ref, size=False): ...
    def list(self, all=False, limit=-1, size=False, filters=None): ...


def backend():
    return for_daemon(daemon())


def stream_type(tty):
    return RAW if tty or not version_at_least("1.42") else MULTIPLEXED


# ---------------------------------------------------------------------- create / inspect / list

@bp.post("/containers/create")
def create():
    ctype = request.headers.get("Content-Type", "")
    raw = request.get_data(cache=False)
    if ctype and ctype.split(";")[0].strip().lower() != "application/json":
        raise errors.InvalidArgument("Content-Type specified (%s) must be 'application/json'" % ctype)
    if not raw.strip():
        raise errors.InvalidArgument("Config cannot be empty in order to create a container")
    body = cc.check_create_body(parse_json(raw))
    platform = None
    if version_at_least("1.41"):      # older clients' ?platform= is ignored, as dockerd does
        platform = image_platform.parse_query(request.args.get("platform", ""))
    return json_response(backend().create(request.args.get("name", ""), body, platform=platform),
                         status=201)


@bp.get("/containers/json")
def list_containers():
    limit = qint("limit", -1)
    return json_response(backend().list(all=qbool("all"), limit=limit, size=qbool("size"),
                                        filters=filters_arg()))


@bp.get("/containers/<ref>/json")
def inspect(ref):
    return json_response(backend().inspect(ref, size=qbool("size")))


# ---------------------------------------------------------------------- lifecycle

@bp.post("/containers/<ref>/start")
def start(ref):
    if request.args.get("checkpoint"):
        # dockerd's own answer when not in experimental mode (and we have none)
        raise errors.InvalidArgument("checkpoint is only supported in experimental mode")
    backend().start(ref)
    return empty(204)


def _timeout_arg():
    value = request.args.get("t", request.args.get("timeout"))
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.InvalidArgument("invalid value for t: %r" % value) from None


@bp.post("/containers/<ref>/stop")
def stop(ref):
    backend().stop(ref, timeout=_timeout_arg(), signal=request.args.get("signal"))
    return empty(204)


@bp.post("/containers/<ref>/restart")
def restart(ref):
    backend().restart(ref, timeout=_timeout_arg(), signal=request.args.get("signal"))
    return empty(204)


@bp.post("/containers/<ref>/kill")
def kill(ref):
    backend().kill(ref, request.args.get("signal"))
    return empty(204)


@bp.post("/containers/<ref>/pause")
def pause(ref):
    backend().pause(ref)
    return empty(204)


@bp.post("/containers/<ref>/unpause")
def unpause(ref):
    backend().unpause(ref)
    return empty(204)


@bp.post("/containers/<ref>/rename")
def rename(ref):
    backend().rename(ref, request.args.get("name", ""))
    return empty(204)


@bp.delete("/containers/<ref>")
def remove(ref):
    if qbool("link"):
        raise errors.InvalidArgument("Conflict, cannot remove the default link name of the container")
    backend().remove(ref, force=qbool("force"), volumes=qbool("v"))
    return empty(204)


@bp.post("/containers/prune")
def prune():
    return json_response(backend().prune(filters_arg()))


@bp.get("/containers/<ref>/top")
def top(ref):
    return json_response(backend().top(ref, request.args.get("ps_args") or "-ef"))


@bp.post("/containers/<ref>/resize")
def resize(ref):
    h, w = tty_size()
    backend().resize(ref, h, w)
    return empty(200)


# ---------------------------------------------------------------------- wait

@bp.post("/containers/<ref>/wait")
def wait(ref):
    be = backend()
    rec = be.get(ref)
    condition = request.args.get("condition") or "not-running"
    # Registered before the 200 goes out (moby postContainersWait): no exit can be missed.
    waiter = be.daemon.monitor.register(rec.id, condition)
    gone = request.environ.get("dockyard.client_gone") or (lambda: False)

    def body():
        try:
            yield b""  # headers now: the CLI starts the container once it has them
            while True:
                result = waiter.wait(1.0)
                if result is not None:
                    yield (json.dumps(result) + "\n").encode()
                    return
                if gone():
                    return
        finally:
            waiter.cancel()
    return Response(body(), status=200, mimetype="application/json")


# ---------------------------------------------------------------------- logs

def _tail_arg():
    value = request.args.get("tail", "all")
    if value in ("", "all"):
        return -1
    try:
        n = int(value)
    except ValueError:
        return -1
    return n if n >= 0 else -1


@bp.get("/containers/<ref>/logs")
def logs(ref):
    be = backend()
    rec = be.get(ref)
    stdout, stderr = qbool("stdout"), qbool("stderr")
    if not (stdout or stderr):
        raise errors.InvalidArgument("You must choose at least one stream")
    follow, timestamps = qbool("follow"), qbool("timestamps")
    since = parse_time_ns(request.args.get("since")) or 0
    until = parse_time_ns(request.args.get("until")) or 0
    config, hc = be.config_of(rec), be.host_config_of(rec)
    tty = bool(config.get("Tty"))
    if (hc.get("LogConfig") or {}).get("Type") == "none":
        raise errors.NotImplementedYet("configured logging driver does not support reading")
    details = log_config.details_prefix(config, hc) if qbool("details") else b""
    as_read_back = log_format.reader_for((hc.get("LogConfig") or {}).get("Type"))
    entries = be.logs(rec, follow and rec.state.running, stdout, stderr, max(0, since), max(0, until),
                      _tail_arg())

    def body():
        try:
            yield b""
            for e in entries:
                stamp = ids.now_rfc3339(e.time_ns).encode() + b" " if timestamps else b""
                data = stamp + details + as_read_back(e.data)
                yield data if tty else stdcopy.frame(e.stream or stdcopy.STDOUT, data)
        except errors.NotFound:
            return  # never started: no log yet
        finally:
            grpcutil.cancel_quietly(entries)
    return Response(body(), status=200, content_type=stream_type(tty))


# ---------------------------------------------------------------------- attach

@bp.post("/containers/<ref>/attach")
def attach(ref):
    be = backend()
    rec = be.get(ref)
    config = be.config_of(rec)
    tty = bool(config.get("Tty"))
    from ..attach import parse_detach_keys
    keys = parse_detach_keys(request.args.get("detachKeys") or config.get("DetachKeys") or "")
    want_stdin = qbool("stdin") and bool(config.get("OpenStdin"))
    want_stdout, want_stderr = qbool("stdout"), qbool("stderr")
    logs_first, stream = qbool("logs"), qbool("stream")
    conn = hijack.take_over(request.environ)
    conn.send_upgrade(stream_type(tty), hijack.wants_upgrade(request.environ))
    be.emit(rec, "attach")
    try:
        if logs_first and (want_stdout or want_stderr):
            _replay_logs(be, rec, conn, tty, want_stdout, want_stderr)
        if not stream:
            return hijack.HIJACKED
        hubs = be.daemon.hubs
        session = hubs.session(conn, rec.id, stdin=want_stdin, stdout=want_stdout, stderr=want_stderr,
                               tty=tty, stdin_once=bool(config.get("StdinOnce")), detach_keys=keys)
        hubs.run(session, running=rec.state.running)
        if session.detached:
            be.emit(rec, "detach")
    except OSError as exc:
        log.debug("attach to %s ended: %s", rec.id[:12], exc)
    finally:
        if not stream:
            conn.close()
    return hijack.HIJACKED


def _replay_logs(be, rec, conn, tty, stdout, stderr):
    try:
        as_read_back = log_format.reader_for((be.host_config_of(rec).get("LogConfig") or {}).get("Type"))
        for e in be.logs(rec, False, stdout, stderr):
            data = as_read_back(e.data)      # replayed from the log, as the driver reads it
            conn.sendall(data if tty else stdcopy.frame(e.stream or stdcopy.STDOUT, data))
    except errors.NotFound:
        pass


# ---------------------------------------------------------------------- stats

@bp.get("/containers/<ref>/stats")
def stats(ref):
    be = backend()
    rec = be.get(ref)
    stream = qbool("stream", True)
    one_shot = qbool("one-shot")

    def sample(prev):
        cur = be.stats_once(be.get(rec.id))
        cur["preread"] = prev["read"] if prev else ids.ZERO_TIME
        cur["precpu_stats"] = prev["cpu_stats"] if prev else stats_shape.zero_cpu()
        return cur

    if not rec.state.running:
        return json_response(be.stats_once(rec))
    if not stream:
        first = None if one_shot else sample(None)
        if first is not None:
            time.sleep(0.5)
        return json_response(sample(first))

    gone = request.environ.get("dockyard.client_gone") or (lambda: False)

    def body():
        yield b""
        prev = None
        while not gone():
            try:
                cur = sample(prev)
            except errors.NotFound:
                return
            yield (json.dumps(cur) + "\n").encode()
            prev = cur
            if not be.get(rec.id).state.running:
                return
            time.sleep(1.0)
    return Response(body(), status=200, mimetype="application/json")
