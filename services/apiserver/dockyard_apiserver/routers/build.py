"""POST /build (the classic builder, `DOCKER_BUILDKIT=0 docker build`) and POST /build/prune.

The context is read into a temp dir and the Dockerfile parsed before the response starts, so
those errors are plain HTTP errors (as dockerd, whose output is not flushed yet); then the
build runs in a worker thread and its JSON messages are streamed, one chunk per message."""

import base64
import binascii
import json
import logging
import queue
import threading

from flask import Blueprint, Response, request

from dockyard_common import errors, ids, platforms

from ..backend import reference
from ..build import context as build_context
from ..build.builder import Builder, BuildError, Cancelled, Options
from ..build.engine import Engine
from ..httpserver import CLIENT_GONE_KEY
from ..webutil import daemon, json_response, parse_json, qbool

log = logging.getLogger(__name__)

bp = Blueprint("build", __name__)

_END = object()


def _json_param(name, kind):
    raw = request.args.get(name)
    if not raw:
        return kind()
    value = parse_json(raw, what=name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise errors.InvalidArgument("invalid %s: a JSON %s is expected" % (name, kind.__name__))
    return value


def _options():
    args = request.args
    if args.get("remote"):
        raise errors.InvalidArgument("remote build contexts (%s) are not supported by dockyard: send the "
                                     "context as a tar in the request body" % args["remote"])
    if args.get("version", "1") not in ("", "1"):
        raise errors.InvalidArgument("BuildKit (builder version %s) is not supported by dockyard: use "
                                     "the classic builder (DOCKER_BUILDKIT=0)" % args["version"])
    if qbool("squash"):
        raise errors.InvalidArgument("squash is only supported with experimental mode")
    # containerd's syntax (400 otherwise); the FROM pulls then ask for it (as dockerd 20.10)
    platform = platforms.parse(args["platform"]) if args.get("platform") else None
    tags = []
    for t in args.getlist("t"):
        if not t:
            continue
        tags.append(str(reference.parse(t).with_default_tag()))
        if reference.parse(t).digest:
            raise errors.InvalidArgument("invalid reference format: a tag cannot have a digest")
    buildargs = {str(k): str(v) for k, v in _json_param("buildargs", dict).items() if v is not None}
    labels = {str(k): str(v) for k, v in _json_param("labels", dict).items()}
    extra_hosts = [h for h in (args.get("extrahosts") or "").split(",") if h]
    forcerm = qbool("forcerm")
    return Options(registry_config=_registry_config(),tags=tags, buildargs=buildargs, labels=labels, target=args.get("target", ""),
                   nocache=qbool("nocache"), rm=qbool("rm", True) or forcerm, forcerm=forcerm,
                   pull=qbool("pull"), quiet=qbool("q"), network_mode=args.get("networkmode", ""),
                   extra_hosts=extra_hosts, platform=platform)


def _registry_config():
    """X-Registry-Config: base64url JSON {registry: AuthConfig}; unreadable -> none (as dockerd)."""
    raw = request.headers.get("X-Registry-Config", "")
    if not raw:
        return {}
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return value if isinstance(value, dict) else {}


@bp.post("/build")
def build():
    opts = _options()
    d = daemon()
    ctx = build_context.receive(request.stream, request.args.get("dockerfile", ""))
    try:
        builder = Builder(Engine(d), ctx, opts, emit=None).plan()
    except BaseException:
        ctx.close()
        raise
    gone = request.environ.get(CLIENT_GONE_KEY) or (lambda: False)
    return Response(_stream(builder, ctx, opts, gone), mimetype="application/json")


def _error(message, code=0):
    detail = {"message": message}
    if code:
        detail["code"] = code
    return {"errorDetail": detail, "error": message}


def _stream(builder, ctx, opts, client_gone):
    q = queue.Queue()
    cancel = threading.Event()
    builder._emit = q.put
    builder.cancelled = cancel.is_set

    def work():
        try:
            for item in _run(builder, opts):
                q.put(item)
        finally:
            ctx.close()
            q.put(_END)

    worker = threading.Thread(target=work, name="build", daemon=True)
    worker.start()
    try:
        yield b""  # headers now
        while True:
            try:
                item = q.get(timeout=1.0)
            except queue.Empty:
                if client_gone():
                    cancel.set()
                    return
                continue
            if item is _END:
                return
            yield (json.dumps(item) + "\r\n").encode()
    finally:
        cancel.set()


def _run(builder, opts):
    """The build's closing messages; intermediate containers are gone before the last one
    (as dockerd, which removes them before it writes the error)."""
    failed, last = True, []
    try:
        image_id = builder.run()
        builder.cleanup(False)
        failed = False
        if opts.quiet:
            last.append({"stream": image_id + "\n"})
        else:
            last.append({"stream": "Successfully built %s\n" % ids.short(image_id)})
        for tag in opts.tags:
            builder.engine.tag(image_id, tag)
            if not opts.quiet:
                last.append({"stream": "Successfully tagged %s\n" % tag})
    except BuildError as exc:
        last.append(_error(exc.message, exc.code))
    except Cancelled:
        log.info("build cancelled: the client went away")
    except errors.DockyardError as exc:
        last.append(_error(exc.message))
    except Exception as exc:  # a bug: still tell the client
        log.exception("build failed")
        last.append(_error("internal error: %s" % exc))
    if failed:
        try:
            builder.cleanup(True)
        except Exception:
            log.exception("build cleanup failed")
        if opts.quiet and last:
            last = builder.quiet_output + last
    return last


@bp.post("/build/prune")
def build_prune():
    """The classic builder keeps no cache of its own (its cache is the image store)."""
    return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})


@bp.post("/build/cancel")
def build_cancel():
    raise errors.NotImplementedYet("cancelling a build by id is not supported by dockyard: close the "
                                   "build connection instead")
