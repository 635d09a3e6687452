"""The platform checks of container create (moby daemon/images GetImage with a platform, and
daemon/create.go's warning): a local image for another platform is "not found" when a platform
was asked for (so the CLI pulls that platform), and a warning when none was."""

import json

from dockyard_common import errors, platforms


def parse_query(value):
    """?platform= of POST /containers/create: a Platform or None; 400 for a malformed one."""
    return platforms.parse(value) if value else None


def image_platform(image):
    """The platform an images_pb2.Image's config declares (Docker's defaults if it says none)."""
    try:
        cfg = json.loads(image.config_json or b"{}")
    except ValueError:
        cfg = {}
    p = platforms.of_config(cfg)
    return platforms.Platform(p.os or "linux", p.architecture or "amd64", p.variant)


def check(ref, image, wanted):
    """Warnings for a create of `image` (named `ref` by the client); NotFound when `wanted` (a
    Platform, or None) is not what the image is for."""
    actual = image_platform(image)
    if wanted is not None:
        if not platforms.matches_image(wanted, actual):
            raise errors.NotFound(
                "image with reference %s was found but does not match the specified platform: "
                "wanted %s, actual: %s" % (ref, platforms.format_platform(wanted),
                                           platforms.format_platform(actual)))
        return []
    host = platforms.host()
    if platforms.matches_image(host, actual):
        return []
    return ["The requested image's platform (%s) does not match the detected host platform (%s) "
            "and no specific platform was requested" % (platforms.format_platform(actual),
                                                        platforms.format_platform(host))]
