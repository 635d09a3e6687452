"""The shareable /dev/shm of `--ipc shareable` containers (dockerd's ShmPath).

The spec of such a container binds <bundle>/shm at /dev/shm and says its size in an annotation:
the tmpfs is mounted here, on the host, so that a container joining its IPC namespace
(`--ipc container:<it>`, whose spec names it in SHM_FROM_ANNOTATION) binds the same files.
"""

import logging
import os

from dockyard_common import errors, oci

log = logging.getLogger(__name__)


def prepare(spec, bundle, task_dir_of, mounter):
    """Mount the task's own shareable tmpfs and/or point a joiner's /dev/shm at its donor's."""
    annotations = spec.get("annotations") or {}
    size = annotations.get(oci.SHM_SIZE_ANNOTATION)
    if size is not None:
        path = os.path.join(bundle, oci.SHM_BUNDLE_DIR)
        os.makedirs(path, exist_ok=True)
        try:
            mounter.mount_tmpfs(path, ["nosuid", "nodev", "noexec", "mode=1777",
                                       "size=%d" % int(size)])
        except (OSError, ValueError) as exc:
            raise errors.Internal("mounting the shareable /dev/shm: %s" % exc) from None
    donor = annotations.get(oci.SHM_FROM_ANNOTATION)
    if donor:
        source = os.path.join(task_dir_of(donor), oci.SHM_BUNDLE_DIR)
        if not mounter.is_mounted(source):
            raise errors.FailedPrecondition(
                "can't join IPC of container %s: non-shareable IPC (hint: use "
                "IpcMode:shareable for the donor container)" % donor)
        for m in spec.get("mounts") or []:
            if m.get("destination") == "/dev/shm":
                m["source"] = source


def cleanup(bundle, mounter):
    path = os.path.join(bundle, oci.SHM_BUNDLE_DIR)
    if not os.path.isdir(path):
        return
    try:
        mounter.unmount(path)
    except OSError as exc:  # rmtree then leaves the mount point (and its files) alone
        log.warning("unmounting %s: %s", path, exc)
