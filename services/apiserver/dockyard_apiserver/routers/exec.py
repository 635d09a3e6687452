"""/containers/{id}/exec and /exec/*: create, start (hijacked like attach), inspect, resize
(moby's router/container exec routes)."""

import logging
import time

from flask import Blueprint, request

from dockyard_common import errors, stdcopy

from .. import hijack
from ..attach import parse_detach_keys
from ..backend.containers import for_daemon
from ..api_types import EXEC_CONFIG, EXEC_START
from ..webutil import daemon, empty, json_body, json_response, tty_size
from .containers import stream_type

log = logging.getLogger(__name__)

bp = Blueprint("exec", __name__)

# After the output ends, how long to wait for container-service to record the exit code (the
# CLI reads it from /exec/{id}/json as soon as the stream closes).
EXIT_GRACE = 5.0
# How long to wait for the exit event before asking container-service, then between asks.
EVENT_WAIT = 0.02
EXIT_POLL = 0.05


def backend():
    return for_daemon(daemon())


@bp.post("/containers/<ref>/exec")
def create(ref):
    be = backend()
    rec = be.get(ref)  # 404 before the body is looked at
    body = json_body(required=True, schema=EXEC_CONFIG)
    return json_response(be.exec_create(ref, body, rec), status=201)


@bp.get("/exec/<exec_id>/json")
def inspect(exec_id):
    return json_response(backend().exec_inspect(exec_id))


@bp.post("/exec/<exec_id>/resize")
def resize(exec_id):
    backend().exec_resize(exec_id, *tty_size())
    return empty(200)


@bp.post("/exec/<exec_id>/start")
def start(exec_id):
    be = backend()
    body = json_body(required=False, schema=EXEC_START)
    ex, rec = be.exec_check_startable(exec_id)
    if body.get("Detach"):
        be.exec_start(ex, rec)
        return empty(200)
    tty = bool(ex["Tty"])
    keys = parse_detach_keys(ex.get("DetachKeys") or "")
    conn = hijack.take_over(request.environ)
    conn.send_upgrade(stream_type(tty), hijack.wants_upgrade(request.environ))
    session = be.daemon.hubs.session(conn, rec.id, exec_id=exec_id, stdin=ex["OpenStdin"],
                                     stdout=ex["OpenStdout"], stderr=ex["OpenStderr"], tty=tty,
                                     stdin_once=True, detach_keys=keys)
    session.on_drained = lambda: _await_exit(be, exec_id)
    be.daemon.hubs.track(session)
    try:
        session.start_reader()
        session.connect()
        early = session.failed_at_once()
        if early:
            session.reset()
        try:
            be.exec_start(ex, rec)
        except errors.DockyardError as exc:
            # After the takeover errors are plain text on the stream (as moby).
            msg = (str(exc) + "\r\n").encode()
            session.write(msg if tty else stdcopy.frame(stdcopy.STDERR, msg))
            session.end()
            return hijack.HIJACKED
        if early:
            session.connect()
        size = ex.get("ConsoleSize") or []
        if tty and len(size) == 2 and size[0] and size[1]:
            try:
                be.exec_resize(exec_id, size[0], size[1])
            except errors.DockyardError:
                pass
        session.pump_output()
    except OSError as exc:
        log.debug("exec %s stream ended: %s", exec_id[:12], exc)
    finally:
        session.end()
        be.daemon.hubs.untrack(session)
    return hijack.HIJACKED


def _await_exit(be, exec_id):
    """The output ended: wait until the exit is recorded before the stream closes.
    container-service's exec_die event (ExecStore.exited) usually comes within milliseconds;
    ExecGet, which also settles an exit the shim already knows of, covers a late or lost event."""
    deadline = time.monotonic() + EXIT_GRACE
    wait = EVENT_WAIT
    while True:
        if be.execs.wait_exit(exec_id, wait) is not None:
            return
        try:
            _, st = be.exec_state(exec_id)
        except errors.DockyardError:
            return
        remaining = deadline - time.monotonic()
        if st.exited or remaining <= 0:
            return
        wait = min(EXIT_POLL, remaining)
