"""The macvlan and ipvlan drivers (libnetwork's drivers/macvlan and drivers/ipvlan).

A network is a parent link on the host (`-o parent=`); each endpoint is a sub-interface of it
made inside the container's netns. No bridge, no NAT, no published ports (accepted and ignored,
as Docker). The manager does IPAM and bookkeeping; this module decides the parent link and the
endpoint's routing, with Docker's messages. Kernel work goes through a VlanLinks
(macvlan_links.py; a fake in unit tests).
"""

import errno
import logging
import os
from dataclasses import dataclass

from dockyard_common.errors import FailedPrecondition, Internal, InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    name: str
    mode_option: str
    modes: tuple     # the first is the default
    dummy_prefix: str


KINDS = {"macvlan": Kind("macvlan", "macvlan_mode", ("bridge", "private", "vepa", "passthru"),
                         "dm-"),
         # l3s is not valid in Docker 20.10
         "ipvlan": Kind("ipvlan", "ipvlan_mode", ("l2", "l3"), "di-")}

# parent_link column: which link we made for the network (deleted with it); "" = the user's.
DUMMY, VLAN = "dummy", "vlan"


def handles(driver):
    return driver in KINDS


def errno_text(exc):
    """Go's wording of an errno ("operation not supported"), as Docker's messages carry it."""
    code = getattr(exc, "errno", None) or getattr(exc, "code", None)
    if isinstance(code, int) and code > 0:
        text = os.strerror(code)
        return text[:1].lower() + text[1:]
    return str(exc)


class VlanDriver:
    def __init__(self, links=None):
        if links is None:
            from .macvlan_links import VlanLinks
            links = VlanLinks()
        self.links = links

    def mode(self, driver, options):
        kind = KINDS[driver]
        mode = options.get(kind.mode_option) or kind.modes[0]
        if mode not in kind.modes:
            raise InvalidArgument("requested %s mode '%s' is not valid, '%s' mode is the %s driver "
                           "default" % (kind.name, mode, kind.modes[0], kind.name))
        return mode

    # networks ---------------------------------------------------------------
    def create_network(self, driver, net_id, options, internal, networks):
        """Check the options and make the parent when it is ours to make (a dummy when no
        parent is given or the network is internal, a VLAN link for `eth0.10`). `networks`:
        the existing rows. Returns the values of the parent and parent_link columns."""
        kind = KINDS[driver]
        self.mode(driver, options)
        parent = options.get("parent", "")
        given = bool(parent)
        if not given:
            # Docker: no parent is handled as --internal, on a dummy named after the network
            parent, internal = kind.dummy_prefix + net_id[:12], True
        for other in networks:
            if other["driver"] == driver and other.get("parent") == parent:
                raise FailedPrecondition("network %s%s is already using parent interface %s"
                               % (kind.dummy_prefix, other["id"][:12], parent))
        if self.links.link_exists(parent):
            return {"parent": parent, "parent_link": "" if given else DUMMY}
        if internal:
            self._make(self.links.add_dummy, parent)
            return {"parent": parent, "parent_link": DUMMY}
        master, vlan_id = self._vlan_of(parent)
        try:
            self.links.add_vlan(parent, master, vlan_id)
        except OSError as exc:
            raise Internal("failed to create %s vlan link: %s"
                           % (parent, errno_text(exc))) from None
        log.info("created vlan link", extra={"link": parent})
        return {"parent": parent, "parent_link": VLAN}

    def _make(self, add, name):
        try:
            add(name)
        except OSError as exc:  # e.g. a kernel without dummy links: Docker's bare errno
            raise Internal(errno_text(exc)) from None
        log.info("created dummy parent link", extra={"link": name})

    def _vlan_of(self, parent):
        """(master, vlan id) of `eth0.10`, with Docker's checks and messages."""
        if "." not in parent:
            raise InvalidArgument("invalid subinterface vlan name %s, example formatting is eth0.10"
                           % parent)
        parts = parent.split(".")
        if len(parts) != 2:
            raise InvalidArgument("required interface name format is: name.vlan_id, ex. eth0.10 for "
                           "vlan 10, instead received %s" % parent)
        master, vid = parts
        try:
            vlan_id = int(vid)
        except ValueError:
            raise InvalidArgument("unable to parse a valid vlan id from: %s (ex. eth0.10 for vlan 10)"
                           % vid) from None
        if not self.links.link_exists(master):
            raise InvalidArgument("-o parent interface does was not found on the host: %s" % master)
        if not 1 <= vlan_id <= 4094:
            raise InvalidArgument("vlan id must be between 1-4094, received: %d" % vlan_id)
        return master, vlan_id

    def restore(self, net):
        """At start: a parent we made that vanished (host reboot) is made again."""
        if not net.get("parent_link") or self.links.link_exists(net["parent"]):
            return
        if net["parent_link"] == DUMMY:
            self.links.add_dummy(net["parent"])
        else:
            master, vlan_id = net["parent"].split(".")
            self.links.add_vlan(net["parent"], master, int(vlan_id))

    def remove_network(self, net):
        """Delete the parent if we made it (the user's own parent stays)."""
        if net.get("parent_link"):
            self.links.delete_link(net["parent"])

    # endpoints --------------------------------------------------------------
    def add_endpoint(self, net, netns_path, ifname, mac, ip, prefixlen, gateway, free_route,
                     v6=None):
        """A sub-interface of the parent inside the netns as `ifname`. free_route: no other
        endpoint of the sandbox has the default route. v6: (address, prefixlen, gateway) or
        None. Returns what the endpoint row records: mac, gateway, default_route (ipvlan has
        the parent's MAC; an internal or parentless network gives no gateway; ipvlan l3 routes
        by device, as Docker)."""
        driver = net["driver"]
        mode = self.mode(driver, net["options"])
        if driver == "ipvlan" and mac:
            raise InvalidArgument("ipvlan interfaces do not support custom mac address assignment")
        l3 = driver == "ipvlan" and mode == "l3"
        routed = not (l3 or net["internal"] or net.get("parent_link") == DUMMY)
        via = gateway if routed and free_route else None
        if not self.links.link_exists(net["parent"]):
            raise InvalidArgument("the requested parent interface %s was not found on the Docker host"
                           % net["parent"])
        if v6 and not via:
            v6 = (v6[0], v6[1], None)
        try:
            self.links.add_port(driver, net["parent"], mode, netns_path, ifname,
                                mac if driver == "macvlan" else None, ip, prefixlen,
                                gateway=via, dev_route=l3 and free_route, v6=v6)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument('error setting interface "%s" MAC to "%s": cannot assign '
                                      'requested address' % (ifname, mac)) from None
            raise Internal("failed to create the %s port: %s" % (driver, errno_text(exc))) \
                from None
        return {"mac": mac if driver == "macvlan" else "",
                "gateway": str(gateway) if routed else "",
                "default_route": int(bool(via) or (l3 and free_route))}
