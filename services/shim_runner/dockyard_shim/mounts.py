"""Mount a task's rootfs Mount list into its bundle and take it down again (the mount(2) work
is dockyard_common.mounts); FakeMounter stands in for unit tests."""

import os

from dockyard_common import errors, mounts


class Mounter:
    """Performs a list of types.v1.Mount into a rootfs directory."""

    def mount_all(self, rootfs_mounts, rootfs):
        done = []
        try:
            for m in rootfs_mounts:
                target = rootfs if not m.target else os.path.join(rootfs, m.target.lstrip("/"))
                mounts.mount(m.source or m.type, target, m.type or None, list(m.options))
                done.append(target)
        except OSError as exc:
            for target in reversed(done):
                mounts.unmount(target)
            raise errors.InvalidArgument("failed to mount rootfs: %s" % exc) from None

    def unmount_all(self, rootfs):
        mounts.unmount(rootfs)

    # A task's shareable /dev/shm (see shm.py).
    def mount_tmpfs(self, target, options):
        mounts.mount("shm", target, "tmpfs", options)

    def is_mounted(self, target):
        return mounts.is_mountpoint(target)

    def unmount(self, target):
        mounts.unmount(target, detach=True)


class FakeMounter:
    def __init__(self):
        self.mounted = set()
        self.options = {}

    def mount_all(self, mounts, rootfs):
        self.mounted.add(rootfs)

    def unmount_all(self, rootfs):
        self.mounted.discard(rootfs)

    def mount_tmpfs(self, target, options):
        self.mounted.add(target)
        self.options[target] = list(options)

    def is_mounted(self, target):
        return target in self.mounted

    def unmount(self, target):
        self.mounted.discard(target)
