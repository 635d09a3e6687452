"""docker cp / the archive API on a running (or paused) container.

Files are reached through /proc/<init pid>/root: the container's root in its own mount
namespace, so a path below a volume, a bind mount, a tmpfs or a network file lands on that
mount, exactly what the container's processes see (the rootfs alone would hide them). The
runtime's pseudo filesystems (/proc, /sys, /dev...) are archived as empty directories, as the
rootfs has them. `docker export` (an empty path) keeps to the rootfs the shim-runner mounted for
the task: Docker exports the container's layers, never its volumes.

A container without a live process goes through the image-service's Snapshots instead, which
is why a missing task is FailedPrecondition here (the apiserver falls back) and a missing path
NotFound.
"""

import contextlib
import errno
import json
import os

from dockyard_common import containerfs, errors

from .procs import PAUSED, RUNNING

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# Kernel filesystems whose contents are not files of the container (and may never end).
PSEUDO_FS = frozenset(("proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs",
                       "tracefs", "securityfs", "bpf", "configfs", "fusectl", "pstore"))


def pseudo_devs(mountinfo_lines):
    """st_dev of the mounts that are not the container's files: pseudo filesystems and the
    runtime's /dev tmpfs (field 3 of /proc/<pid>/mountinfo is the major:minor of st_dev)."""
    devs = set()
    for line in mountinfo_lines:
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        fstype = fields[fields.index("-", 6) + 1]
        if fstype in PSEUDO_FS or (fields[4] == "/dev" and fstype == "tmpfs"):
            major, minor = fields[2].split(":")
            devs.add(os.makedev(int(major), int(minor)))
    return devs


class TaskFS:
    def __init__(self, core, proc="/proc"):
        self.core = core      # tasks.TaskService
        self.proc = proc      # procfs (a fake tree in unit tests)

    def _task(self, cid):
        try:
            return self.core._task(cid)
        except errors.NotFound:
            raise errors.FailedPrecondition("task %s does not exist" % cid) from None

    def rootfs(self, cid):
        """The rootfs the shim-runner mounted for the task (the bundle's root.path)."""
        task = self._task(cid)
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

    @contextlib.contextmanager
    def view(self, cid):
        """(root fd, pseudo devs): the container's root as its processes see it."""
        task = self._task(cid)
        not_running = errors.FailedPrecondition("task %s is not running" % cid)
        if task.status not in (RUNNING, PAUSED) or not task.pid or task.exited.is_set():
            raise not_running
        try:
            proc_fd = os.open(os.path.join(self.proc, str(task.pid)), _DIR)
        except FileNotFoundError:
            raise not_running from None
        try:
            # Checked after the open: the fd keeps naming this process even if its pid is
            # reused later (lookups through it then fail with ESRCH/ENOENT).
            if task.exited.is_set():
                raise not_running
            try:
                root_fd = os.open("root", _DIR, dir_fd=proc_fd)
                with open(os.open("mountinfo", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)) as f:
                    devs = pseudo_devs(f)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ESRCH):
                    raise not_running from None
                raise
        finally:
            os.close(proc_fd)
        try:
            yield root_fd, devs
        finally:
            os.close(root_fd)

    def stat_path(self, cid, path):
        with self.view(cid) as (root_fd, _):
            return containerfs.stat_path(root_fd, path)

    def archive_get(self, cid, path):
        """(stat, chunks); errors raise before the first chunk. An empty path is export."""
        if not path:
            return containerfs.archive_get(self.rootfs(cid), path)
        with self.view(cid) as (root_fd, devs):
            return containerfs.archive_get(root_fd, path, skip_devs=devs)

    def archive_put(self, cid, path, fileobj, no_overwrite_dir_non_dir=False, mounts=(),
                    readonly_rootfs=False, owner_user=None):
        """mounts: (destination, writable) of the container's mount points for Docker's
        read-only checks; owner_user: a Docker User string every entry is chowned to
        (`docker cp -a` of a container with a User), resolved in the container's passwd."""
        with self.view(cid) as (root_fd, _):
            owner = None
            if owner_user:
                owner = containerfs.lookup_owner("/proc/self/fd/%d" % root_fd, owner_user)
            containerfs.archive_put(
                root_fd, path, fileobj, no_overwrite_dir_non_dir,
                check=lambda p: containerfs.check_writable(p, mounts, readonly_rootfs),
                owner=owner)

