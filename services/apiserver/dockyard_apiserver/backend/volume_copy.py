"""Populating a new, empty volume from the image (moby's copyExistingContents).

At create, before any task exists, the image content at the mount's destination lives in the
container's snapshot: Snapshots.ArchiveGet streams it as a tar, which the safe extractor
(dockyard_common.safetar) writes into the volume's Mountpoint (the host path Volumes.Acquire
hands to the apiserver for exactly this). Owners, modes, times and symlinks are kept; the
destination directory's own owner and mode go to the volume's root, as Docker's copyOwnership.
"""

import logging
import os
import shutil
import stat
import tempfile

from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_common import errors, safetar
from dockyard_common.containerfs import ChunkReader

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def is_empty(path):
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True


def populate(snapshots, key, path, mountpoint):
    """Copy the directory `path` of snapshot `key` into the empty directory `mountpoint`.
    Returns True when something was copied (False: the volume is not empty, or the image has
    no directory there)."""
    if not os.path.isdir(mountpoint) or not is_empty(mountpoint):
        return False
    tmp = tempfile.mkdtemp(prefix=".dockyard-copyup-", dir=mountpoint)
    try:
        fd = os.open(tmp, _DIR_FLAGS)
        chunks = None
        try:
            # A stream: a missing path raises NotFound at the call or at its first message.
            chunks = snapshots.ArchiveGet(snapshots_pb2.PathRequest(key=key, path=path))
            safetar.extract(ChunkReader(c.data for c in chunks), fd, layer=False, mode="r|",
                            what="image content")
        except errors.NotFound:
            return False  # nothing at that path in the image
        finally:
            os.close(fd)
            _cancel(chunks)
        entries = os.listdir(tmp)
        if len(entries) != 1:
            return False
        top = os.path.join(tmp, entries[0])
        st = os.lstat(top)
        if not stat.S_ISDIR(st.st_mode):
            return False  # a file in the image: nothing to copy into a directory
        for name in os.listdir(top):
            os.rename(os.path.join(top, name), os.path.join(mountpoint, name))
        os.chown(mountpoint, st.st_uid, st.st_gid)
        os.chmod(mountpoint, stat.S_IMODE(st.st_mode))
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cancel(call):
    cancel = getattr(call, "cancel", None)
    if cancel is not None:
        try:
            cancel()
        except Exception:
            pass
