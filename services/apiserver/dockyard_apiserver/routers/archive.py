"""Container filesystems: the archive API behind `docker cp`, export and changes (moby's
router/container copy routes). Commit is POST /commit in routers/images.py."""

from typing import Protocol

from flask import Blueprint, Response, request

from dockyard_common import errors

from ..backend.archive import STAT_HEADER, for_daemon
from ..webutil import daemon, json_response, qbool

bp = Blueprint("archive", __name__)


class Backend(Protocol):
    """What these routes need (backend/archive.py; faked in tests)."""

    def stat(self, ref, path): ...
    def get(self, ref, path): ...
    def put(self, ref, path, stream, no_overwrite_dir_non_dir=False, copy_uid_gid=False): ...
    def export(self, ref): ...
    def changes(self, ref): ...


def backend():
    d = daemon()
    be = getattr(d, "archive_backend", None)
    return be if be is not None else for_daemon(d)


# Linux's PATH_MAX and NAME_MAX: longer paths cannot name anything in the container.
PATH_MAX, NAME_MAX = 4096, 255


def _path():
    """?path= of a container filesystem route, refused here when no file can have it."""
    path = request.args.get("path", "")
    if not path:
        raise errors.InvalidArgument("path is required")
    if "\0" in path:
        raise errors.InvalidArgument("invalid path %r: it contains a NUL byte" % path)
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) >= PATH_MAX or any(len(part) > NAME_MAX for part in raw.split(b"/")):
        raise errors.InvalidArgument("invalid path %s...: file name too long" % path[:64])
    return path


@bp.route("/containers/<ref>/archive", methods=["GET", "HEAD"])
def archive_get(ref):
    path = _path()
    if request.method == "HEAD":
        return Response(status=200, headers={STAT_HEADER: backend().stat(ref, path)},
                        mimetype="application/x-tar")
    header, chunks = backend().get(ref, path)
    return Response(chunks, status=200, headers={STAT_HEADER: header}, mimetype="application/x-tar")


@bp.put("/containers/<ref>/archive")
def archive_put(ref):
    path = _path()
    backend().put(ref, path, request.stream,
                  no_overwrite_dir_non_dir=qbool("noOverwriteDirNonDir"),
                  copy_uid_gid=qbool("copyUIDGID"))
    return Response(status=200)


@bp.get("/containers/<ref>/export")
def export(ref):
    return Response(backend().export(ref), status=200, mimetype="application/x-tar")


@bp.get("/containers/<ref>/changes")
def changes(ref):
    return json_response(backend().changes(ref))
