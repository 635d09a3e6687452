"""Driver options of the local driver (`type`, `o`, `device`), validated as moby's volume/local does.

A volume with options is a mount description: the service mounts `device` with `type` and `o` on the
volume's _data directory while at least one container uses it.
"""

from dataclasses import dataclass

from dockyard_common import errors

VALID_KEYS = ("type", "o", "device", "size")
# key -> keys it needs (moby volume/local/local_unix.go mandatoryOpts)
REQUIRED_WITH = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


@dataclass(frozen=True)
class MountSpec:
    type: str
    device: str
    options: str = ""


def validate(name, opts):
    """Raise InvalidArgument (Docker's wording, prefixed "create NAME: ") for bad driver options."""
    if not opts:
        return
    for key in sorted(opts):
        if key not in VALID_KEYS:
            raise errors.InvalidArgument('create %s: invalid option: "%s"' % (name, key))
    if "size" in opts:
        # moby needs project quotas (xfs) for size; we have no quota support at all.
        raise errors.InvalidArgument("create %s: quota size requested but no quota support" % name)
    for key in sorted(REQUIRED_WITH):
        if key in opts:
            for needed in REQUIRED_WITH[key]:
                if needed not in opts:
                    raise errors.InvalidArgument('create %s: missing required option: "%s"'
                                                 % (name, needed))


def mount_spec(opts):
    """The mount a volume needs, or None for a plain directory volume."""
    if not opts or not (opts.get("type") or opts.get("device")):
        return None
    return MountSpec(type=opts.get("type", ""), device=opts.get("device", ""), options=opts.get("o", ""))
