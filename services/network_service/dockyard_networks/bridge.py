"""Kernel side of the bridge driver through pyroute2: bridges, veth pairs, addresses, routes.

`Links` is the one object the manager talks to for kernel state; unit tests swap in a fake.
"""

import errno
import ipaddress
import logging
import secrets
import threading

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard_common.errors import InvalidArgument

from . import netns

log = logging.getLogger(__name__)

REAP_AFTER = 2.0
# IFA_F_NODAD: an IPv6 address usable at once, as Docker sets it (duplicate address detection
# would keep it "tentative" for a second or more; IPAM already guarantees uniqueness).
IFA_F_NODAD = 0x02


def _lookup(ipr, name):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _lo_up():
    with IPRoute() as ipr:
        ipr.link("set", index=_lookup(ipr, "lo"), state="up")


class Links:
    """Real kernel operations (root)."""

    # sandboxes --------------------------------------------------------------
    def create_sandbox(self, path):
        netns.create(path, setup=_lo_up)

    def remove_sandbox(self, path, host_veths=()):
        """Unmount the netns. The veth pairs whose peer is inside go with the namespace (the
        kernel frees it in the background: deleting a veth ourselves blocks ~16 ms in the
        kernel); any still there after REAP_AFTER seconds (a process kept the netns alive) are
        deleted then. Setting the host side down first (~1 ms) cuts the pair off at once."""
        if host_veths:
            with IPRoute() as ipr:
                for name in host_veths:
                    idx = _lookup(ipr, name)
                    try:
                        if idx is not None:
                            ipr.link("set", index=idx, state="down")
                    except NetlinkError as exc:
                        if exc.code != errno.ENODEV:
                            raise
        netns.remove(path)
        if host_veths:
            timer = threading.Timer(REAP_AFTER, self._reap, args=(list(host_veths),))
            timer.daemon = True
            timer.start()

    def _reap(self, names):
        for name in names:
            try:
                if self.delete_link(name):
                    log.info("deleted veth %s that outlived its sandbox", name)
            except Exception:  # noqa: BLE001 - best effort; teardown removes leftovers too
                log.exception("cannot delete veth %s", name)

    def sandbox_alive(self, path):
        return netns.exists(path)

    # bridges ----------------------------------------------------------------
    def link_exists(self, name):
        with IPRoute() as ipr:
            return _lookup(ipr, name) is not None

    def ensure_bridge(self, name, gateway, prefixlen, gateway6=None, prefixlen6=0):
        """Create the bridge if missing, give it the gateway address (and the IPv6 gateway
        address when given), bring it up."""
        with IPRoute() as ipr:
            idx = _lookup(ipr, name)
            if idx is None:
                try:
                    ipr.link("add", ifname=name, kind="bridge")
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise
                idx = _lookup(ipr, name)
                log.info("created bridge", extra={"bridge": name})
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                    for a in ipr.get_addr(index=idx, family=2)}
            if gateway and (str(gateway), prefixlen) not in have:
                try:
                    ipr.addr("add", index=idx, address=str(gateway), prefixlen=prefixlen)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise
            if gateway6:
                _enable_ipv6(name)
                _add_v6(ipr, idx, str(gateway6), prefixlen6)
            ipr.link("set", index=idx, state="up")
        set_route_localnet(name)

    def delete_link(self, name):
        """Delete a link (bridge or host-side veth) if it exists."""
        return delete_link(name)

    def host_routes(self):
        """IPv4 destinations routed on the host (to keep new subnets clear of them)."""
        out = []
        with IPRoute() as ipr:
            for r in ipr.get_routes(family=2):
                dst = r.get_attr("RTA_DST")
                if dst and r["dst_len"] > 0:
                    out.append(ipaddress.ip_network("%s/%d" % (dst, r["dst_len"]), strict=False))
        return out

    # endpoints --------------------------------------------------------------
    def add_endpoint(self, bridge, netns_path, ifname, mac, address, prefixlen, gateway=None,
                     address6=None, prefixlen6=0, gateway6=None):
        """A veth pair: host side on `bridge`, peer inside the netns as `ifname` with the
        address (and a default route via `gateway` when given; likewise for IPv6 with
        address6 and gateway6). Returns the host-side name.

        The peer is created in the netns with its final name and MAC: moving a device into a
        namespace afterwards costs ~25 ms of kernel synchronisation, creating it there ~3 ms."""
        with IPRoute() as ipr:
            br = _lookup(ipr, bridge)
            if br is None:
                raise RuntimeError("bridge %s is missing" % bridge)
            for _ in range(5):
                host = "veth" + secrets.token_hex(4)[:7]
                try:
                    ipr.link("add", ifname=host, kind="veth",
                             peer={"ifname": ifname, "address": mac, "net_ns_fd": netns_path})
                    break
                except NetlinkError as exc:
                    if exc.code == errno.EADDRNOTAVAIL:  # e.g. a multicast --mac-address
                        raise InvalidArgument('error setting interface "%s" MAC to "%s": %s'
                                              % (ifname, mac, "cannot assign requested address"))
                    if exc.code != errno.EEXIST or _lookup(ipr, host) is None:
                        raise   # EEXIST for the name inside the netns is a real error
            else:
                raise RuntimeError("could not find a free veth name")
            try:
                ipr.link("set", index=_lookup(ipr, host), master=br, state="up")
            except Exception:
                self.delete_link(host)
                raise
        try:
            v6 = (str(address6), prefixlen6, str(gateway6) if gateway6 else None) \
                if address6 else None
            netns.run_in(netns_path, configure_peer, ifname, str(address), prefixlen,
                         str(gateway) if gateway else None, v6)
        except Exception:
            self.delete_link(host)
            raise
        return host

    def remove_endpoint(self, host_veth, netns_path="", ifname=""):
        """Delete the pair (deleting one end removes both); fall back to the netns side."""
        if host_veth and self.delete_link(host_veth):
            return
        if netns_path and ifname and netns.exists(netns_path):
            netns.run_in(netns_path, _delete_in_ns, ifname)

    def set_default_route(self, netns_path, gateway, ifname, gateway6=None):
        netns.run_in(netns_path, _replace_default, str(gateway), ifname,
                     str(gateway6) if gateway6 else None)


def delete_link(name):
    """Delete a host link by name if it exists; True when one went."""
    with IPRoute() as ipr:
        idx = _lookup(ipr, name)
        if idx is None:
            return False
        try:
            ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise
        return True


def set_route_localnet(bridge):
    """Let DNATed packets from the host's 127.0.0.1 be routed out of this bridge (published
    ports on loopback, Docker's userland-proxy=false mode); firewall.py drops the reverse
    direction (containers reaching the host's loopback)."""
    path = "/proc/sys/net/ipv4/conf/%s/route_localnet" % bridge
    try:
        with open(path, "w") as f:
            f.write("1")
    except OSError as exc:
        log.warning("cannot enable route_localnet on %s: %s", bridge, exc)


def _enable_ipv6(ifname):
    """A link may have IPv6 off (disable_ipv6 inherited from the host's defaults)."""
    path = "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % ifname
    try:
        with open(path) as f:
            if f.read().strip() == "0":
                return
        with open(path, "w") as f:
            f.write("0")
    except OSError as exc:
        log.warning("cannot enable IPv6 on %s: %s", ifname, exc)


def _add_v6(ipr, idx, address, prefixlen):
    try:
        ipr.addr("add", index=idx, address=address, prefixlen=prefixlen, flags=IFA_F_NODAD)
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            raise


def configure_peer(ifname, address, prefixlen, gateway, v6=None):
    """Inside the netns: the addresses, the link up, the default routes. v6: (address,
    prefixlen, gateway or None) or None."""
    with IPRoute() as ipr:
        idx = _lookup(ipr, ifname)
        ipr.addr("add", index=idx, address=address, prefixlen=prefixlen)
        if v6:
            _enable_ipv6(ifname)
            _add_v6(ipr, idx, v6[0], v6[1])
        ipr.link("set", index=idx, state="up")
        if gateway:
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)
        if v6 and v6[2]:
            ipr.route("replace", dst="::/0", gateway=v6[2], oif=idx, family=10)


def _delete_in_ns(ifname):
    with IPRoute() as ipr:
        idx = _lookup(ipr, ifname)
        if idx is not None:
            ipr.link("del", index=idx)


def _replace_default(gateway, ifname, gateway6=None):
    with IPRoute() as ipr:
        idx = _lookup(ipr, ifname)
        if idx is not None:
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)
            if gateway6:
                ipr.route("replace", dst="::/0", gateway=gateway6, oif=idx, family=10)
