"""Mounting volume mountpoints on the host, as Docker's local driver does: mount(2) with `o=`
split into flags and data like moby's mount.Mount (dockyard_common.mounts), lazy unmounts.
Unit tests use an in-memory fake with the same methods."""

import ipaddress
import socket

from dockyard_common import errors, mounts


def _password_hidden(text, opts):
    for part in opts.split(","):
        if part.startswith("password="):
            text = text.replace(part, "password=********")
    return text


def _nfs_options(options):
    """moby resolves an nfs addr= that is not an IPv4 address (the kernel wants an address)."""
    out = []
    for part in options.split(","):
        key, sep, value = part.partition("=")
        if key == "addr" and sep and value:
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                try:
                    value = socket.getaddrinfo(value, None)[0][4][0]
                except OSError as exc:
                    raise OSError("error resolving passed in network volume address: %s" % exc)
        out.append(key + sep + value)
    return ",".join(out)


class HostMounter:
    def is_mounted(self, path):
        return mounts.is_mountpoint(path)

    def has_mounts_below(self, path):
        return bool(mounts.mounts_below(path))

    def mount(self, spec, target):
        if not spec.device:
            raise errors.Internal("error while mounting volume '%s': missing device in volume options"
                                  % target)
        try:
            options = _nfs_options(spec.options) if spec.type in ("nfs", "nfs4") else spec.options
            mounts.mount(spec.device, target, spec.type, options)
        except OSError as exc:
            raise errors.Internal("error while mounting volume '%s': failed to mount local volume: %s"
                                  % (target, _password_hidden(str(exc), spec.options)))

    def unmount(self, target):
        """Lazily unmount (MNT_DETACH, as moby's mount.Unmount); stacked mounts are all removed."""
        try:
            mounts.unmount(target, detach=True)
        except OSError as exc:
            raise errors.Internal("error while unmounting volume path '%s': %s" % (target, exc))
