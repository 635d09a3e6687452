"""/images/*: list, inspect, history, tag, delete, prune, import (create?fromSrc), pull
(create?fromImage), load, save (moby's router/image)."""

import json
import logging

from flask import Blueprint, Response, request

from dockyard_common import errors

from .. import gojson
from ..api_types import CONTAINER_CREATE
from ..backend.images import (ImageBackend, decode_auth_header, error_line, inspect,
                              pull_reference, push_reference)
from ..webutil import (daemon, filters_arg, json_response, json_stream, parse_json, qbool,
                       version_at_least)

log = logging.getLogger(__name__)

bp = Blueprint("images", __name__)


def backend():
    d = daemon()
    return ImageBackend(d.clients, d.events)


@bp.get("/images/json")
def list_images():
    flt = filters_arg()
    # the legacy ?filter=name parameter (API < 1.41 clients) is a reference filter
    if request.args.get("filter"):
        flt.setdefault("reference", set()).add(request.args["filter"])
    out = backend().list_summaries(flt, all_=qbool("all"), api_lt_143=not version_at_least("1.43"),
                                   api_lt_144=not version_at_least("1.44"))
    return json_response(out)


@bp.get("/images/<path:name>/json")
def inspect_image(name):
    try:
        img = backend().get(name)
    except errors.NotFound as exc:
        # dockerd 20.10's inspect wraps the lookup error with the name as given
        raise errors.NotFound("no such image: %s: %s" % (name, exc.message)) from None
    return json_response(inspect(img, api_lt_144=not version_at_least("1.44")))


@bp.get("/images/<path:name>/history")
def image_history(name):
    return json_response(backend().history(name))


@bp.post("/images/<path:name>/tag")
def tag_image(name):
    backend().tag(name, request.args.get("repo", ""), request.args.get("tag", ""))
    return Response(status=201)


@bp.delete("/images/<path:name>")
def delete_image(name):
    out = backend().delete(name, force=qbool("force"), noprune=qbool("noprune"))
    return json_response(out)


@bp.post("/images/prune")
def prune_images():
    return json_response(backend().prune(filters_arg()))


@bp.post("/images/create")
def create_image():
    from_src = request.args.get("fromSrc")
    from_image = request.args.get("fromImage")
    if from_src is not None and from_src != "":
        return _import(from_src)
    if from_image:
        return _pull(from_image, request.args.get("tag", ""))
    raise errors.InvalidArgument("either fromSrc or fromImage must be set")


def _import(from_src):
    if from_src != "-":
        raise errors.InvalidArgument("importing from a URL (%s) is not supported: send the archive "
                                     "in the request body with fromSrc=-" % from_src)
    changes = request.args.getlist("changes")
    message = request.args.get("message", "")
    img = backend().import_(request.stream, request.args.get("repo", ""), request.args.get("tag", ""),
                            changes, message, request.args.get("platform", ""))
    return json_stream([{"status": img.id}])


def _pull(image, tag):
    ref = pull_reference(image, tag)
    lines = backend().pull(ref, request.args.get("platform", ""),
                           decode_auth_header(request.headers.get("X-Registry-Auth", "")))
    return json_stream(lines)


@bp.post("/commit")
def commit():
    container = request.args.get("container", "")
    if not container:
        raise errors.InvalidArgument("container is required")
    config = None
    raw = request.get_data(cache=False)
    if raw.strip() and raw.strip() != b"null":
        config = gojson.check(parse_json(raw), CONTAINER_CREATE)  # dockerd decodes it so
        if not isinstance(config, dict):
            raise errors.InvalidArgument("the body must be a container Config object")
    image_id = backend().commit(container, request.args.get("repo", ""), request.args.get("tag", ""),
                                request.args.get("comment", ""), request.args.get("author", ""),
                                request.args.getlist("changes"), pause=qbool("pause", True),
                                config=config or None)
    return json_response({"Id": image_id}, status=201)


@bp.post("/images/<path:name>/push")
def push_image(name):
    ref = push_reference(name, request.args.get("tag", ""))
    return json_stream(backend().push(ref, _push_auth()))


def _push_auth():
    """X-Registry-Auth; without it, the body may carry the auth config (the old API)."""
    header = request.headers.get("X-Registry-Auth", "")
    if header:
        return decode_auth_header(header)
    raw = request.get_data(cache=False).strip()
    if raw and raw != b"null":
        body = parse_json(raw)
        if isinstance(body, dict):
            return json.dumps(body)
    return ""


@bp.get("/images/search")
def search_images():
    raise errors.NotImplementedYet("searching a registry is not supported by dockyard yet")


@bp.post("/images/load")
def load_images():
    try:
        lines = backend().load(request.stream)
    except errors.DockyardError as exc:
        # dockerd answers 200 and writes a load's error into the stream
        return json_stream([error_line(exc.message)])
    return json_stream([{"stream": line} for line in lines])


@bp.get("/images/get")
def save_images():
    names = request.args.getlist("names")
    if not names:
        raise errors.InvalidArgument("no images given: use names=<image>")
    return _save(names)


@bp.get("/images/<path:name>/get")
def save_image(name):
    return _save([name])


def _save(names):
    data = backend().save(names)
    return Response(data, mimetype="application/x-tar")
