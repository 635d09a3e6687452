"""Apply a layer tar to a directory, safely, turning OCI whiteouts into overlay ones.

The extractor itself lives in dockyard_common.safetar (the shim-runner's `docker cp` uses it
too); this module keeps the image-service's names for it.
"""

from dockyard_common.safetar import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX, Unsafe, clean_parts  # noqa: F401
from dockyard_common.safetar import unpack_layer


def unpack(fileobj, dest):
    """Extract the (uncompressed) layer tar read from fileobj into dest. Returns the number of
    bytes of regular files written (Docker's layer size)."""
    return unpack_layer(fileobj, dest)
