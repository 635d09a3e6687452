"""Published ports (`docker run -p`): validation, host port allocation and reservation.

IPv4 forwarding is kernel NAT (firewall.py). Here we choose host ports and keep them: each IPv4
binding holds a bound, never-listening socket on its host address, so no other program can take
the port while the container has it (newer dockerd reserves ports the same way). NAT happens
before the socket lookup, so the held socket never sees a packet.

IPv6 bindings (a HostIp of "" publishes on [::] too when the host can listen on IPv6, as
Docker 20.10; or an explicit IPv6 HostIp) hold a listening IPV6_V6ONLY socket that the
userland proxy (userproxy.py) serves, forwarding to the container.
"""

import ipaddress
import logging
import socket
from dataclasses import dataclass, field, replace

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

# Docker's ephemeral host port range (portallocator's defaults).
EPHEMERAL_RANGE = (49153, 65535)
PROTOCOLS = ("tcp", "udp")
ANY = "0.0.0.0"
ANY6 = "::"


@dataclass(frozen=True)
class Binding:
    protocol: str
    host_ip: str
    host_port: int
    container_port: int
    # the [::] side of a binding given without HostIp: takes its IPv4 twin's host port
    twin: bool = field(default=False, compare=False)

    @property
    def v6(self):
        return ":" in self.host_ip

    def key(self):
        return (self.protocol, self.host_ip, self.host_port)

    def as_dict(self):
        return {"protocol": self.protocol, "host_ip": self.host_ip, "host_port": self.host_port,
                "container_port": self.container_port}


def normalise(raw):
    """A Binding from a dict (host_ip, host_port, container_port, protocol); InvalidArgument on
    a bad value. host_ip "" means every IPv4 address (0.0.0.0) here (see expand)."""
    proto = (raw.get("protocol") or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument("invalid proto: %s" % proto)
    cport, hport = int(raw.get("container_port") or 0), int(raw.get("host_port") or 0)
    if not 0 < cport <= 65535:
        raise InvalidArgument("invalid containerPort: %s" % cport)
    if not 0 <= hport <= 65535:
        raise InvalidArgument("invalid hostPort: %s" % hport)
    host_ip = raw.get("host_ip") or ANY
    try:
        addr = ipaddress.ip_address(host_ip)
    except ValueError:
        raise InvalidArgument("invalid IP address: %s" % host_ip) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped  # Go's net.ParseIP makes ::ffff:a.b.c.d an IPv4 address
    return Binding(proto, str(addr), hport, cport)


def expand(raws, ipv6):
    """Bindings of the raw dicts: one without host_ip publishes on 0.0.0.0 and, when the host
    has IPv6 (`ipv6`), right after it on [::] with the same host port (Docker 20.10's
    allocatePortsInternal; an explicit 0.0.0.0 stays IPv4 only)."""
    out = []
    for raw in raws:
        b = normalise(raw)
        out.append(b)
        if ipv6 and not raw.get("host_ip"):
            out.append(replace(b, host_ip=ANY6, twin=True))
    return out


def v6_listenable():
    """The host can listen on IPv6 (libnetwork's IsV6Listenable: not booted ipv6.disable=1)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def overlaps(a, b):
    """Two bindings compete for the same host port: 0.0.0.0 covers every IPv4 address; IPv6
    ones compete only on the same address (as Docker's port allocator: [::] against [::1] is
    left to the kernel, which refuses the second bind with Docker's userland proxy error)."""
    if a.protocol != b.protocol or a.host_port != b.host_port or a.v6 != b.v6:
        return False
    return a.host_ip == b.host_ip or (not a.v6 and ANY in (a.host_ip, b.host_ip))


def bind_socket(binding):
    """The reservation socket of a binding (raises OSError when the port is taken). An IPv6 one
    is IPv6-only (0.0.0.0 of the same port is another binding) and a TCP one listens at once:
    it is the userland proxy's, and a listening socket also keeps SO_REUSEADDR binds away."""
    kind = socket.SOCK_STREAM if binding.protocol == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET6 if binding.v6 else socket.AF_INET, kind)
    try:
        if binding.v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_STREAM:
                # as Go's listeners: a restart can bind again while old connections linger
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((binding.host_ip, binding.host_port))
        if binding.v6 and kind == socket.SOCK_STREAM:
            s.listen(socket.SOMAXCONN)
    except OSError:
        s.close()
        raise
    s.set_inheritable(False)
    return s


def _failed(ep_name, ep_id, why):
    return "driver failed programming external connectivity on endpoint %s (%s): %s" % (
        ep_name, ep_id, why)


class PortAllocator:
    """Chooses host ports and holds their reservation sockets; IPv6 ones are handed to the
    userland proxy (`proxy`, a userproxy.UserlandProxy; None: reserved only, as in unit tests).
    `ipv6`: whether a binding without HostIp publishes on [::] too (None: the host decides).
    Not thread-safe: the manager calls it under its lock."""

    def __init__(self, bind=bind_socket, ephemeral=EPHEMERAL_RANGE, proxy=None, ipv6=None):
        self.bind = bind
        self.proxy = proxy
        self.ipv6 = v6_listenable() if ipv6 is None else ipv6
        self.low, self.high = ephemeral
        self.held = {}                # Binding.key() -> socket
        self._next = {p: self.low for p in PROTOCOLS}  # round robin, as Docker

    def allocate(self, wanted, taken, ep_name, ep_id, target=("", "")):
        """Host ports for `wanted` (Bindings, host_port 0 = ephemeral; a twin right after its
        IPv4 binding gets the same port), given the bindings of other endpoints in `taken`.
        `target`: the container's (IPv4, IPv6) addresses, where IPv6 bindings are proxied.
        Returns the Bindings as published, holding each one; on any error nothing stays held."""
        done = []
        try:
            i = 0
            while i < len(wanted):
                group = [wanted[i]]
                while i + len(group) < len(wanted) and wanted[i + len(group)].twin:
                    group.append(wanted[i + len(group)])
                if group[0].host_port:
                    for b in group:
                        done.append(self._explicit(b, taken + done, ep_name, ep_id))
                else:
                    done += self._ephemeral(group, taken + done, ep_name, ep_id)
                i += len(group)
            for b in done:
                self._serve(b, target)
        except BaseException:
            self.release(done)
            raise
        return done

    def _explicit(self, b, taken, ep_name, ep_id):
        if any(overlaps(b, t) for t in taken):
            raise Conflict(_failed(ep_name, ep_id, "Bind for %s:%d failed: port is already "
                                                   "allocated" % (b.host_ip, b.host_port)))
        try:
            self.held[b.key()] = self.bind(b)
        except OSError as exc:
            where = ("%s6 [%s]:%d" if b.v6 else "%s4 %s:%d") % (b.protocol, b.host_ip,
                                                                 b.host_port)
            raise Conflict(_failed(ep_name, ep_id, "Error starting userland proxy: listen %s: "
                                                   "bind: %s" % (where, _strerror(exc)))) from None
        return b

    def _ephemeral(self, group, taken, ep_name, ep_id):
        """One free port for a binding and its twins, every one of them bindable."""
        first = group[0]
        span = self.high - self.low + 1
        start = self._next[first.protocol]
        for i in range(span):
            port = self.low + (start - self.low + i) % span
            cands = [Binding(b.protocol, b.host_ip, port, b.container_port) for b in group]
            if any(overlaps(c, t) for c in cands for t in taken) or \
                    any(c.key() in self.held for c in cands):
                continue
            got = []
            try:
                for c in cands:
                    self.held[c.key()] = self.bind(c)
                    got.append(c)
            except OSError:
                self.release(got)
                continue  # some other program has it
            self._next[first.protocol] = port + 1 if port < self.high else self.low
            return cands
        raise FailedPrecondition(_failed(ep_name, ep_id, "Bind for %s:0 failed: all ports are "
                                                         "allocated" % first.host_ip))

    def _serve(self, b, target):
        """Hand an IPv6 binding's socket to the proxy, towards the container's IPv6 address
        when it has one, else its IPv4 one (Docker 20.10 with the userland proxy)."""
        if not b.v6 or self.proxy is None:
            return
        ip4, ip6 = target
        if not (ip6 or ip4):
            raise FailedPrecondition("no container address to forward %s/[%s]:%d to" % (
                b.protocol, b.host_ip, b.host_port))
        self.proxy.start(b.key(), self.held[b.key()], b.protocol, (ip6 or ip4, b.container_port))

    def hold(self, b, target=("", "")):
        """Take the reservation of a binding again (after a restart of the service); an IPv6
        one is served by the proxy again, towards `target` (see allocate)."""
        if b.key() in self.held:
            return True
        try:
            self.held[b.key()] = self.bind(b)
            self._serve(b, target)
            return True
        except Exception as exc:
            self.release([b])
            log.warning("cannot reserve published port %s/%s:%d again: %s",
                        b.protocol, b.host_ip, b.host_port, exc)
            return False

    def release(self, bindings):
        for b in bindings:
            s = self.held.pop(b.key(), None)
            if s is not None:
                if b.v6 and self.proxy is not None:
                    self.proxy.stop(b.key())  # it owns the socket now: unregister, then close
                s.close()

    def release_all(self):
        self.release([Binding(k[0], k[1], k[2], 0) for k in list(self.held)])


def _strerror(exc):
    return (exc.strerror or str(exc)).lower()
