"""Kernel side of the macvlan/ipvlan drivers through pyroute2: parent links (dummy, VLAN) and
sub-interfaces made inside a netns. Netlink errors come out as OSError(errno) so that
macvlan.py words them as Docker does without knowing pyroute2."""

import errno
import functools

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import netns
from . import bridge
from .bridge import configure_peer

IPVLAN_MODES = {"l2": 0, "l3": 1}


def _oserror(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NetlinkError as exc:
            raise OSError(exc.code, str(exc)) from None
    return wrapper


def _lookup(ipr, name):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


class VlanLinks:
    """Real kernel operations (root)."""

    def link_exists(self, name):
        with IPRoute() as ipr:
            return _lookup(ipr, name) is not None

    @_oserror
    def add_dummy(self, name):
        with IPRoute() as ipr:
            ipr.link("add", ifname=name, kind="dummy")
            ipr.link("set", index=_lookup(ipr, name), state="up")

    @_oserror
    def add_vlan(self, name, master, vlan_id):
        with IPRoute() as ipr:
            idx = _lookup(ipr, master)
            if idx is None:
                raise OSError(errno.ENODEV, "no link %s" % master)
            ipr.link("add", ifname=name, kind="vlan", link=idx, vlan_id=vlan_id)
            ipr.link("set", index=_lookup(ipr, name), state="up")

    @_oserror
    def delete_link(self, name):
        return bridge.delete_link(name)

    @_oserror
    def add_port(self, kind, parent, mode, netns_path, ifname, mac, address, prefixlen,
                 gateway=None, dev_route=False, v6=None):
        """A `kind` sub-interface of `parent` made directly inside the netns as `ifname`
        (no rename or move needed, and no name clash on the host), then addressed and up.
        v6: (address, prefixlen, gateway or None) or None."""
        with IPRoute() as ipr:
            idx = _lookup(ipr, parent)
            if idx is None:
                raise OSError(errno.ENODEV, "no link %s" % parent)
            spec = dict(ifname=ifname, link=idx, net_ns_fd=netns_path)
            if kind == "macvlan":
                spec.update(kind="macvlan", macvlan_mode=mode)
                if mac:
                    spec["address"] = mac
            else:
                spec.update(kind="ipvlan", ipvlan_mode=IPVLAN_MODES[mode])
            ipr.link("add", **spec)
        try:
            v6 = (str(v6[0]), v6[1], str(v6[2]) if v6[2] else None) if v6 else None
            netns.run_in(netns_path, _configure, ifname, str(address), prefixlen,
                         str(gateway) if gateway else None, v6, dev_route)
        except Exception:
            netns.run_in(netns_path, _delete, ifname)
            raise


def _configure(ifname, address, prefixlen, gateway, v6, dev_route):
    """Inside the netns. dev_route: ipvlan l3's `default dev <ifname>` (no next hop)."""
    configure_peer(ifname, address, prefixlen, gateway, v6)
    if dev_route:
        with IPRoute() as ipr:
            idx = _lookup(ipr, ifname)
            ipr.route("replace", dst="0.0.0.0/0", oif=idx)
            if v6:
                ipr.route("replace", dst="::/0", oif=idx, family=10)


def _delete(ifname):
    with IPRoute() as ipr:
        idx = _lookup(ipr, ifname)
        if idx is not None:
            ipr.link("del", index=idx)
