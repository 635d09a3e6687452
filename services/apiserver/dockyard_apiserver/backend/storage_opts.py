"""HostConfig.StorageOpt (`--storage-opt`), checked the way dockerd's overlay2 driver does.

overlay2 honours only "size", and only with project quotas (overlay over xfs mounted with
'pquota'). Our snapshots sit on a plain directory tree, so a size is refused rather than faked;
any other key is unknown to the driver. dockerd answers both at create.
"""

from dockyard_common import errors

QUOTA_UNSUPPORTED = "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"


def validate(hc):
    opts = hc.get("StorageOpt") or {}
    if not isinstance(opts, dict):
        raise errors.InvalidArgument("invalid StorageOpt: expected an object")
    if not opts:
        return
    # overlay2 CreateReadWrite looks for "size" before it parses (and lower-cases) the keys.
    if "size" in opts:
        raise errors.InvalidArgument(QUOTA_UNSUPPORTED)
    for key in opts:
        if key.lower() != "size":
            raise errors.InvalidArgument("Unknown option %s" % key.lower())
    raise errors.InvalidArgument(QUOTA_UNSUPPORTED)
