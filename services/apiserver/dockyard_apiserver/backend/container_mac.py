"""`--mac-address`: the container-wide Config.MacAddress (API < 1.44) and the per-network
EndpointSettings.MacAddress (1.44+), reconciled as dockerd's handleMACAddressBC
(api/server/router/container/container_routes.go), then checked as validateEndpointSettings.
Pure functions over the create body's parts."""

import re

from dockyard_common import errors

CONFLICT_MODE = "conflicting options: mac-address and the network mode"
NOT_MAIN = ("if a container-wide MAC address is supplied, HostConfig.NetworkMode must match "
            "the identity of a network in NetworksSettings.Networks")
MISMATCH = ("the container-wide MAC address must match the endpoint-specific MAC address for "
            "the main network, or be left empty")
# Go's net.ParseMAC spellings of a 48-bit address.
_MAC = re.compile(r"^([0-9a-f]{2})([:-])[0-9a-f]{2}(\2[0-9a-f]{2}){4}$|"
                  r"^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$", re.I)


def check(value):
    """InvalidArgument (Docker's words) unless `value` is a MAC address."""
    if not _MAC.match(value or ""):
        raise errors.InvalidArgument("invalid endpoint settings:\ninvalid MAC address %s" % value)


def reconcile(config, mode, primary, wanted, api_before_144):
    """Move the container-wide address to the main network's endpoint config; `wanted`: the
    EndpointsConfig (network name -> settings, keys normalised), changed in place."""
    container_wide = config.get("MacAddress") or ""
    if api_before_144:
        # Older APIs had no per-network address: whatever came there is dropped.
        for name, settings in list(wanted.items()):
            if settings.get("MacAddress"):
                wanted[name] = dict(settings, MacAddress="")
    if mode == "host" or mode.startswith("container:"):
        # no interface of its own to give an address to
        if container_wide or (wanted.get(primary) or {}).get("MacAddress"):
            raise errors.InvalidArgument(CONFLICT_MODE)
    elif container_wide and mode != "none":  # "none": ignored, as Docker 20.10
        settings = wanted.get(primary)
        if settings is None:
            if wanted and not api_before_144:
                raise errors.InvalidArgument(NOT_MAIN)
            settings = {}
        if settings.get("MacAddress") and settings["MacAddress"] != container_wide:
            raise errors.InvalidArgument(MISMATCH)
        wanted[primary] = dict(settings, MacAddress=container_wide)
    for settings in wanted.values():
        if settings.get("MacAddress"):
            check(settings["MacAddress"])
