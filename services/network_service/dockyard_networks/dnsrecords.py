"""What the embedded DNS server answers (pure: no sockets; dnslib for the wire format).

`build()` turns network.db rows into a `Records` snapshot after every change; the DNS thread only
reads the current snapshot, which the manager swaps whole, so answers follow connect/disconnect
at once. As Docker: only user-defined networks (bridge, macvlan, ipvlan) resolve names; a
container sees the names on the networks it is on (name, alias or short id, optionally suffixed
".<network>").
Names not ours go to the container's --dns servers when it has IPv4 ones (libnetwork's extDNS),
else to the service's upstreams.
"""

import ipaddress
import random

from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A, DNSRecord

from . import container_links, resolvconf

TTL = 600  # Docker's embedded DNS answers with 600 s
FORWARD = "forward"


def is_user_network(net):
    return bool(net) and not net["predefined"]  # user bridge, macvlan and ipvlan networks


def dns_names(container_name, container_id, aliases):
    """Names of an endpoint on a user network (inspect's DNSNames): name, short id, aliases."""
    out = []
    for n in [container_name.lstrip("/"), container_id[:12], *aliases]:
        if n and n not in out:
            out.append(n)
    return out


class Records:
    def __init__(self):
        # container id -> [(network name, {name: [ip, ...]}, {ip: ptr name})] in join order
        self.views = {}
        # container id -> may names not ours go upstream (on a non-internal user network)
        self.forward = {}
        # container id -> [(ip, port)] of its own --dns servers (asked from its netns)
        self.upstreams = {}
        # container ids whose resolv.conf sets ndots: single-label names not ours are not
        # forwarded (libnetwork's NdotsSet), the client goes on with its search domains
        self.ndots = set()
        # container id -> {network name: {link alias: target name}} (`--link` on user networks)
        self.links = {}

    def lookup(self, container_id, qname):
        """Addresses (IPv4 and IPv6) of `qname` as seen by the container, or None when not
        ours."""
        name = qname.rstrip(".").lower()
        nets = self.views.get(container_id, ())
        links = self.links.get(container_id, {})
        tries = [(name, None)]
        for net_name, _, _ in nets:
            suffix = "." + net_name.lower()
            if name.endswith(suffix):
                tries.append((name[:-len(suffix)], net_name))
        for want, only in tries:
            scoped = [(n, table) for n, table, _ in nets if only is None or n == only]
            # A link alias of the container comes first, and hides the name it shadows
            # (libnetwork's sandbox resolveName).
            for net_name, table in scoped:
                target = links.get(net_name, {}).get(want)
                if target is not None and target in table:
                    return list(table[target])
            for net_name, table in scoped:
                if want in table and want not in links.get(net_name, {}):
                    return list(table[want])
        return None

    def reverse(self, container_id, qname):
        """The name of an in-addr.arpa or ip6.arpa query's address on the container's
        networks, or None."""
        ip = _reverse_address(qname.rstrip(".").lower())
        if ip is None:
            return None
        for _, _, ptr in self.views.get(container_id, ()):
            if ip in ptr:
                return ptr[ip]
        return None

    def serves(self, container_id):
        return container_id in self.views


def _reverse_address(name):
    """The address (as network.db spells it) of a reverse-lookup name, or None."""
    try:
        if name.endswith(".in-addr.arpa"):
            parts = name[:-len(".in-addr.arpa")].split(".")
            if len(parts) == 4:
                return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        elif name.endswith(".ip6.arpa"):
            nibbles = name[:-len(".ip6.arpa")].split(".")
            if len(nibbles) == 32 and all(len(n) == 1 for n in nibbles):
                return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    except ValueError:
        pass
    return None


def own_upstreams(dns):
    """A sandbox's --dns servers the embedded DNS forwards to: the IPv4 ones (IPv6 ones stay in
    the container's resolv.conf, as Docker)."""
    out = []
    for ip in dns or ():
        try:
            if ipaddress.ip_address(ip).version == 4:
                out.append((ip, 53))
        except ValueError:
            continue
    return out


def sets_ndots(sb, host_options=()):
    """Does the sandbox's resolv.conf set ndots itself (its --dns-option, else the host's)?"""
    try:
        return resolvconf.ndots_set(sb.get("dns_options") or host_options)
    except ValueError:
        return False  # the container then does not use the embedded DNS at all


def build(networks, endpoints, sandboxes, host_options=()):
    """A Records snapshot from network.db rows (networks, endpoints in join order, sandboxes);
    host_options: the options of the host's resolv.conf."""
    nets = {n["id"]: n for n in networks if is_user_network(n)}
    names = {net_id: {} for net_id in nets}
    ptrs = {net_id: {} for net_id in nets}
    sbs = {s["container_id"]: s for s in sandboxes}
    member, rec_links = {}, {}
    for ep in endpoints:
        net = nets.get(ep["network_id"])
        sb = sbs.get(ep["container_id"])
        if net is None or sb is None or sb["mode"] != "netns" or not ep["ip"]:
            continue
        member.setdefault(ep["container_id"], []).append(net["id"])
        if ep.get("links"):
            aliases = container_links.dns_aliases(ep["links"])
            rec_links.setdefault(ep["container_id"], {})[net["name"]] = aliases
        cname = sb["container_name"].lstrip("/")
        ips = [ip for ip in (ep["ip"], ep.get("ip6")) if ip]
        for n in dns_names(cname, ep["container_id"], ep["aliases"]):
            names[net["id"]].setdefault(n.lower(), []).extend(ips)
        for ip in ips:
            ptrs[net["id"]][ip] = "%s.%s" % (cname or ep["container_id"][:12], net["name"])
    rec = Records()
    rec.links = rec_links
    for cid, net_ids in member.items():
        rec.views[cid] = [(nets[i]["name"], names[i], ptrs[i]) for i in net_ids]
        rec.forward[cid] = any(not nets[i]["internal"] for i in net_ids)
        ups = own_upstreams(sbs[cid].get("dns"))
        if ups:
            rec.upstreams[cid] = ups
        if sets_ndots(sbs[cid], host_options):
            rec.ndots.add(cid)
    return rec


def answer(records, container_id, data, can_forward=False):
    """The reply (bytes) to a query from the container, FORWARD when it should go upstream,
    None to drop it (not a query)."""
    try:
        req = DNSRecord.parse(data)
    except Exception:
        return None
    if req.header.qr:
        return None
    reply = req.reply(ra=1 if can_forward else 0, aa=1)
    if req.header.opcode != 0:
        reply.header.rcode = RCODE.NOTIMP
        return reply.pack()
    if len(req.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
        return reply.pack()
    q = req.q
    qname = str(q.qname)
    if q.qtype == QTYPE.PTR:
        target = records.reverse(container_id, qname)
        if target:
            reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL))
            return reply.pack()
    else:
        ips = records.lookup(container_id, qname)
        if ips is not None:
            random.shuffle(ips)  # round robin between containers sharing an alias
            for ip in ips:
                v6 = ":" in ip
                if q.qtype == QTYPE.ANY or q.qtype == (QTYPE.AAAA if v6 else QTYPE.A):
                    rtype, rdata = (QTYPE.AAAA, AAAA(ip)) if v6 else (QTYPE.A, A(ip))
                    reply.add_answer(RR(q.qname, rtype, rdata=rdata, ttl=TTL))
            return reply.pack()  # others of our names (or AAAA without IPv6): no data
        if (q.qtype in (QTYPE.A, QTYPE.AAAA) and container_id in records.ndots
                and "." not in qname.rstrip(".")):
            return reply.pack()  # NOERROR, no data: the client tries its search domains
    if can_forward and records.forward.get(container_id):
        return FORWARD
    reply.header.rcode = RCODE.NXDOMAIN
    return reply.pack()


def servfail(data):
    """SERVFAIL for a query whose upstream did not answer (None if `data` does not parse)."""
    try:
        reply = DNSRecord.parse(data).reply()
    except Exception:
        return None
    reply.header.rcode = RCODE.SERVFAIL
    return reply.pack()
