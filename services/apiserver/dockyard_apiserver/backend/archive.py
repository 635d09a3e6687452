"""Container filesystems over gRPC: the archive API (docker cp), export and changes (moby's
daemon/archive.go, export.go, changes.go).

The archive API sees the container as Docker's does: the rootfs with the volumes, binds (and,
running, tmpfs) mounted on it. A container whose task exists (running or paused) goes through
Shim.StatPath/ArchiveGet/ArchivePut, which reach its files through its own mount namespace. Any
other container (created, or exited: its task is deleted at exit) goes through Snapshots.*: the
image-service mounts the container's snapshot privately and binds its volumes, binds and network
files on it (archive_mounts). When the shim says the task is gone (FailedPrecondition: the
container just exited), the call falls back to Snapshots. Export is the rootfs alone.
"""

import base64
import json
import logging

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

from . import archive_mounts
from . import event_attrs

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
STAT_HEADER = "X-Docker-Container-Path-Stat"


def stat_header(stat):
    """The base64 JSON document Docker puts in X-Docker-Container-Path-Stat."""
    doc = {"name": stat.name, "size": stat.size, "mode": stat.mode, "mtime": stat.mtime,
           "linkTarget": stat.link_target}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _read_chunks(stream):
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        yield data


class _Target:
    """Where a container's files are reached: the shim (task) or the snapshot."""

    def __init__(self, clients, rec):
        self.c = clients
        self.rec = rec
        self.id = rec.id
        self.key = rec.snapshot_key or rec.id
        self.via_shim = rec.state.running or rec.state.paused
        self.mounts = archive_mounts.container_mounts(rec)

    def _snapshot_request(self, path):
        return snapshots_pb2.PathRequest(key=self.key, path=path, mounts=self.mounts)

    def stat(self, path):
        if self.via_shim:
            try:
                return self.c.shim.StatPath(shim_pb2.PathRequest(id=self.id, path=path))
            except errors.FailedPrecondition:
                self.via_shim = False    # the task went away: the snapshot is unmounted now
        return self.c.snapshots.StatPath(self._snapshot_request(path))

    def get(self, path):
        if self.via_shim:
            return self.c.shim.ArchiveGet(shim_pb2.PathRequest(id=self.id, path=path))
        return self.c.snapshots.ArchiveGet(self._snapshot_request(path))

    def export(self):
        """The rootfs alone (no mounts), named relative to it (an empty path)."""
        if self.via_shim:
            return self.c.shim.ArchiveGet(shim_pb2.PathRequest(id=self.id, path=""))
        return self.c.snapshots.ArchiveGet(snapshots_pb2.PathRequest(key=self.key, path=""))

    def put(self, path, stream, no_overwrite_dir_non_dir, copy_uid_gid):
        header = types_pb2.ArchivePutHeader(
            key=self.id if self.via_shim else self.key, path=path,
            no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, copy_uid_gid=copy_uid_gid,
            mounts=self.mounts, readonly_rootfs=archive_mounts.readonly_rootfs(self.rec),
            user=archive_mounts.container_user(self.rec) if copy_uid_gid else "")

        def requests():
            yield types_pb2.ArchivePutRequest(header=header)
            for data in _read_chunks(stream):
                yield types_pb2.ArchivePutRequest(data=data)

        if self.via_shim:
            return self.c.shim.ArchivePut(requests())
        return self.c.snapshots.ArchivePut(requests())


class ArchiveBackend:
    """What routers/archive.py needs (see its `Backend` protocol)."""

    def __init__(self, clients, events=None):
        self.c = clients
        self.events = events

    def _container(self, ref):
        try:
            return self.c.containers.Get(containers_pb2.GetContainerRequest(ref=ref))
        except errors.NotFound:
            raise errors.NotFound("No such container: %s" % ref) from None

    @staticmethod
    def _not_found(path, ref):
        return errors.NotFound("Could not find the file %s in container %s" % (path, ref))

    def _emit(self, rec, action):
        if self.events is None:
            return
        self.events.emit("container", action, rec.id, event_attrs.container(rec))

    # -- archive API ----------------------------------------------------------------------------
    def stat(self, ref, path):
        """(header value) for HEAD /containers/{id}/archive."""
        rec = self._container(ref)
        try:
            return stat_header(_Target(self.c, rec).stat(path))
        except errors.NotFound:
            raise self._not_found(path, ref) from None

    def get(self, ref, path):
        """(header value, chunk iterator): every lookup error raises before the response starts
        (the stat, then the first chunk of the tar)."""
        rec = self._container(ref)
        target = _Target(self.c, rec)
        try:
            stat = target.stat(path)
            stream, first = _started(target.get(path))
        except errors.NotFound:
            raise self._not_found(path, ref) from None
        self._emit(rec, "archive-path")
        return stat_header(stat), _relay(stream, first)

    def put(self, ref, path, stream, no_overwrite_dir_non_dir=False, copy_uid_gid=False):
        """The services check the read-only mounts and rootfs on the resolved path (a symlink
        into a read-only volume is refused too), answered 403 as the API spec names it."""
        rec = self._container(ref)
        target = _Target(self.c, rec)
        try:
            # Decide shim or snapshot (and check the directory) before sending any data: a
            # fallback after part of the body was consumed would lose it.
            target.stat(path)
            target.put(path, stream, no_overwrite_dir_non_dir, copy_uid_gid)
        except errors.NotFound:
            raise self._not_found(path, ref) from None
        self._emit(rec, "extract-to-dir")

    # -- export / changes -----------------------------------------------------------------------
    def export(self, ref):
        """A chunk iterator of the container's whole root filesystem, entries named relative to
        it (the archive services read an empty path as "export the root")."""
        rec = self._container(ref)
        target = _Target(self.c, rec)
        stream = None
        if target.via_shim:
            try:
                stream, first = _started(target.export())
            except errors.FailedPrecondition:
                target.via_shim = False
        if stream is None:
            stream, first = _started(target.export())
        self._emit(rec, "export")
        return _relay(stream, first)

    def changes(self, ref):
        rec = self._container(ref)
        resp = self.c.snapshots.Changes(snapshots_pb2.SnapshotKey(key=rec.snapshot_key or rec.id))
        return [{"Path": c.path, "Kind": c.kind} for c in resp.changes]


def _started(stream):
    """(stream, first message): pulling the first message surfaces the server's errors."""
    return stream, next(stream, None)


def _relay(stream, first):
    try:
        if first is not None:
            yield first.data
        for msg in stream:
            yield msg.data
    finally:
        stream.cancel()


def for_daemon(daemon):
    return ArchiveBackend(daemon.clients, daemon.events)
