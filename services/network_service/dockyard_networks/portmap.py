"""Published ports (`docker run -p`): validation, host port allocation and reservation.

The forwarding itself is kernel NAT (firewall.py). Here we choose host ports and keep them: each
binding holds a bound, never-listening socket on its host address, so no other program can take
the port while the container has it (newer dockerd reserves ports the same way). NAT happens
before the socket lookup, so the held socket never sees a packet.
"""

import ipaddress
import logging
import socket
from dataclasses import dataclass

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

# Docker's ephemeral host port range (portallocator's defaults).
EPHEMERAL_RANGE = (49153, 65535)
PROTOCOLS = ("tcp", "udp")
ANY = "0.0.0.0"


@dataclass(frozen=True)
class Binding:
    protocol: str
    host_ip: str
    host_port: int
    container_port: int

    def key(self):
        return (self.protocol, self.host_ip, self.host_port)

    def as_dict(self):
        return {"protocol": self.protocol, "host_ip": self.host_ip, "host_port": self.host_port,
                "container_port": self.container_port}


def normalise(raw):
    """A Binding from a dict (host_ip, host_port, container_port, protocol); InvalidArgument on
    a bad value. host_ip "" means every IPv4 address (0.0.0.0)."""
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
    if addr.version != 4:
        raise InvalidArgument("IPv6 host addresses are not supported yet: %s" % host_ip)
    return Binding(proto, str(addr), hport, cport)


def overlaps(a, b):
    """Two bindings compete for the same host port (0.0.0.0 covers every address)."""
    return (a.protocol == b.protocol and a.host_port == b.host_port
            and (a.host_ip == b.host_ip or ANY in (a.host_ip, b.host_ip)))


def bind_socket(binding):
    """The reservation socket of a binding (raises OSError when the port is taken)."""
    kind = socket.SOCK_STREAM if binding.protocol == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((binding.host_ip, binding.host_port))
    except OSError:
        s.close()
        raise
    s.set_inheritable(False)
    return s


def _failed(ep_name, ep_id, why):
    return "driver failed programming external connectivity on endpoint %s (%s): %s" % (
        ep_name, ep_id, why)


class PortAllocator:
    """Chooses host ports and holds their reservation sockets. Not thread-safe: the manager
    calls it under its lock."""

    def __init__(self, bind=bind_socket, ephemeral=EPHEMERAL_RANGE):
        self.bind = bind
        self.low, self.high = ephemeral
        self.held = {}                # Binding.key() -> socket
        self._next = {p: self.low for p in PROTOCOLS}  # round robin, as Docker

    def allocate(self, wanted, taken, ep_name, ep_id):
        """Host ports for `wanted` (Bindings, host_port 0 = ephemeral), given the bindings of
        other endpoints in `taken`. Returns the Bindings as published, holding each one; on any
        error nothing stays held."""
        done = []
        try:
            for b in wanted:
                b = self._explicit(b, taken + done, ep_name, ep_id) if b.host_port else \
                    self._ephemeral(b, taken + done, ep_name, ep_id)
                done.append(b)
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
            raise Conflict(_failed(ep_name, ep_id, "Error starting userland proxy: listen %s4 "
                                                   "%s:%d: bind: %s" % (
                                                       b.protocol, b.host_ip, b.host_port,
                                                       _strerror(exc)))) from None
        return b

    def _ephemeral(self, b, taken, ep_name, ep_id):
        span = self.high - self.low + 1
        start = self._next[b.protocol]
        for i in range(span):
            port = self.low + (start - self.low + i) % span
            cand = Binding(b.protocol, b.host_ip, port, b.container_port)
            if any(overlaps(cand, t) for t in taken) or cand.key() in self.held:
                continue
            try:
                self.held[cand.key()] = self.bind(cand)
            except OSError:
                continue  # some other program has it
            self._next[b.protocol] = port + 1 if port < self.high else self.low
            return cand
        raise FailedPrecondition(_failed(ep_name, ep_id, "Bind for %s:0 failed: all ports are "
                                                         "allocated" % b.host_ip))

    def hold(self, b):
        """Take the reservation of a binding again (after a restart of the service)."""
        if b.key() in self.held:
            return True
        try:
            self.held[b.key()] = self.bind(b)
            return True
        except OSError as exc:
            log.warning("cannot reserve published port %s/%s:%d again: %s",
                        b.protocol, b.host_ip, b.host_port, exc)
            return False

    def release(self, bindings):
        for b in bindings:
            s = self.held.pop(b.key(), None)
            if s is not None:
                s.close()

    def release_all(self):
        for s in self.held.values():
            s.close()
        self.held.clear()


def _strerror(exc):
    return (exc.strerror or str(exc)).lower()
