"""docker cp / the archive API on a task's mounted root filesystem (a running container).

The files are reached through the rootfs the shim-runner mounted for the task (the bundle's
root.path), the same overlay the container sees. A container without a task goes through the
image-service's Snapshots instead, which is why a missing task is FailedPrecondition here (the
apiserver falls back) and a missing path NotFound.
"""

import json
import os

from dockyard_common import containerfs, errors


class TaskFS:
    def __init__(self, core):
        self.core = core      # tasks.TaskService

    def rootfs(self, cid):
        try:
            task = self.core._task(cid)
        except errors.NotFound:
            raise errors.FailedPrecondition("task %s does not exist" % cid) from None
        root = "rootfs"
        try:
            with open(os.path.join(task.dir, "config.json")) as f:
                root = (json.load(f).get("root") or {}).get("path") or root
        except (OSError, ValueError):
            pass
        path = root if os.path.isabs(root) else os.path.join(task.dir, root)
        if not os.path.isdir(path):
            raise errors.FailedPrecondition("task %s has no root filesystem" % cid)
        return path

    def stat_path(self, cid, path):
        return containerfs.stat_path(self.rootfs(cid), path)

    def archive_get(self, cid, path):
        """(stat, chunks); errors raise before the first chunk."""
        return containerfs.archive_get(self.rootfs(cid), path)

    def archive_put(self, cid, path, fileobj, no_overwrite_dir_non_dir=False):
        containerfs.archive_put(self.rootfs(cid), path, fileobj, no_overwrite_dir_non_dir)
